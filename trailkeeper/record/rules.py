"""Per-service CloudTrail facts the botocore model cannot say: rules/<service>.toml in, ServiceRules out.

Every operation name and member path in a rules file is checked against the botocore model when it
is loaded, so a typo or a botocore upgrade that renames a member fails at start, naming the file and
the entry, instead of silently recording a secret. The file format is described in
trailkeeper/rules/README.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from trailkeeper.errors import RulesError

__all__ = [
    "ANY",
    "ResourceRule",
    "ServiceRules",
    "TemplatePart",
    "load_rules",
    "parse_path",
    "rules_from_toml",
    "split_source",
]

# The path token that steps into every element of a list (or every value of a map).
ANY = "[*]"

# Placeholders an ARN template may use besides request.*/response.* paths.
_CONTEXT_FIELDS = frozenset({"partition", "region", "account", "name"})
_TOP_KEYS = frozenset({"service", "operations", "omit", "hide", "arns", "resources", "request_form"})
_OPERATION_KEYS = frozenset({"read_only", "write", "null_response", "data_events", "unmodeled"})
_RESOURCE_KEYS = frozenset({"type", "name", "arn", "in_record"})
_OMIT_EVERYWHERE = "everywhere"

Source = Literal["request", "response"]


@dataclass(frozen=True, slots=True)
class TemplatePart:
    """One piece of a compiled ARN template: literal text, then the placeholder that follows it.

    ``placeholder`` is "" (none), a context field (partition, region, account, name) or a
    request./response. path, pre-split into ``source`` and ``steps``.
    """

    literal: str
    placeholder: str = ""
    source: Source | None = None
    steps: tuple[str, ...] = ()


def parse_path(path: str) -> tuple[str, ...]:
    """``"Entries[*].Values"`` -> ``("Entries", "[*]", "Values")``: the one path syntax used everywhere."""
    tokens: list[str] = []
    for step in path.split("."):
        name = step.removesuffix(ANY)
        if not name or ANY in name or "[" in name or "]" in name:
            raise ValueError(f"bad path step {step!r} in {path!r}")
        tokens.append(name)
        if step.endswith(ANY):
            tokens.append(ANY)
    return tuple(tokens)


def split_source(path: str) -> tuple[Source, tuple[str, ...]]:
    """``"request.A.B"`` -> ``("request", ("A", "B"))``; ValueError for anything else."""
    source, _, rest = path.partition(".")
    if rest and source == "request":
        return "request", parse_path(rest)
    if rest and source == "response":
        return "response", parse_path(rest)
    raise ValueError(f"path {path!r} must start with request. or response.")


def _part(literal: str, placeholder: str) -> TemplatePart:
    if not placeholder or placeholder in _CONTEXT_FIELDS:
        return TemplatePart(literal, placeholder)
    source, steps = split_source(placeholder)
    return TemplatePart(literal, placeholder, source, steps)


def _compile_template(template: str) -> tuple[TemplatePart, ...]:
    """``"a:{region}:b/{name}"`` -> parts ``a:`` + region, ``:b/`` + name; braces only delimit fields."""
    parts: list[TemplatePart] = []
    rest = template
    while rest:
        start = rest.find("{")
        if start < 0:
            parts.append(TemplatePart(rest))
            break
        end = rest.find("}", start)
        if end < 0 or "}" in rest[:start]:
            raise ValueError(f"unbalanced braces in ARN template {template!r}")
        parts.append(_part(rest[:start], rest[start + 1 : end]))
        rest = rest[end + 1 :]
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class ResourceRule:
    """How to name one resource a call acts on (CloudTrail ``resources[]``).

    ``name_path`` starts with ``request.`` or ``response.``; ``[*]`` yields one resource per list
    element. A value that already is an ARN is used as the ARN (its last ``/`` segment is the
    short name); otherwise ``arn`` is rendered with {partition} {region} {account} {name} and any
    {request.X} / {response.X} path. An empty ``arn`` means "the value must be an ARN".
    """

    type: str  # "AWS::Glue::Database"
    name_path: str  # "request.DatabaseInput.Name" | "response.applicationId" | "request.Names[*]"
    arn: str  # template: "arn:{partition}:glue:{region}:{account}:database/{name}"
    # False: looked up by LookupEvents (ResourceType/ResourceName) but not written to resources[],
    # for services whose real records carry no resources array (CloudTrail's own API).
    in_record: bool = True
    source: Source = field(init=False, default="request")
    steps: tuple[str, ...] = field(init=False, default=())
    template: tuple[TemplatePart, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        # Parsed once here so the per-call resolver never re-parses strings.
        source, steps = split_source(self.name_path)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "template", _compile_template(self.arn))


@dataclass(frozen=True, slots=True)
class ServiceRules:
    service: str
    event_source: str  # "glue.amazonaws.com"
    read_only: frozenset[str]  # operation names classified read-only
    null_response: frozenset[str]  # operations whose responseElements are logged as null
    omit: Mapping[str, frozenset[str]]  # op -> member paths left out of the record entirely
    omit_everywhere: frozenset[str]  # member names left out in every operation (ConnectionProperties)
    hide: Mapping[str, frozenset[str]]  # op -> member paths written as HIDDEN_DUE_TO_SECURITY_REASONS
    resources: Mapping[str, tuple[ResourceRule, ...]]
    data_events: frozenset[str]  # operations recorded as Data events (managementEvent false)
    write: frozenset[str] = frozenset()  # operations classified as writes, listed so none is forgotten
    unmodeled: frozenset[str] = frozenset()  # names AWS documents that the botocore model lacks
    source: str = ""  # the rules file this came from, for messages
    # False where the service answers bad input with its own exceptions rather than the model's
    # generic ValidationException (CloudTrail: InvalidMaxResultsException, ...).
    model_constraints: bool = True
    # [request_form] uri: requestParameters as S3 writes them, from the request's URI labels (renamed
    # by this map), query-string members and sub-resource flags by their wire names, and Host.
    # None: the model's members, first letter lower-cased (every JSON and query service).
    uri_labels: Mapping[str, str] | None = None

    def needs_response(self, operation: str) -> bool:
        """Whether a successful call's record uses its output (so the answer must be parsed)."""
        if operation not in self.null_response:
            return True
        rules = self.resources.get(operation, ())
        return any(rule.source == "response" or "{response." in rule.arn for rule in rules)

    # Compiled projections per (operation, "input"/"output"): a memo owned by these rules, filled by
    # trailkeeper.record.project on first use; never part of equality.
    plans: dict[tuple[str, str], Callable[[Any], Any]] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )


def load_rules(service: str, model: ServiceModel) -> ServiceRules:
    """Read ``trailkeeper/rules/<service>.toml`` and check it against ``model``; raise RulesError."""
    name = f"{service}.toml"
    try:
        text = resources.files("trailkeeper.rules").joinpath(name).read_text("utf-8")
    except FileNotFoundError as exc:
        raise RulesError(f"{name}: no rules file for service {service!r}") from exc
    return rules_from_toml(text, model, service=service, source=name)


def rules_from_toml(text: str, model: ServiceModel, *, service: str, source: str) -> ServiceRules:
    """Parse one rules document and check every name in it against ``model``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from exc
    return _Checker(model, source).rules(raw, service)


class _Checker:
    """Turns the parsed TOML into ServiceRules, raising RulesError that names file and entry."""

    def __init__(self, model: ServiceModel, source: str) -> None:
        self.model = model
        self.source = source
        self.ops = frozenset(model.operation_names)

    def fail(self, entry: str, problem: str) -> RulesError:
        return RulesError(f"{self.source}: [{entry}] {problem}")

    def rules(self, raw: Mapping[str, Any], service: str) -> ServiceRules:
        self.no_unknown_keys("top level", raw, _TOP_KEYS)
        service_table = self.table(raw, "service")
        self.no_unknown_keys("service", service_table, frozenset({"event_source", "model_constraints"}))
        event_source = service_table.get("event_source")
        if not isinstance(event_source, str) or not event_source:
            raise self.fail("service", "event_source must be a non-empty string")
        model_constraints = service_table.get("model_constraints", True)
        if not isinstance(model_constraints, bool):
            raise self.fail("service", "model_constraints must be true or false")
        ops = self.table(raw, "operations")
        self.no_unknown_keys("operations", ops, _OPERATION_KEYS)
        unmodeled = self.unmodeled(ops)
        read_only = self.op_list("operations", "read_only", ops.get("read_only", []), unmodeled)
        write = self.op_list("operations", "write", ops.get("write", []), unmodeled)
        if both := read_only & write:
            raise self.fail("operations", f"both read_only and write: {sorted(both)}")
        null_spec = ops.get("null_response", [])
        null_response = (
            read_only
            if null_spec == "@read_only"
            else self.op_list("operations", "null_response", null_spec, unmodeled)
        )
        omit_table = dict(self.table(raw, "omit"))
        everywhere = self.omit_everywhere(omit_table.pop(_OMIT_EVERYWHERE, []))
        return ServiceRules(
            service=service,
            event_source=event_source,
            read_only=read_only,
            null_response=null_response,
            omit=self.path_table("omit", omit_table),
            omit_everywhere=everywhere,
            hide=self.path_table("hide", self.table(raw, "hide")),
            resources=self.resources(self.table(raw, "resources"), self.arns(self.table(raw, "arns"))),
            data_events=self.op_list("operations", "data_events", ops.get("data_events", []), frozenset()),
            write=write,
            model_constraints=model_constraints,
            uri_labels=self.request_form(self.table(raw, "request_form")),
            unmodeled=unmodeled,
            source=self.source,
        )

    # -- generic shape checks -------------------------------------------------------------

    def table(self, raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def no_unknown_keys(self, entry: str, table: Mapping[str, Any], allowed: frozenset[str]) -> None:
        if unknown := sorted(set(table) - allowed):
            raise self.fail(entry, f"unknown keys {unknown}; allowed: {sorted(allowed)}")

    def strings(self, entry: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(entry, "must be a list of strings")
        return value

    def op_list(self, entry: str, key: str, value: Any, unmodeled: frozenset[str]) -> frozenset[str]:
        # Names the installed model lacks are operations botocore renamed or retired (the file
        # covers a range of botocore releases): they can never be routed, so they are dropped.
        # The opposite drift, a modeled operation left unclassified, is what the tests catch.
        names = self.strings(f"{entry}.{key}", value)
        return frozenset(names) & (self.ops | unmodeled)

    def unmodeled(self, ops: Mapping[str, Any]) -> frozenset[str]:
        # Operations the service has but this botocore release does not model; once a release
        # models one, the model's shape wins and it is classified like any other operation.
        return frozenset(self.strings("operations.unmodeled", ops.get("unmodeled", []))) - self.ops

    def operation(self, entry: str, name: str) -> OperationModel:
        if name not in self.ops:
            raise self.fail(entry, f"{name!r} is not a {self.model.service_name} operation")
        return self.model.operation_model(name)

    # -- member paths ----------------------------------------------------------------------

    def omit_everywhere(self, value: Any) -> frozenset[str]:
        names = frozenset(self.strings(f"omit.{_OMIT_EVERYWHERE}", value))
        members = _all_member_names(self.model)
        if unknown := sorted(names - members):
            raise self.fail(f"omit.{_OMIT_EVERYWHERE}", f"no structure in the model has members {unknown}")
        return names

    def path_table(self, kind: str, table: Mapping[str, Any]) -> Mapping[str, frozenset[str]]:
        result: dict[str, frozenset[str]] = {}
        for op_name, paths in table.items():
            entry = f"{kind}.{op_name}"
            op = self.operation(entry, op_name)
            for path in self.strings(entry, paths):
                self.io_path(entry, op, path)
            result[op_name] = frozenset(paths)
        return result

    def io_path(self, entry: str, op: OperationModel, path: str) -> None:
        """An omit/hide path must exist in the operation's input or output shape."""
        tokens = self.tokens(entry, path)
        problems = []
        for shape in (op.input_shape, op.output_shape):
            problem = _resolve(shape, tokens)
            if problem is None:
                return
            problems.append(problem)
        raise self.fail(entry, f"path {path!r}: {'; '.join(problems)}")

    def tokens(self, entry: str, path: str) -> tuple[str, ...]:
        try:
            return parse_path(path)
        except ValueError as exc:
            raise self.fail(entry, str(exc)) from exc

    def source_path(self, entry: str, op: OperationModel, path: str) -> None:
        """A ``request.X`` / ``response.X`` path must exist in the input / output shape."""
        try:
            source, steps = split_source(path)
        except ValueError as exc:
            raise self.fail(entry, str(exc)) from exc
        shape = op.input_shape if source == "request" else op.output_shape
        if (problem := _resolve(shape, steps)) is not None:
            raise self.fail(entry, f"path {path!r}: {problem}")

    # -- resources -------------------------------------------------------------------------

    def request_form(self, table: Mapping[str, Any]) -> Mapping[str, str] | None:
        if not table:
            return None
        self.no_unknown_keys("request_form", table, frozenset({"style", "labels"}))
        if table.get("style") != "uri":
            raise self.fail("request_form", 'style must be "uri"')
        labels = table.get("labels", {})
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise self.fail("request_form", "labels must map member names to record names")
        return dict(labels)

    def arns(self, table: Mapping[str, Any]) -> Mapping[str, str]:
        """Default ARN template per resource type (checked per use, against each operation)."""
        for type_name, template in table.items():
            if not isinstance(template, str) or not template:
                raise self.fail(f"arns.{type_name}", "must be a non-empty ARN template string")
        return table

    def resources(
        self, table: Mapping[str, Any], arns: Mapping[str, str]
    ) -> Mapping[str, tuple[ResourceRule, ...]]:
        result: dict[str, tuple[ResourceRule, ...]] = {}
        for op_name, entries in table.items():
            op = self.operation(f"resources.{op_name}", op_name)
            if not isinstance(entries, list) or not entries:
                raise self.fail(f"resources.{op_name}", "must be an array of tables")
            result[op_name] = tuple(
                self.resource(f"resources.{op_name}#{i}", op, e, arns) for i, e in enumerate(entries, 1)
            )
        return result

    def resource(self, entry: str, op: OperationModel, raw: Any, arns: Mapping[str, str]) -> ResourceRule:
        if not isinstance(raw, dict):
            raise self.fail(entry, "must be a table")
        self.no_unknown_keys(entry, raw, _RESOURCE_KEYS)
        values = {key: raw.get(key, "") for key in ("type", "name", "arn")}
        if not all(isinstance(v, str) for v in values.values()) or not values["type"] or not values["name"]:
            raise self.fail(entry, "needs string keys type and name (and optionally arn)")
        in_record = raw.get("in_record", True)
        if not isinstance(in_record, bool):
            raise self.fail(entry, "in_record must be true or false")
        self.source_path(entry, op, values["name"])
        try:
            rule = ResourceRule(
                type=values["type"],
                name_path=values["name"],
                arn=values["arn"] or arns.get(values["type"], ""),
                in_record=in_record,
            )
        except ValueError as exc:
            raise self.fail(entry, str(exc)) from exc
        for part in rule.template:
            if part.source is not None:
                self.source_path(entry, op, part.placeholder)
        return rule


def _resolve(shape: Shape | None, tokens: Iterable[str]) -> str | None:
    """Walk ``tokens`` through ``shape``; None if the path exists, else what is wrong."""
    if shape is None:
        return "the operation has no such shape"
    for token in tokens:
        if token == ANY:
            if isinstance(shape, ListShape):
                shape = shape.member
            elif isinstance(shape, MapShape):
                shape = shape.value
            else:
                return f"{shape.name} is a {shape.type_name}, not a list or map"
        elif not isinstance(shape, StructureShape) or token not in shape.members:
            return f"{shape.name} has no member {token!r}"
        else:
            shape = shape.members[token]
    return None


def _all_member_names(model: ServiceModel) -> frozenset[str]:
    names: set[str] = set()
    for shape_name in model.shape_names:
        shape = model.shape_for(shape_name)
        if isinstance(shape, StructureShape):
            names.update(shape.members)
    return frozenset(names)
