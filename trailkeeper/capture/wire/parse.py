"""Request parameters from the wire: (ServiceEntry, OperationModel, HttpRequest) in, typed params out.

The params are what a boto3 user would have passed: keyed by the input shape's member names,
structures as dicts, timestamps as aware UTC datetimes, blobs as bytes. Bad input raises the
AwsError the service answers (SerializationException for JSON bodies, ValidationError for query).
``validate_required`` then checks the model's constraints the way AWS's validation layer words them.
"""

from __future__ import annotations

import base64
import csv
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from trailkeeper.capture.catalog import ServiceEntry
from trailkeeper.capture.request import HttpRequest
from trailkeeper.capture.wire.decode import (
    JAVA_TYPES,
    MAX_DEPTH,
    decode_value,
    load_json,
    serialization_error,
    time_from_text,
)
from trailkeeper.capture.wire.rest_xml import xml_request_body, xml_request_error
from trailkeeper.capture.wire.routing import query_params, uri_labels
from trailkeeper.errors import AwsError, validation_error

__all__ = ["parse_request", "validate_required"]


def _from_text(shape: Shape, text: str) -> Any:
    """A scalar from its text form; ValueError when the text is not of the shape's type."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        return int(text)
    if kind in ("float", "double"):
        return float(text)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind == "timestamp":
        return time_from_text(text)
    if kind == "blob":
        return base64.b64decode(text, validate=True)
    if shape.serialization.get("jsonvalue"):
        return orjson.loads(base64.b64decode(text, validate=True))
    return text


def _leaf_kind(shape: Shape) -> str:
    return shape.member.type_name if isinstance(shape, ListShape) else shape.type_name


# -- per protocol -------------------------------------------------------------------------------


def _parse_json(entry: ServiceEntry, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
    document = load_json(req.body)
    shape = op.input_shape
    if shape is None:
        return {}
    parsed: dict[str, Any] = decode_value(entry.model, shape, document)
    return parsed


def _rest_body(model: ServiceModel, shape: StructureShape, body: bytes) -> dict[str, Any]:
    payload = shape.serialization.get("payload")
    if payload is None:
        parsed: dict[str, Any] = decode_value(model, shape, load_json(body))
        return parsed
    member = shape.members[payload]
    if not body:
        return {}
    if member.type_name == "blob":
        return {payload: body}
    if member.type_name == "string":
        try:
            return {payload: body.decode("utf-8")}
        except UnicodeDecodeError:
            raise serialization_error("") from None
    return {payload: decode_value(model, member, load_json(body))}


def _split_header(text: str) -> list[str]:
    # botocore quotes list items holding a comma or a double quote and escapes quotes with "\".
    return [item.strip() for item in next(csv.reader([text], skipinitialspace=True, escapechar="\\"))]


@dataclass(frozen=True, slots=True)
class _Located:
    """The request parts REST members are bound to."""

    labels: dict[str, str]  # URI labels, percent-decoded
    query: dict[str, list[str]]  # query string, values grouped by key
    claimed: frozenset[str]  # query keys named by a member (a query-string map takes the rest)
    headers: dict[str, str]


def _located(member: Shape, wire: str, where: str, found: _Located) -> Any:
    """The value of one URI / query string / header member, None when the request has none."""
    if where == "uri":
        text = found.labels.get(wire)
        return None if text is None else _from_text(member, text)
    if where == "querystring":
        query = found.query
        if isinstance(member, MapShape):
            # A map in the query string takes every parameter no other member names.
            rest = {k: v if member.value.type_name == "list" else v[0] for k, v in query.items()}
            return {k: v for k, v in rest.items() if k not in found.claimed} or None
        values = query.get(wire)
        if values is None:
            return None
        if isinstance(member, ListShape):
            return [_from_text(member.member, v) for v in values]
        return _from_text(member, values[0])
    if where == "header":
        text = found.headers.get(wire.lower())
        if text is None:
            return None
        if isinstance(member, ListShape):
            return [_from_text(member.member, v) for v in _split_header(text)]
        return _from_text(member, text)
    if where == "headers":
        prefix = wire.lower()
        return {k[len(prefix) :]: v for k, v in found.headers.items() if k.startswith(prefix)} or None
    return None  # statusCode: a response-only location


_BodyReader = Callable[[ServiceModel, StructureShape, bytes], dict[str, Any]]


def _parse_rest(
    entry: ServiceEntry, op: OperationModel, req: HttpRequest, body: _BodyReader = _rest_body
) -> dict[str, Any]:
    shape = op.input_shape
    if shape is None:
        return {}
    params = body(entry.model, shape, req.body)
    query: dict[str, list[str]] = {}
    for key, value in req.query_pairs():
        query.setdefault(key, []).append(value)
    located = [
        (n, m, m.serialization["location"]) for n, m in shape.members.items() if "location" in m.serialization
    ]
    claimed = frozenset(m.serialization.get("name", n) for n, m, where in located if where == "querystring")
    found = _Located(uri_labels(entry, op, req), query, claimed, req.headers)
    for name, member, where in located:
        try:
            value = _located(member, member.serialization.get("name", name), where, found)
        except (ValueError, csv.Error):
            raise serialization_error(
                f"STRING_VALUE cannot be converted to {JAVA_TYPES.get(_leaf_kind(member))}"
            ) from None
        if value is not None:
            params[name] = value
    return params


class _QueryReader:
    """Rebuilds nested params from flattened ``A.B``, ``List.member.N`` and ``Map.entry.N.key`` keys."""

    __slots__ = ("flat", "present")

    def __init__(self, flat: dict[str, str]) -> None:
        self.flat = flat
        self.present: set[str] = set()  # every key and every dotted prefix of one
        for key in flat:
            self.present.add(key)
            dot = key.find(".")
            while dot != -1:
                self.present.add(key[:dot])
                dot = key.find(".", dot + 1)

    def read(self, shape: Shape, key: str, depth: int) -> Any:
        if depth >= MAX_DEPTH:
            raise validation_error(f"Request nesting exceeds the maximum depth of {MAX_DEPTH}")
        if isinstance(shape, StructureShape):
            return self._structure(shape, key, depth)
        if isinstance(shape, ListShape):
            return self._list(shape, key, depth)
        if isinstance(shape, MapShape):
            return self._map(shape, key, depth)
        text = self.flat.get(key)
        if text is None:
            return None
        try:
            return _from_text(shape, text)
        except ValueError:
            # UNCONFIRMED wording: AWS's text for an unreadable query value is not documented.
            raise validation_error(
                f"Value '{text}' at '{key}' cannot be converted to {JAVA_TYPES[shape.type_name]}"
            ) from None

    def _structure(self, shape: StructureShape, key: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            member_key = f"{key}.{wire}" if key else wire
            if member_key in self.present and (value := self.read(member, member_key, depth + 1)) is not None:
                out[name] = value
        return out

    def _list(self, shape: ListShape, key: str, depth: int) -> list[Any]:
        if self.flat.get(key) == "":
            return []  # botocore sends an empty list as "Key="
        item_name = shape.member.serialization.get("name")
        if shape.serialization.get("flattened"):
            base = ".".join([*key.split(".")[:-1], item_name]) if item_name else key
        else:
            base = f"{key}.{item_name or 'member'}"
        items: list[Any] = []
        while f"{base}.{len(items) + 1}" in self.present:
            items.append(self.read(shape.member, f"{base}.{len(items) + 1}", depth + 1))
        return items

    def _map(self, shape: MapShape, key: str, depth: int) -> dict[str, Any]:
        base = key if shape.serialization.get("flattened") else f"{key}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out: dict[str, Any] = {}
        index = 1
        while f"{base}.{index}" in self.present:
            map_key = self.flat.get(f"{base}.{index}.{key_name}")
            if map_key is not None:
                out[map_key] = self.read(shape.value, f"{base}.{index}.{value_name}", depth + 1)
            index += 1
        return out


def _parse_query(entry: ServiceEntry, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
    shape = op.input_shape
    if shape is None:
        return {}
    return _QueryReader(query_params(req))._structure(shape, "", 0)


def _parse_rest_xml(entry: ServiceEntry, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
    try:
        return _parse_rest(entry, op, req, xml_request_body)
    except AwsError as err:
        raise xml_request_error(err) from None


_PARSERS: dict[str, Callable[[ServiceEntry, OperationModel, HttpRequest], dict[str, Any]]] = {
    "json": _parse_json,
    "rest-json": _parse_rest,
    "query": _parse_query,
    "rest-xml": _parse_rest_xml,
}


def parse_request(entry: ServiceEntry, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
    """The call's input as typed values keyed by member name; AwsError when the wire form is bad."""
    parser = _PARSERS.get(entry.protocol)
    if parser is None:
        raise ValueError(f"no request parser for the {entry.protocol} protocol")
    return parser(entry, op, req)


# -- constraints ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _pattern(source: str) -> re.Pattern[str] | None:
    # Model patterns are Java regexes; ASCII mode gives Java's ASCII-only \w and \d. Patterns Python
    # cannot compile (\p{L} classes, surrogate ranges) are not checked.
    try:
        return re.compile(source, re.ASCII)
    except re.error:
        return None


def _violations(shape: Shape, value: Any) -> list[str]:
    """The constraints ``value`` breaks, in the words of AWS's validation messages."""
    meta, kind, out = shape.metadata, shape.type_name, []
    if kind == "string" and isinstance(value, str) and "pattern" in meta:
        compiled = _pattern(meta["pattern"])
        if compiled is not None and compiled.fullmatch(value) is None:
            out.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    sized = kind in ("string", "blob", "list", "map") and isinstance(value, str | bytes | list | dict)
    numeric = kind in ("integer", "long", "float", "double") and isinstance(value, int | float)
    if sized or numeric:
        measure, noun = (len(value), "length") if sized else (value, "value")
        if "min" in meta and measure < meta["min"]:
            out.append(f"Member must have {noun} greater than or equal to {meta['min']}")
        if "max" in meta and measure > meta["max"]:
            out.append(f"Member must have {noun} less than or equal to {meta['max']}")
    if kind == "string" and meta.get("enum") and value not in meta["enum"]:
        out.append(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
    return out


def _shown(value: Any) -> str:
    """A value as Java's toString would print it inside an AWS validation message."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_shown(v)}" for k, v in value.items()) + "}"
    return str(value)


class _Checker:
    """Walks params along the input shape, collecting AWS-worded validation problems."""

    __slots__ = ("limits", "problems")

    def __init__(self, limits: bool) -> None:
        self.limits = limits
        self.problems: list[str] = []

    def value(self, shape: Shape, value: Any, at: str, depth: int) -> None:
        if self.limits and (violations := _violations(shape, value)):
            # Sensitive values are left out of the message, as AWS leaves them out.
            sensitive = shape.metadata.get("sensitive")
            subject = f"Value at '{at}'" if sensitive else f"Value '{_shown(value)}' at '{at}'"
            self.problems.extend(f"{subject} failed to satisfy constraint: {v}" for v in violations)
        if depth >= MAX_DEPTH:
            return
        if isinstance(shape, StructureShape) and isinstance(value, dict) and not shape.is_document_type:
            self.members(shape, value, f"{at}.", depth + 1)
        elif isinstance(shape, ListShape) and isinstance(value, list):
            for index, item in enumerate(value, 1):
                if item is not None:
                    self.value(shape.member, item, f"{at}.{index}.member", depth + 1)
        # Map keys and values are not checked: no operation we serve constrains them.

    def members(self, shape: StructureShape, value: dict[str, Any], prefix: str, depth: int) -> None:
        required = shape.required_members
        for name, member in shape.members.items():
            at = f"{prefix}{name[:1].lower()}{name[1:]}"  # AWS names members lowerCamel in messages
            item = value.get(name)
            if item is not None:
                self.value(member, item, at, depth)
            elif name in required:
                self.problems.append(
                    f"Value null at '{at}' failed to satisfy constraint: Member must not be null"
                )


def validate_required(op: OperationModel, params: dict[str, Any], *, constraints: bool = True) -> None:
    """Raise AWS's ``N validation error(s) detected: …`` for missing required members and, unless
    ``constraints`` is False, for values outside the model's length, range, enum and pattern limits.

    Some services answer out-of-range values with errors of their own (CloudTrail LookupEvents:
    InvalidMaxResultsException); their callers pass ``constraints=False``.
    """
    shape = op.input_shape
    if shape is None:
        return
    checker = _Checker(constraints)
    checker.members(shape, params, "", 0)
    if problems := checker.problems:
        noun = "validation error" if len(problems) == 1 else "validation errors"
        raise validation_error(f"{len(problems)} {noun} detected: {'; '.join(problems)}")
