"""Our answers on the wire: (protocol, output dict or AwsError, request id) in, WireResponse bytes out.

Outputs are rendered along the operation's output shape the way AWS writes them (JSON for json /
rest-json, STS-style indented XML for query, S3-style XML for rest-xml), so botocore parses them
back into the same values. Header names are lower-case, as ASGI sends them.
"""

from __future__ import annotations

import base64
import calendar
import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from xml.sax.saxutils import escape

import orjson
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from trailkeeper.capture.catalog import ServiceEntry
from trailkeeper.capture.wire.rest_xml import partial_status, xml_error_body, xml_output_body
from trailkeeper.capture.wire.types import WireResponse
from trailkeeper.errors import AwsError

__all__ = ["AWS_FAULT_NAMESPACE", "render_error", "render_output"]

# The namespace AWS's query front door writes on errors raised before the service itself runs
# (InvalidAction, signature failures); service errors carry the service's own namespace.
AWS_FAULT_NAMESPACE = "http://webservices.amazon.com/AWSFault/2005-15-09"

_JSON_ERROR_CONTENT_TYPE = "application/x-amz-json-1.1"
_XML_ENTITIES = {"\r": "&#xD;", '"': "&quot;"}


# -- scalar forms --------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return escape(text, _XML_ENTITIES)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso8601(value: datetime) -> str:
    # Whole seconds as AWS writes them, milliseconds when that is all there is, else microseconds.
    value = _utc(value)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if not value.microsecond:
        return f"{text}Z"
    if value.microsecond % 1000 == 0:
        return f"{text}.{value.microsecond // 1000:03d}Z"
    return f"{text}.{value.microsecond:06d}Z"


def _timestamp(shape: Shape, value: Any, default_format: str) -> Any:
    if not isinstance(value, datetime):
        return value
    form = shape.serialization.get("timestampFormat", default_format)
    if form == "iso8601":
        return _iso8601(value)
    seconds = calendar.timegm(_utc(value).timetuple())
    if form == "rfc822":
        return formatdate(seconds, usegmt=True)
    micro = value.microsecond
    return (seconds * 10**6 + micro) / 10**6 if micro else seconds


def _number(value: Any) -> Any:
    # JSON has no Infinity/NaN; AWS spells them as strings.
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _base64(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode("ascii")


def _text(shape: Shape, value: Any, timestamp_format: str) -> str:
    """A scalar as XML text or an HTTP header value."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return _base64(value)
    if kind == "timestamp":
        return str(_timestamp(shape, value, timestamp_format))
    return str(_number(value))


# -- JSON bodies -----------------------------------------------------------------------------------


def _jsonable(shape: Shape, value: Any) -> Any:
    """``value`` as the JSON a botocore client expects for ``shape`` (None members omitted)."""
    if isinstance(shape, StructureShape):
        if shape.is_document_type or not isinstance(value, dict):
            return value
        members = shape.members
        return {
            members[k].serialization.get("name", k): _jsonable(members[k], v)
            for k, v in value.items()
            if v is not None and k in members and "location" not in members[k].serialization
        }
    if isinstance(shape, ListShape):
        return [None if v is None else _jsonable(shape.member, v) for v in value]
    if isinstance(shape, MapShape):
        return {k: None if v is None else _jsonable(shape.value, v) for k, v in value.items()}
    if shape.type_name == "timestamp":
        return _timestamp(shape, value, "unixtimestamp")
    if shape.type_name == "blob":
        return _base64(value)
    return _number(value)


def _header_item(text: str) -> str:
    # A header list is comma-separated: items holding a comma or a quote go quoted, as botocore quotes them.
    if "," not in text and '"' not in text:
        return text
    escaped = text.replace('"', '\\"')
    return f'"{escaped}"'


def _header_value(shape: Shape, value: Any) -> str:
    if isinstance(shape, ListShape):
        return ",".join(_header_item(_header_value(shape.member, v)) for v in value if v is not None)
    if shape.serialization.get("jsonvalue"):
        return _base64(orjson.dumps(value))
    return _text(shape, value, "rfc822")


def _place_located(shape: StructureShape, output: dict[str, Any], headers: dict[str, str]) -> int | None:
    """Write header members into ``headers``; the statusCode member's value, if any."""
    status = None
    for name, member in shape.members.items():
        value, where = output.get(name), member.serialization.get("location")
        if value is None or where is None:
            continue
        wire = member.serialization.get("name", name)
        if where == "statusCode":
            status = int(value)
        elif where == "header":
            headers[wire.lower()] = _header_value(member, value)
        elif where == "headers":
            headers.update({f"{wire}{k}".lower(): str(v) for k, v in value.items()})
    return status


# -- XML bodies ------------------------------------------------------------------------------------


def _xml(shape: Shape, name: str, value: Any, level: int, out: list[str], attrs: str = "") -> None:
    """Append ``value`` as the element ``name``, indented two spaces per level as AWS indents."""
    pad = "  " * level
    children: list[str] = []
    if isinstance(shape, StructureShape):
        for member_name, member in shape.members.items():
            item = value.get(member_name)
            if item is not None and "location" not in member.serialization:
                _xml(member, member.serialization.get("name", member_name), item, level + 1, children)
    elif isinstance(shape, ListShape):
        item_name = shape.member.serialization.get("name", "member")
        if shape.serialization.get("flattened"):
            for item in value:
                _xml(shape.member, shape.member.serialization.get("name", name), item, level, out)
            return
        for item in value:
            _xml(shape.member, item_name, item, level + 1, children)
    elif isinstance(shape, MapShape):
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        for key, item in value.items():
            children += [
                f"{pad}  <entry>",
                f"{pad}    <{key_name}>{_esc(str(key))}</{key_name}>",
            ]
            _xml(shape.value, value_name, item, level + 2, children)
            children.append(f"{pad}  </entry>")
    else:
        out.append(f"{pad}<{name}{attrs}>{_esc(_text(shape, value, 'iso8601'))}</{name}>")
        return
    out.extend(
        [f"{pad}<{name}{attrs}>", *children, f"{pad}</{name}>"] if children else [f"{pad}<{name}{attrs}/>"]
    )


def _xmlns(namespace: Any) -> str:
    # Query models name their namespace as a string, rest-xml shapes as {"uri": ...}.
    uri = namespace.get("uri") if isinstance(namespace, dict) else namespace
    return f' xmlns="{_esc(uri)}"' if uri else ""


# -- outputs per protocol ------------------------------------------------------------------------------


def _render_json(
    entry: ServiceEntry, op: OperationModel, output: dict[str, Any], request_id: str
) -> WireResponse:
    shape = op.output_shape
    body = orjson.dumps(_jsonable(shape, output) if shape is not None else {})
    content_type = f"application/x-amz-json-{entry.model.metadata.get('jsonVersion', '1.1')}"
    return WireResponse(200, {"x-amzn-requestid": request_id, "content-type": content_type}, body)


def _payload(
    op: OperationModel, output: dict[str, Any], headers: dict[str, str], xml: bool
) -> tuple[int, bytes]:
    """Status and body of a REST answer: located members go to ``headers``, the rest to the body."""
    status: int = op.http.get("responseCode", 200)
    shape = op.output_shape
    if shape is None:
        return status, b"" if xml else b"{}"
    status = _place_located(shape, output, headers) or status
    name = shape.serialization.get("payload")
    body_shape: Shape = shape if name is None else shape.members[name]
    value = output if name is None else output.get(name)
    if value is None:
        return status, b"" if xml else b"{}"
    if body_shape.type_name in ("blob", "string"):
        return status, value if isinstance(value, bytes) else str(value).encode()
    if not xml:
        return status, orjson.dumps(_jsonable(body_shape, value))
    return status, xml_output_body(op, output)


def _render_rest_json(
    entry: ServiceEntry, op: OperationModel, output: dict[str, Any], rid: str
) -> WireResponse:
    headers = {"x-amzn-requestid": rid, "content-type": "application/json"}
    status, body = _payload(op, output, headers, xml=False)
    return WireResponse(status, headers, body)


def _render_rest_xml(
    entry: ServiceEntry, op: OperationModel, output: dict[str, Any], rid: str
) -> WireResponse:
    headers = {"x-amz-request-id": rid, "content-type": "application/xml"}
    status, body = _payload(op, output, headers, xml=True)
    return WireResponse(partial_status(status, headers), headers, body)


def _render_query(entry: ServiceEntry, op: OperationModel, output: dict[str, Any], rid: str) -> WireResponse:
    name = op.name
    lines = [f"<{name}Response{_xmlns(entry.model.metadata.get('xmlNamespace'))}>"]
    shape = op.output_shape
    if shape is not None:
        _xml(shape, shape.serialization.get("resultWrapper", f"{name}Result"), output, 1, lines)
    request_id = _esc(rid)
    lines += ["  <ResponseMetadata>", f"    <RequestId>{request_id}</RequestId>", "  </ResponseMetadata>"]
    lines += [f"</{name}Response>", ""]
    return WireResponse(200, {"x-amzn-requestid": rid, "content-type": "text/xml"}, "\n".join(lines).encode())


_OUTPUT_RENDERERS: dict[str, Callable[[ServiceEntry, OperationModel, dict[str, Any], str], WireResponse]] = {
    "json": _render_json,
    "rest-json": _render_rest_json,
    "query": _render_query,
    "rest-xml": _render_rest_xml,
}


def render_output(
    entry: ServiceEntry, op: OperationModel, output: dict[str, Any], request_id: str
) -> WireResponse:
    """A successful answer to ``op`` carrying ``output`` (keyed by the output shape's member names)."""
    return _OUTPUT_RENDERERS[entry.protocol](entry, op, output, request_id)


# -- errors per protocol -------------------------------------------------------------------------------


def _json_error(code: str, err: AwsError, rid: str, namespace: str | None) -> WireResponse:
    # AWS omits the message when there is none (UnknownOperationException, SerializationException).
    message = err.message_for("json")
    body = {"__type": code, "message": message} if message else {"__type": code}
    return WireResponse(
        err.status_for("json"),
        {"x-amzn-requestid": rid, "content-type": _JSON_ERROR_CONTENT_TYPE},
        orjson.dumps(body),
    )


def _rest_json_error(code: str, err: AwsError, rid: str, namespace: str | None) -> WireResponse:
    message = err.message_for("rest-json")
    body = {"__type": code, "message": message} if message else {"__type": code}
    headers = {"x-amzn-requestid": rid, "x-amzn-errortype": code, "content-type": "application/json"}
    return WireResponse(err.status_for("rest-json"), headers, orjson.dumps(body))


def _query_error(code: str, err: AwsError, rid: str, namespace: str | None) -> WireResponse:
    lines = [
        f"<ErrorResponse{_xmlns(namespace or AWS_FAULT_NAMESPACE)}>",
        "  <Error>",
        f"    <Type>{'Sender' if err.sender_fault else 'Receiver'}</Type>",
        f"    <Code>{_esc(code)}</Code>",
        f"    <Message>{_esc(err.message_for('query'))}</Message>",
        "  </Error>",
        f"  <RequestId>{_esc(rid)}</RequestId>",
        "</ErrorResponse>",
        "",
    ]
    return WireResponse(
        err.status_for("query"),
        {"x-amzn-requestid": rid, "content-type": "text/xml"},
        "\n".join(lines).encode(),
    )


def _rest_xml_error(code: str, err: AwsError, rid: str, namespace: str | None) -> WireResponse:
    body = xml_error_body(code, err.message_for("rest-xml"), rid, err)
    return WireResponse(
        err.status_for("rest-xml"), {"x-amz-request-id": rid, "content-type": "application/xml"}, body
    )


_ERROR_RENDERERS: dict[str, Callable[[str, AwsError, str, str | None], WireResponse]] = {
    "json": _json_error,
    "rest-json": _rest_json_error,
    "query": _query_error,
    "rest-xml": _rest_xml_error,
}


def render_error(
    protocol: str, err: AwsError, request_id: str, *, xml_namespace: str | None = None
) -> WireResponse:
    """``err`` as ``protocol``'s clients expect it; ``xml_namespace`` is the query ErrorResponse's
    namespace (the service's for its own errors, AWS_FAULT_NAMESPACE when None)."""
    response = _ERROR_RENDERERS[protocol](err.code_for(protocol), err, request_id, xml_namespace)
    response.headers.update({name.lower(): value for name, value in err.headers.items()})
    return response
