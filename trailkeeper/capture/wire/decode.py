"""JSON bodies to typed values: (ServiceModel, Shape, parsed JSON) in, boto3-style params out.

One decoder node per shape, built once per model: structures drop unknown members and nulls,
timestamps become aware UTC datetimes, blobs bytes; a value of the wrong JSON kind raises the
SerializationException AWS's JSON services answer, worded as they word it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from trailkeeper.errors import AwsError

__all__ = ["JAVA_TYPES", "MAX_DEPTH", "decode_value", "load_json", "serialization_error", "time_from_text"]

# Deeper input than this is refused: no AWS shape nests this far, and it bounds our recursion.
MAX_DEPTH = 64

# Java type names as AWS's (Java) deserializer names them in SerializationException messages.
JAVA_TYPES = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "boolean": "Boolean",
    "float": "Float",
    "double": "Double",
    "timestamp": "Date",
    "blob": "ByteBuffer",
}
_INT_BOUNDS = {"integer": 2**31, "long": 2**63}
_FLOAT_WORDS = frozenset({"NaN", "Infinity", "-Infinity"})


def serialization_error(message: str) -> AwsError:
    return AwsError("SerializationException", message, 400)


def _token(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE_VALUE" if value else "FALSE_VALUE"
    if isinstance(value, int):
        return "NUMBER_VALUE"
    return "DECIMAL_VALUE" if isinstance(value, float) else "STRING_VALUE"


def _misplaced(value: Any, kind: str) -> AwsError:
    """A JSON value of the wrong kind, worded as AWS's JSON services word it (observed on DynamoDB)."""
    if isinstance(value, dict):
        return serialization_error("Start of structure or map found where not expected")
    if isinstance(value, list):
        return serialization_error("Start of list found where not expected")
    if kind in JAVA_TYPES:
        return serialization_error(f"{_token(value)} cannot be converted to {JAVA_TYPES[kind]}")
    return serialization_error("Unexpected field type")


def _too_deep() -> AwsError:
    # UNCONFIRMED wording: AWS's limit and message for absurd nesting are not documented.
    return serialization_error(f"Request nesting exceeds the maximum depth of {MAX_DEPTH}")


# -- timestamps and text values (URI labels, query strings, headers, query-protocol params) ----


def _epoch(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(str(exc)) from exc


def time_from_text(text: str) -> datetime:
    """Epoch seconds, ISO 8601 or RFC 822: whichever the member's format is, read leniently."""
    try:
        return _epoch(float(text))
    except ValueError:
        pass
    try:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = parsedate_to_datetime(text)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (TypeError, IndexError, OverflowError) as exc:  # parsedate's odd failures, years out of range
        raise ValueError(text) from exc


# -- JSON bodies: one decoder node per shape, built once per model -----------------------------


class _Node:
    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def decode(self, value: Any, depth: int) -> Any:
        return value  # document types: any JSON value, kept as it came


class _Struct(_Node):
    __slots__ = ("fields",)

    def __init__(self) -> None:
        super().__init__("structure")
        self.fields: dict[str, tuple[str, _Node]] = {}  # wire name -> (member name, node)

    def decode(self, value: Any, depth: int) -> Any:
        if type(value) is not dict:
            raise _misplaced(value, self.kind)
        if depth >= MAX_DEPTH:
            raise _too_deep()
        out: dict[str, Any] = {}
        fields = self.fields
        for key, item in value.items():
            field = fields.get(key)
            # Unknown members are ignored, as AWS ignores them; null means absent.
            if field is not None and item is not None:
                out[field[0]] = field[1].decode(item, depth + 1)
        return out


class _List(_Node):
    __slots__ = ("item",)

    def __init__(self) -> None:
        super().__init__("list")
        self.item: _Node = _Node("document")

    def decode(self, value: Any, depth: int) -> Any:
        if type(value) is not list:
            raise _misplaced(value, self.kind)
        if depth >= MAX_DEPTH:
            raise _too_deep()
        item = self.item
        return [None if v is None else item.decode(v, depth + 1) for v in value]


class _Map(_Node):
    __slots__ = ("value",)

    def __init__(self) -> None:
        super().__init__("map")
        self.value: _Node = _Node("document")

    def decode(self, value: Any, depth: int) -> Any:
        if type(value) is not dict:
            raise _misplaced(value, self.kind)
        if depth >= MAX_DEPTH:
            raise _too_deep()
        node = self.value
        return {k: None if v is None else node.decode(v, depth + 1) for k, v in value.items()}


class _Scalar(_Node):
    __slots__ = ("convert",)

    def __init__(self, kind: str, convert: Callable[[Any, str], Any]) -> None:
        super().__init__(kind)
        self.convert = convert

    def decode(self, value: Any, depth: int) -> Any:
        return self.convert(value, self.kind)


def _as_exact(kinds: tuple[type, ...]) -> Callable[[Any, str], Any]:
    def convert(value: Any, kind: str) -> Any:
        if type(value) in kinds and (
            kind not in _INT_BOUNDS or -_INT_BOUNDS[kind] <= value < _INT_BOUNDS[kind]
        ):
            return value
        raise _misplaced(value, kind)

    return convert


def _as_float(value: Any, kind: str) -> Any:
    if type(value) in (int, float) or (type(value) is str and value in _FLOAT_WORDS):
        return float(value)
    raise _misplaced(value, kind)


def _as_timestamp(value: Any, kind: str) -> Any:
    try:
        if type(value) in (int, float):
            return _epoch(value)
        if type(value) is str:
            return time_from_text(value)
    except ValueError:
        pass
    raise _misplaced(value, kind)


def _as_blob(value: Any, kind: str) -> Any:
    if type(value) is str:
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            pass
    if isinstance(value, dict | list):
        raise _misplaced(value, kind)
    raise serialization_error("only base-64-encoded strings are convertible to bytes")


_CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    "string": _as_exact((str,)),
    "integer": _as_exact((int,)),
    "long": _as_exact((int,)),
    "boolean": _as_exact((bool,)),
    "float": _as_float,
    "double": _as_float,
    "timestamp": _as_timestamp,
    "blob": _as_blob,
}

_NODES: WeakKeyDictionary[ServiceModel, dict[str, _Node]] = WeakKeyDictionary()


def _node(model: ServiceModel, shape: Shape) -> _Node:
    nodes = _NODES.get(model)
    if nodes is None:
        nodes = _NODES[model] = {}
    node = nodes.get(shape.name)
    if node is None:
        # Built aside and published whole, so no caller ever sees a half-built (recursive) node.
        built: dict[str, _Node] = {}
        node = _build(shape, nodes, built)
        nodes.update(built)
    return node


def _child(shape: Shape, nodes: dict[str, _Node], built: dict[str, _Node]) -> _Node:
    node = nodes.get(shape.name) or built.get(shape.name)
    return node if node is not None else _build(shape, nodes, built)


def _build(shape: Shape, nodes: dict[str, _Node], built: dict[str, _Node]) -> _Node:
    # Each node is registered before its children are built, so recursive shapes terminate.
    if isinstance(shape, StructureShape) and not shape.is_document_type:
        struct = built[shape.name] = _Struct()
        for name, member in shape.members.items():
            # Members bound to the URI, query string or headers never appear in a body.
            if "location" not in member.serialization:
                struct.fields[member.serialization.get("name", name)] = (name, _child(member, nodes, built))
        return struct
    if isinstance(shape, ListShape):
        items = built[shape.name] = _List()
        items.item = _child(shape.member, nodes, built)
        return items
    if isinstance(shape, MapShape):
        mapping = built[shape.name] = _Map()
        mapping.value = _child(shape.value, nodes, built)
        return mapping
    convert = _CONVERTERS.get(shape.type_name)
    node = built[shape.name] = _Node("document") if convert is None else _Scalar(shape.type_name, convert)
    return node


def load_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)  # also refuses invalid UTF-8 and nesting deeper than 1024
    except orjson.JSONDecodeError:
        # AWS answers an unparseable body with a bare SerializationException (no message).
        raise serialization_error("") from None
    if value is None:
        return {}
    if type(value) is not dict:
        raise _misplaced(value, "structure")
    return value


def decode_value(model: ServiceModel, shape: Shape, value: Any) -> Any:
    """``value`` (parsed JSON) as typed params of ``shape``; SerializationException when it does not fit."""
    return _node(model, shape).decode(value, 0)
