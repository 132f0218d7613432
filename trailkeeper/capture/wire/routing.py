"""Which operation a request calls: (ServiceEntry, HttpRequest) in, OperationModel out, or an AwsError.

Each protocol names the operation differently: ``X-Amz-Target`` (json), method + path against the
model's ``requestUri`` templates (rest-json, rest-xml), ``Action`` + ``Version`` (query). The lookup
tables are built once per ServiceModel and kept for as long as the model lives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus
from weakref import WeakKeyDictionary

from botocore.model import OperationModel, ServiceModel

from trailkeeper.capture.catalog import ServiceEntry
from trailkeeper.capture.request import HttpRequest
from trailkeeper.errors import AwsError

__all__ = ["query_params", "resolve_operation", "uri_labels"]

# What AWS's query front door (probed against STS) writes when the request has no Version.
NO_VERSION = "NO_VERSION_SPECIFIED"

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True, slots=True)
class _Route:
    """One operation's ``requestUri`` compiled: a path regex plus literal query requirements."""

    operation: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]  # regex group i+1 holds the label labels[i]
    query: tuple[tuple[str, str | None], ...]  # (key, required value or None = key must be present)
    rank: tuple[int, int, int, int]  # more specific routes are tried first
    # Required query-string keys and headers. Operations may share a method and path (S3: PutObject,
    # CopyObject, UploadPart); the server tells them apart by what the request carries.
    needs: tuple[tuple[str, str], ...] = ()


class _Index:
    """Per-model lookup tables; the REST router is built on first use, for REST protocols only."""

    # No reference back to the model: it is the weak key these tables are filed under.
    __slots__ = ("names", "rest")

    def __init__(self, model: ServiceModel) -> None:
        self.names = frozenset(model.operation_names)
        self.rest: tuple[dict[str, list[_Route]], dict[str, _Route]] | None = None

    def router(self, model: ServiceModel) -> tuple[dict[str, list[_Route]], dict[str, _Route]]:
        """Routes by HTTP method (most specific first) and by operation name."""
        if self.rest is None:
            by_method: dict[str, list[_Route]] = {}
            by_name: dict[str, _Route] = {}
            for name in model.operation_names:
                op = model.operation_model(name)
                by_name[name] = route = _compile(name, op.http.get("requestUri", "/"), _needs(op))
                by_method.setdefault(op.http.get("method", "POST").upper(), []).append(route)
            for routes in by_method.values():
                routes.sort(key=lambda r: r.rank, reverse=True)
            self.rest = (by_method, by_name)  # published whole: readers never see a partial router
        return self.rest


_INDEXES: WeakKeyDictionary[ServiceModel, _Index] = WeakKeyDictionary()


def _index(model: ServiceModel) -> _Index:
    index = _INDEXES.get(model)
    if index is None:
        index = _INDEXES[model] = _Index(model)
    return index


def _needs(op: OperationModel) -> tuple[tuple[str, str], ...]:
    """("querystring", key) / ("header", lower-case name) of the input's required located members."""
    shape = op.input_shape
    if shape is None:
        return ()
    found = []
    for member_name in shape.required_members:
        member = shape.members[member_name]
        where = member.serialization.get("location")
        if where in ("querystring", "header"):
            wire = member.serialization.get("name", member_name)
            found.append((where, wire.lower() if where == "header" else wire))
    return tuple(found)


def _compile(name: str, request_uri: str, needs: tuple[tuple[str, str], ...] = ()) -> _Route:
    path, _, literal_query = request_uri.partition("?")
    parts: list[str] = []
    labels: list[str] = []
    literal_chars = greedy = pos = 0
    for label in _LABEL.finditer(path):
        literal = path[pos : label.start()]
        parts.append(re.escape(literal))
        literal_chars += len(literal)
        label_name = label.group(1)
        greedy += label_name.endswith("+")
        parts.append("(.+)" if label_name.endswith("+") else "([^/]+)")
        labels.append(label_name.rstrip("+"))
        pos = label.end()
    parts.append(re.escape(path[pos:]))
    literal_chars += len(path) - pos
    query = tuple(
        (key, value if sep else None)
        for key, sep, value in (item.partition("=") for item in literal_query.split("&") if item)
    )
    rank = (len(query), literal_chars, -greedy, len(needs))
    return _Route(name, re.compile("".join(parts)), tuple(labels), query, rank, needs)


def _unknown_operation(status: int) -> AwsError:
    # AWS's front door answers {"__type": "...#UnknownOperationException"} with no message at all.
    return AwsError("UnknownOperationException", "", status)


def _resolve_json(entry: ServiceEntry, req: HttpRequest) -> OperationModel:
    if req.method.upper() != "POST":
        # UNCONFIRMED: a JSON endpoint reached with another verb has no route; 404 like REST.
        raise _unknown_operation(404)
    prefix, _, name = req.header("x-amz-target").rpartition(".")
    if prefix != entry.model.metadata.get("targetPrefix") or name not in _index(entry.model).names:
        raise _unknown_operation(400)
    return entry.model.operation_model(name)


def _match_route(entry: ServiceEntry, req: HttpRequest) -> tuple[_Route, re.Match[str]] | None:
    routes = _index(entry.model).router(entry.model)[0].get(req.method.upper(), [])
    query: dict[str, str] | None = None
    fallback: tuple[_Route, re.Match[str]] | None = None
    for route in routes:
        found = route.pattern.fullmatch(req.path)
        if found is None:
            continue
        if route.query or route.needs:
            query = query if query is not None else dict(reversed(req.query_pairs()))
            if not all(key in query and (want is None or query[key] == want) for key, want in route.query):
                continue
            sent = (wire in (query if at == "querystring" else req.headers) for at, wire in route.needs)
            if not all(sent):
                # Missing a required member, the request still names this operation when no other
                # route fits, and is answered with the validation error for that member.
                fallback = fallback or (route, found)
                continue
        return route, found
    return fallback


def _resolve_rest(entry: ServiceEntry, req: HttpRequest) -> OperationModel:
    matched = _match_route(entry, req)
    if matched is None:
        raise _unknown_operation(404)
    return entry.model.operation_model(matched[0].operation)


def _form_pairs(text: str) -> list[tuple[str, str]]:
    # parse_qsl's semantics (keep blanks, "+" is a space), minus its cost on the common unescaped case.
    pairs = []
    for item in text.split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((_unescape(key), _unescape(value)))
    return pairs


def _unescape(text: str) -> str:
    return unquote_plus(text) if "%" in text or "+" in text else text


def query_params(req: HttpRequest) -> dict[str, str]:
    """The flat parameters of a query-protocol call: query string, then form body; the first value wins."""
    params: dict[str, str] = {}
    pairs = _form_pairs(req.query)
    if req.body:
        pairs += _form_pairs(req.body.decode("utf-8", "replace"))
    for key, value in pairs:
        params.setdefault(key, value)
    return params


def _resolve_query(entry: ServiceEntry, req: HttpRequest) -> OperationModel:
    params = query_params(req)
    # A missing Action is read as an empty one; UNCONFIRMED: AWS STS redirects that case to a web page.
    action = params.get("Action", "")
    version = params.get("Version", NO_VERSION)
    if version != entry.model.api_version or action not in _index(entry.model).names:
        raise AwsError("InvalidAction", f"Could not find operation {action} for version {version}", 400)
    return entry.model.operation_model(action)


_RESOLVERS: dict[str, Callable[[ServiceEntry, HttpRequest], OperationModel]] = {
    "json": _resolve_json,
    "rest-json": _resolve_rest,
    "rest-xml": _resolve_rest,
    "query": _resolve_query,
}


def resolve_operation(entry: ServiceEntry, req: HttpRequest) -> OperationModel:
    """The operation this request calls; AwsError (UnknownOperationException, InvalidAction) when none."""
    return _RESOLVERS[entry.protocol](entry, req)


def uri_labels(entry: ServiceEntry, op: OperationModel, req: HttpRequest) -> dict[str, str]:
    """The percent-decoded ``{label}`` values of the request path under ``op``'s requestUri."""
    route = _index(entry.model).router(entry.model)[1][op.name]
    found = route.pattern.fullmatch(req.path)
    if found is None:
        return {}
    return {label: unquote(value) for label, value in zip(route.labels, found.groups(), strict=True)}
