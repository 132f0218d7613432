"""A backend's answer as an Outcome: (ServiceEntry, OperationModel, WireResponse) in, Outcome out.

botocore's own response parsers read the answer, so the typed output is exactly what a boto3
client would get. A failure becomes CallError(code, message) as CloudTrail records it; a body no
parser can read never raises, it falls back to InternalFailure and the HTTP reason phrase.
"""

from __future__ import annotations

import http.client
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import ParseError

from botocore.awsrequest import HeadersDict
from botocore.model import OperationModel
from botocore.parsers import ResponseParser, ResponseParserError, ResponseParserFactory
from botocore.utils import parse_timestamp

from trailkeeper.capture.catalog import ServiceEntry
from trailkeeper.capture.wire.types import CallError, Outcome, WireResponse
from trailkeeper.errors import AwsError

__all__ = ["error_outcome", "parse_backend_response"]

FALLBACK_CODE = "InternalFailure"

# What botocore's parsers raise on bodies that are not what the protocol promises (bad UTF-8,
# a JSON array where an object belongs, broken XML, bad base64, absurd nesting, ...).
_UNREADABLE = (
    ResponseParserError,
    ParseError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    RecursionError,
)


def _utc_timestamp(value: Any) -> datetime:
    # botocore's default reads epoch numbers into local time; records are written in UTC.
    return parse_timestamp(value).astimezone(UTC)


_FACTORY = ResponseParserFactory()
_FACTORY.set_parser_defaults(timestamp_parser=_utc_timestamp)
# Parsers keep no per-response state, so one per protocol serves every call.
_PARSERS: dict[str, ResponseParser] = {}


def _parser(protocol: str) -> ResponseParser:
    parser = _PARSERS.get(protocol)
    if parser is None:
        parser = _PARSERS[protocol] = _FACTORY.create_parser(protocol)
    return parser


def _parse(entry: ServiceEntry, op: OperationModel, resp: WireResponse) -> dict[str, Any] | None:
    response = {
        "status_code": resp.status,
        "headers": HeadersDict(resp.headers),  # case-insensitive, as botocore's HTTP layer hands them over
        "body": resp.body,
        "context": {"operation_name": op.name},
    }
    try:
        # botocore takes None for operations without output; its stub only says Shape.
        parsed = _parser(entry.protocol).parse(response, op.output_shape)  # type: ignore[arg-type]
    except _UNREADABLE:
        return None
    return parsed if isinstance(parsed, dict) else None


def _call_error(parsed: dict[str, Any] | None, resp: WireResponse) -> CallError:
    error = parsed.get("Error") if parsed is not None else None
    code = message = ""
    if isinstance(error, dict):
        code, message = str(error.get("Code") or ""), str(error.get("Message") or "")
    reason = http.client.responses.get(resp.status, "")
    # botocore falls back to the status number when the body names no error, and to the whole body
    # as the message when the body is not JSON: neither is an AWS error code or message.
    if not code or code.isdigit():
        if not message or message == resp.body.decode("utf-8", "replace"):
            message = reason
        return CallError(FALLBACK_CODE, message)
    return CallError(code, message)


def parse_backend_response(entry: ServiceEntry, op: OperationModel, resp: WireResponse) -> Outcome:
    """The typed output (2xx, without ResponseMetadata) or the CallError of a backend's answer.

    A 2xx whose body cannot be parsed gives ``Outcome()``: the call succeeded, its output is unknown.
    """
    parsed = _parse(entry, op, resp)
    if 200 <= resp.status < 300:
        if parsed is None:
            return Outcome()
        parsed.pop("ResponseMetadata", None)
        return Outcome(output=parsed)
    return Outcome(error=_call_error(parsed, resp))


def error_outcome(err: AwsError, protocol: str) -> Outcome:
    """The Outcome of a call we refused or failed ourselves, with the code ``protocol``'s clients saw."""
    return Outcome(error=CallError(err.code_for(protocol), err.message))
