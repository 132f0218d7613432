"""A backend's answer becomes typed output or a CloudTrail-style CallError, whatever its body holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.wire._support import entry
from trailkeeper.capture.wire import CallError, Outcome, WireResponse, error_outcome, parse_backend_response
from trailkeeper.errors import AwsError, access_denied

JSON = {"content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "r1"}


def _outcome(service: str, operation: str, resp: WireResponse) -> Outcome:
    return parse_backend_response(entry(service), entry(service).model.operation_model(operation), resp)


def test_outcome_json_success_is_typed_output_without_metadata() -> None:
    body = b'{"Database": {"Name": "sales", "CreateTime": 1700000000.5, "Parameters": {"a": "1"}}}'
    outcome = _outcome("glue", "GetDatabase", WireResponse(200, JSON, body))
    when = datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    assert outcome == Outcome(
        output={"Database": {"Name": "sales", "CreateTime": when, "Parameters": {"a": "1"}}}
    )
    assert outcome.output is not None
    assert outcome.output["Database"]["CreateTime"].tzinfo is UTC


def test_outcome_rest_json_success_reads_the_body() -> None:
    body = b'{"applicationId": "00f1", "name": "app", "arn": "arn:x"}'
    outcome = _outcome(
        "emr-serverless", "CreateApplication", WireResponse(200, {"x-amzn-requestid": "r"}, body)
    )
    assert outcome.output == {"applicationId": "00f1", "name": "app", "arn": "arn:x"}


def test_outcome_empty_output_shape_is_empty_dict() -> None:
    assert _outcome("glue", "DeleteCrawler", WireResponse(200, JSON, b"{}")) == Outcome(output={})


ERRORS = [
    (
        "glue",
        "GetTable",
        WireResponse(
            400,
            JSON,
            b'{"__type": "com.amazonaws.glue#EntityNotFoundException",'
            b' "message": "Database missing-db not found."}',
        ),
        CallError("EntityNotFoundException", "Database missing-db not found."),
    ),
    (
        "glue",
        "GetTable",
        WireResponse(400, JSON, b'{"__type": "AccessDeniedException", "Message": "No."}'),
        CallError("AccessDeniedException", "No."),
    ),
    (
        "emr-serverless",
        "GetApplication",
        WireResponse(
            404,
            {"x-amzn-errortype": "ResourceNotFoundException:http://internal.amazon.com/coral/x/"},
            b'{"message": "Application 00f1 does not exist"}',
        ),
        CallError("ResourceNotFoundException", "Application 00f1 does not exist"),
    ),
    (
        "sts",
        "AssumeRole",
        WireResponse(
            403,
            {"content-type": "text/xml"},
            b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            b"<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message></Error>"
            b"<RequestId>r</RequestId></ErrorResponse>",
        ),
        CallError("AccessDenied", "not allowed"),
    ),
    (
        "glue",
        "GetTable",
        WireResponse(500, {}, b"<html><body>Service Unavailable</body></html>"),
        CallError("InternalFailure", "Internal Server Error"),
    ),
    ("glue", "GetTable", WireResponse(502, {}, b""), CallError("InternalFailure", "Bad Gateway")),
    (
        "glue",
        "GetTable",
        WireResponse(400, JSON, b"not json at all"),
        CallError("InternalFailure", "Bad Request"),
    ),
    (
        "glue",
        "GetTable",
        WireResponse(400, JSON, b"\xff\xfe\x00"),
        CallError("InternalFailure", "Bad Request"),
    ),
    ("glue", "GetTable", WireResponse(400, JSON, b"[1, 2]"), CallError("InternalFailure", "Bad Request")),
    (
        "glue",
        "GetTable",
        WireResponse(400, JSON, b"[" * 5000 + b"]" * 5000),
        CallError("InternalFailure", "Bad Request"),
    ),
    (
        "glue",
        "GetTable",
        WireResponse(400, JSON, b'{"message": "throttled"}'),
        CallError("InternalFailure", "throttled"),
    ),
    (
        "sts",
        "AssumeRole",
        WireResponse(400, {}, b"<ErrorResponse><Error>"),
        CallError("InternalFailure", "Bad Request"),
    ),
    ("emr-serverless", "GetApplication", WireResponse(599, {}, b"{}"), CallError("InternalFailure", "")),
]


@pytest.mark.parametrize(("service", "operation", "resp", "error"), ERRORS)
def test_outcome_failed_call_is_call_error(
    service: str, operation: str, resp: WireResponse, error: CallError
) -> None:
    assert _outcome(service, operation, resp) == Outcome(error=error)


@pytest.mark.parametrize(
    "body", [b"\xff", b"[]", b'{"Database": "not an object"}', b'{"Database": {"CreateTime": "x"}}']
)
def test_outcome_unreadable_success_is_success_without_output(body: bytes) -> None:
    assert _outcome("glue", "GetDatabase", WireResponse(200, JSON, body)) == Outcome()


def test_outcome_empty_success_body_is_empty_output() -> None:
    assert _outcome("glue", "GetDatabase", WireResponse(200, JSON, b"")) == Outcome(output={})


def test_outcome_of_our_own_error_uses_the_protocols_code() -> None:
    assert error_outcome(access_denied("no"), "query") == Outcome(error=CallError("AccessDenied", "no"))
    assert error_outcome(AwsError("SerializationException", ""), "json") == Outcome(
        error=CallError("SerializationException", "")
    )
