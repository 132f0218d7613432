"""Request/response projection: a botocore shape and a parsed value in, the CloudTrail JSON form out.

Structure members are renamed by lower-casing their first letter only (``ConnectionInput`` ->
``connectionInput``, ``DBInstanceIdentifier`` -> ``dBInstanceIdentifier``, ``TrailARN`` ->
``trailARN``: real RDS and CloudTrail records show acronyms keep their capitals after the first
letter). Map keys are user data and stay as they are. Members the model marks ``sensitive`` and
rule-listed ``hide`` paths become HIDDEN_DUE_TO_SECURITY_REASONS; ``omit`` paths and
``omit_everywhere`` names, None values and keys the shape does not know are dropped.

Keys keep the order of the value (the order the wire carried them), not the model's: AWS's own
samples do not follow model order (the Glue seed logs subnetId, availabilityZone,
securityGroupIdList; the model declares SecurityGroupIdList second).

A projection is compiled once per (shape, rules) into nested closures, so the per-call work is one
dict lookup per present key; ``projection_for`` memoises the compiled form on the ServiceRules.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from trailkeeper.record.rules import ANY, ServiceRules, parse_path

__all__ = [
    "HIDDEN",
    "Projection",
    "compile_projection",
    "format_timestamp",
    "lower_first",
    "project",
    "projection_for",
]

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"

# A compiled projection: the parsed value in, its record form out (None when nothing remains).
Projection = Callable[[Any], Any]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SCALARS = frozenset({"string", "integer", "long", "float", "double", "boolean"})

_Action = Literal["omit", "hide"]


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def format_timestamp(value: Any) -> Any:
    """A timestamp the way AWS writes it inside request/response bodies: ``Jul 10, 2023, 12:07:59 PM``.

    Seen in real STS ``credentials.expiration`` (2023-2024). Older records of other services
    (IAM ``createDate``) use the pre-JDK-9 form without the comma after the year; which form
    Glue and EMR Serverless use is UNCONFIRMED (no public record carries a timestamp).
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    hour = value.hour % 12 or 12
    half = "AM" if value.hour < 12 else "PM"
    month = _MONTHS[value.month - 1]
    return f"{month} {value.day}, {value.year}, {hour}:{value.minute:02d}:{value.second:02d} {half}"


def _blob(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value  # already text (e.g. base64 as it came off a JSON wire)


def _hidden(value: Any) -> Any:
    return HIDDEN


def _same(value: Any) -> Any:
    return value


@dataclass(slots=True)
class _Node:
    """One step of the omit/hide path trie: an action here, or more steps below."""

    action: _Action | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _trie(omit: Iterable[str], hide: Iterable[str]) -> _Node:
    root = _Node()
    ordered: tuple[tuple[_Action, Iterable[str]], ...] = (("hide", hide), ("omit", omit))
    for action, paths in ordered:  # omit is applied last, so it wins where both name a path
        for path in paths:
            node = root
            for token in parse_path(path):
                node = node.children.setdefault(token, _Node())
            node.action = action
    return root


class _Compiler:
    """Compiles shapes to closures; memoised by (shape name, trie node) so recursive shapes terminate."""

    def __init__(self, omit_everywhere: frozenset[str]) -> None:
        self.omit_everywhere = omit_everywhere
        self.memo: dict[tuple[str, int], Projection] = {}

    def compile(self, shape: Shape, node: _Node | None) -> Projection:
        kind = shape.type_name
        if kind in _SCALARS:
            return _same
        if kind == "timestamp":
            return format_timestamp
        if kind == "blob":
            return _blob
        if getattr(shape, "is_document_type", False):
            return _same  # free-form JSON chosen by the caller: nothing in it is modelled
        key = (shape.name, id(node) if node is not None else 0)
        if (done := self.memo.get(key)) is not None:
            return done
        # A forward reference first, so a shape that contains itself compiles to a loop.
        slot: list[Projection] = []
        self.memo[key] = lambda value: slot[0](value)
        built = self.build(shape, node)
        slot.append(built)
        self.memo[key] = built
        return built

    def build(self, shape: Shape, node: _Node | None) -> Projection:
        if isinstance(shape, StructureShape):
            return self.structure(shape, node)
        inner = node.children.get(ANY) if node is not None else None
        if isinstance(shape, ListShape):
            return _list_of(self.member(shape.member, inner))
        if isinstance(shape, MapShape):
            return _map_of(self.member(shape.value, inner))
        return _same

    def member(self, shape: Shape, node: _Node | None) -> Projection | None:
        """The projection of one member, or None when the member is left out."""
        action = node.action if node is not None else None
        if action == "omit":
            return None
        if action == "hide" or shape.metadata.get("sensitive"):
            return _hidden
        return self.compile(shape, node)

    def structure(self, shape: StructureShape, node: _Node | None) -> Projection:
        table: dict[str, tuple[str, Projection]] = {}
        for name, member_shape in shape.members.items():
            if name in self.omit_everywhere:
                continue
            child = node.children.get(name) if node is not None else None
            if (plan := self.member(member_shape, child)) is not None:
                table[name] = (lower_first(name), plan)
        return _structure_of(table)


def _structure_of(table: Mapping[str, tuple[str, Projection]]) -> Projection:
    def run(value: Any) -> Any:
        if not isinstance(value, Mapping):
            return None
        out: dict[str, Any] = {}
        for key, item in value.items():
            entry = table.get(key)
            if entry is None or item is None:
                continue
            projected = entry[1](item)
            if projected is not None:
                out[entry[0]] = projected
        return out

    return run


def _list_of(element: Projection | None) -> Projection:
    def run(value: Any) -> Any:
        if element is None or not isinstance(value, list | tuple):
            return None
        return [p for p in (element(v) for v in value if v is not None) if p is not None]

    return run


def _map_of(item: Projection | None) -> Projection:
    def run(value: Any) -> Any:
        if item is None or not isinstance(value, Mapping):
            return None
        out: dict[Any, Any] = {}
        for key, v in value.items():
            if v is not None and (p := item(v)) is not None:
                out[key] = p
        return out

    return run


def compile_projection(
    shape: Shape,
    *,
    omit: Iterable[str] = (),
    hide: Iterable[str] = (),
    omit_everywhere: frozenset[str] = frozenset(),
) -> Projection:
    """Compile the projection of values of ``shape`` under these rules (paths relative to ``shape``)."""
    root = _trie(omit, hide)
    compiler = _Compiler(omit_everywhere)
    if shape.metadata.get("sensitive") or root.action == "hide":
        return _hidden
    return compiler.compile(shape, root if root.children else None)


def project(
    shape: Shape,
    value: Any,
    *,
    omit: Iterable[str] = (),
    hide: Iterable[str] = (),
    omit_everywhere: frozenset[str] = frozenset(),
) -> Any:
    """Project one value (uncached; the record builder uses ``projection_for``)."""
    return compile_projection(shape, omit=omit, hide=hide, omit_everywhere=omit_everywhere)(value)


def projection_for(
    rules: ServiceRules, op: OperationModel, direction: Literal["input", "output"]
) -> Projection:
    """The compiled projection of ``op``'s input or output under ``rules``, built on first use."""
    key = (op.name, direction)
    if (plan := rules.plans.get(key)) is not None:
        return plan
    shape = op.input_shape if direction == "input" else op.output_shape
    if shape is None:
        plan = _nothing
    else:
        plan = compile_projection(
            shape,
            # omit/hide paths may name input or output members; one that does not exist in this
            # shape simply never matches.
            omit=rules.omit.get(op.name, ()),
            hide=rules.hide.get(op.name, ()),
            omit_everywhere=rules.omit_everywhere,
        )
    rules.plans[key] = plan
    return plan


def _nothing(value: Any) -> Any:
    return None
