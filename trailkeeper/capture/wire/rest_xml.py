"""rest-xml bodies: XML request bodies in as typed params; outputs and errors out as S3 writes them.

botocore's JSON models drop two facts of the wire that the Smithy models state: an output's root
element name (``@xmlName`` on the output structure) and the service's XML namespace
(``@xmlNamespace`` on the service). The namespace is recovered from the model (the one its shapes
declare); the root names botocore cannot tell are the table below. Bodies are compact, with
members in the order the output dict holds them, as S3 answers; timestamps carry milliseconds
(``2009-10-12T17:50:30.000Z``).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from weakref import WeakKeyDictionary
from xml.sax.saxutils import escape

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.parsers import ResponseParserError, RestXMLParser

from trailkeeper.errors import AwsError

__all__ = [
    "XmlDetailed",
    "partial_status",
    "xml_error_body",
    "xml_output_body",
    "xml_request_body",
    "xml_request_error",
]

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_ENTITIES = {'"': "&quot;", "\r": "&#xD;"}
# Output root elements botocore's models cannot name (Smithy @xmlName; S3 API reference examples).
# A root naming one of the shape's own members (GetBucketLocation) is that member, its value the
# root's text: botocore reads LocationConstraint back from the root element's text.
_ROOT_NAMES = {
    "ListBucketsOutput": "ListAllMyBucketsResult",
    "ListObjectsOutput": "ListBucketResult",
    "ListObjectsV2Output": "ListBucketResult",
    "ListObjectVersionsOutput": "ListVersionsResult",
    "ListMultipartUploadsOutput": "ListMultipartUploadsResult",
    "ListPartsOutput": "ListPartsResult",
    "GetBucketLocationOutput": "LocationConstraint",
}
_NAMESPACES: WeakKeyDictionary[ServiceModel, str] = WeakKeyDictionary()
# botocore's XML shape decoder, used on request bodies (it keeps no per-call state).
_READER: Any = RestXMLParser()  # its shape walk is private API, kept stable across botocore 1.x


@runtime_checkable
class XmlDetailed(Protocol):
    """An error that carries extra elements for its <Error> body (S3: <Key>, <BucketName>, ...)."""

    xml_details: Mapping[str, str]


def _esc(text: str) -> str:
    return escape(text, _ENTITIES)


# -- requests --------------------------------------------------------------------------------------


def _malformed() -> AwsError:
    message = "The XML you provided was not well-formed or did not validate against our published schema"
    return AwsError("MalformedXML", message, 400)


def _document(shape: Shape, body: bytes) -> Any:
    try:
        return _READER._parse_shape(shape, _READER._parse_xml_string_to_dom(body))
    except (ResponseParserError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        raise _malformed() from None


def xml_request_body(model: ServiceModel, shape: StructureShape, body: bytes) -> dict[str, Any]:
    """The members a rest-xml request carries in its body: the payload member, or the body members."""
    if not body:
        return {}
    payload = shape.serialization.get("payload")
    if payload is None:
        parsed: dict[str, Any] = _document(shape, body)
        return parsed
    member = shape.members[payload]
    if member.type_name == "blob":
        return {payload: body}
    if member.type_name == "string":
        try:
            return {payload: body.decode("utf-8")}
        except UnicodeDecodeError:
            raise _malformed() from None
    return {payload: _document(member, body)}


def xml_request_error(err: AwsError) -> AwsError:
    """A rest-xml service answers an unreadable header or query value with InvalidArgument."""
    if err.code == "SerializationException":
        return AwsError("InvalidArgument", err.message, 400)
    return err


# -- outputs ----------------------------------------------------------------------------------------


def _namespace(model: ServiceModel) -> str:
    """The service's namespace: the model's metadata, else the one its shapes declare most."""
    known = _NAMESPACES.get(model)
    if known is not None:
        return known
    declared = model.metadata.get("xmlNamespace")
    counts: Counter[str] = Counter()
    if not declared:
        for name in model.shape_names:
            shape = model.shape_for(name)
            found = [shape, *(shape.members.values() if isinstance(shape, StructureShape) else ())]
            for item in found:
                ns = item.serialization.get("xmlNamespace")
                if isinstance(ns, Mapping) and not ns.get("prefix") and ns.get("uri"):
                    counts[str(ns["uri"])] += 1
    uri = str(declared) if declared else (counts.most_common(1)[0][0] if counts else "")
    _NAMESPACES[model] = uri
    return uri


def _timestamp(value: Any) -> str:
    if not isinstance(value, datetime):
        return str(value)
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def _scalar(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return _timestamp(value)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return str(value)


def _list_item_name(shape: ListShape, name: str) -> str:
    # As botocore's parser reads them: a flattened list repeats its member's name (else the list's).
    item: str = shape.member.serialization.get(
        "name", name if shape.serialization.get("flattened") else "member"
    )
    return item


def _element(shape: Shape, name: str, value: Any, out: list[str], attrs: str = "") -> None:
    """Append ``value`` as the element ``name``; structure members in the value's own order."""
    if isinstance(shape, ListShape):
        item_name = _list_item_name(shape, name)
        items: list[str] = []
        for item in value:
            _element(shape.member, item_name, item, items)
        out.extend(items if shape.serialization.get("flattened") else [f"<{name}>", *items, f"</{name}>"])
        return
    if isinstance(shape, StructureShape) and not shape.is_document_type:
        out.append(f"<{name}{attrs}>")
        for key, item in value.items():
            member = shape.members.get(key)
            if member is not None and item is not None and "location" not in member.serialization:
                _element(member, member.serialization.get("name", key), item, out)
        out.append(f"</{name}>")
        return
    if isinstance(shape, MapShape):
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out.append(f"<{name}>")
        for key, item in value.items():
            out.append(f"<entry><{key_name}>{_esc(str(key))}</{key_name}>")
            _element(shape.value, value_name, item, out)
            out.append("</entry>")
        out.append(f"</{name}>")
        return
    out.append(f"<{name}{attrs}>{_esc(_scalar(shape, value))}</{name}>")


def _body_members(shape: StructureShape, output: Mapping[str, Any]) -> bool:
    return any(
        value is not None and key in shape.members and "location" not in shape.members[key].serialization
        for key, value in output.items()
    )


def xml_output_body(op: OperationModel, output: Mapping[str, Any]) -> bytes:
    """The XML body of a successful answer; empty when the output has no body members (HeadObject)."""
    shape = op.output_shape
    if not isinstance(shape, StructureShape):
        return b""
    uri = _namespace(op.service_model)
    attrs = f' xmlns="{_esc(uri)}"' if uri else ""
    payload = shape.serialization.get("payload")
    out = [_DECLARATION]
    if payload is not None:
        member = shape.members[payload]
        if output.get(payload) is None:
            return b""
        _element(member, member.serialization.get("name", payload), output[payload], out, attrs)
        return "".join(out).encode()
    root = _ROOT_NAMES.get(shape.name)
    if root in shape.members:
        text = output.get(root)
        out.append(
            f"<{root}{attrs}>{_esc(_scalar(shape.members[root], text))}</{root}>"
            if text
            else f"<{root}{attrs}/>"
        )
        return "".join(out).encode()
    if root is None and not _body_members(shape, output):
        return b""
    _element(shape, root or f"{op.name}Result", output, out, attrs)
    return "".join(out).encode()


def partial_status(status: int, headers: Mapping[str, str]) -> int:
    """A 200 that carries Content-Range answers a range request: 206 Partial Content (RFC 9110)."""
    return 206 if status == 200 and "content-range" in headers else status


# -- errors -----------------------------------------------------------------------------------------


def xml_error_body(code: str, message: str, request_id: str, err: AwsError) -> bytes:
    """``<Error>`` as S3 writes it (no namespace); the error's own extra elements after the message."""
    details = err.xml_details if isinstance(err, XmlDetailed) else {}
    extra = "".join(f"<{name}>{_esc(value)}</{name}>" for name, value in details.items())
    return (
        f"{_DECLARATION}<Error><Code>{_esc(code)}</Code><Message>{_esc(message)}</Message>"
        f"{extra}<RequestId>{_esc(request_id)}</RequestId></Error>"
    ).encode()
