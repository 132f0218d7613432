"""Rendered outputs and errors read back through botocore's own parsers as what we meant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tests.unit.wire._support import botocore_parse, entry
from trailkeeper.capture.wire import AWS_FAULT_NAMESPACE, render_error, render_output
from trailkeeper.errors import AwsError, access_denied, internal_failure, validation_error

WHEN = datetime(2025, 3, 14, 15, 9, 26, 535000, tzinfo=UTC)
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"

OUTPUTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "cloudtrail",
        "LookupEvents",
        {
            "Events": [
                {
                    "EventId": "0b1c",
                    "EventName": "CreateDatabase",
                    "ReadOnly": "false",
                    "AccessKeyId": "AKIAEXAMPLE",
                    "EventTime": WHEN,
                    "EventSource": "glue.amazonaws.com",
                    "Username": "alice",
                    "Resources": [{"ResourceType": "AWS::Glue::Database", "ResourceName": "sales"}],
                    "CloudTrailEvent": '{"eventVersion":"1.11","requestParameters":{"x":"<&>\\""}}',
                }
            ],
            "NextToken": "next",
        },
    ),
    ("cloudtrail", "LookupEvents", {"Events": []}),
    (
        "cloudtrail",
        "ListPublicKeys",
        {
            "PublicKeyList": [
                {
                    "Value": b"\x30\x82\x01\x0a\xff",
                    "ValidityStartTime": datetime(2025, 1, 1, tzinfo=UTC),
                    "ValidityEndTime": datetime(2025, 1, 31, 0, 0, 0, 123456, tzinfo=UTC),
                    "Fingerprint": "abc",
                }
            ]
        },
    ),
    (
        "cloudtrail",
        "GetTrailStatus",
        {"IsLogging": True, "StartLoggingTime": WHEN, "LatestDeliveryError": ""},
    ),
    ("cloudtrail", "StartLogging", {}),
    (
        "sts",
        "AssumeRole",
        {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLE",
                "SecretAccessKey": "secret/with+chars",
                "SessionToken": "token<&>\"'",
                "Expiration": WHEN,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROAEXAMPLE:alice",
                "Arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice",
            },
            "PackedPolicySize": 6,
            "SourceIdentity": "ünïcødé",
        },
    ),
    (
        "sts",
        "GetCallerIdentity",
        {"UserId": "AIDA", "Account": "123456789012", "Arn": "arn:aws:iam::1:user/a"},
    ),
    (
        "iam",
        "ListUsers",
        {
            "Users": [
                {"Path": "/", "UserName": "a", "UserId": "AIDA1", "Arn": "arn:a", "CreateDate": WHEN},
                {
                    "Path": "/x/",
                    "UserName": "b",
                    "UserId": "AIDA2",
                    "Arn": "arn:b",
                    "CreateDate": WHEN,
                    "Tags": [{"Key": "k", "Value": "v"}],
                },
            ],
            "IsTruncated": False,
        },
    ),
    ("iam", "ListUsers", {"Users": [], "IsTruncated": True, "Marker": "m"}),
    (
        "emr-serverless",
        "GetApplication",
        {
            "application": {
                "applicationId": "00f1",
                "name": "app",
                "arn": "arn:aws:emr-serverless:us-east-1:1:/applications/00f1",
                "releaseLabel": "emr-7.0.0",
                "type": "SPARK",
                "state": "CREATED",
                "createdAt": WHEN,
                "updatedAt": datetime(2025, 3, 15, tzinfo=UTC),
                "tags": {"env": "dev"},
                "initialCapacity": {
                    "DRIVER": {"workerCount": 1, "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 GB"}}
                },
            }
        },
    ),
    ("emr-serverless", "ListApplications", {"applications": []}),
    (
        "s3",
        "ListBuckets",
        {"Buckets": [{"Name": "b1", "CreationDate": WHEN}], "Owner": {"DisplayName": "me", "ID": "abc"}},
    ),
    ("s3", "GetBucketTagging", {"TagSet": [{"Key": "k", "Value": "v"}]}),
    (
        "s3",
        "HeadObject",
        {
            "ContentLength": 10,
            "LastModified": datetime(2025, 1, 1, tzinfo=UTC),
            "ETag": '"abc"',
            "Metadata": {"color": "blue"},
            "ContentType": "text/plain",
            "DeleteMarker": False,
        },
    ),
]


@pytest.mark.parametrize(("service", "operation", "output"), OUTPUTS, ids=[f"{s}.{o}" for s, o, _ in OUTPUTS])
def test_render_output_botocore_parses_back_the_output(
    service: str, operation: str, output: dict[str, Any]
) -> None:
    op = entry(service).model.operation_model(operation)
    resp = render_output(entry(service), op, output, "req-1")
    parsed = botocore_parse(entry(service).protocol, op, resp)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert (resp.status, parsed) == (200, output)


def test_render_output_json_writes_epoch_seconds_and_omits_none() -> None:
    op = entry("cloudtrail").model.operation_model("GetTrailStatus")
    resp = render_output(
        entry("cloudtrail"),
        op,
        {"IsLogging": False, "StartLoggingTime": WHEN, "TimeLoggingStarted": None},
        "r",
    )
    assert orjson.loads(resp.body) == {"IsLogging": False, "StartLoggingTime": 1741964966.535}
    assert resp.headers == {"x-amzn-requestid": "r", "content-type": "application/x-amz-json-1.1"}


def test_render_output_query_is_sts_indented_xml() -> None:
    op = entry("sts").model.operation_model("GetCallerIdentity")
    output = {
        "UserId": "AIDAEXAMPLE",
        "Account": "123456789012",
        "Arn": "arn:aws:iam::123456789012:user/alice",
    }
    resp = render_output(entry("sts"), op, output, "c6104cbe-af31-11e0-8154-cbc7ccf896c7")
    assert resp.body.decode() == (
        f'<GetCallerIdentityResponse xmlns="{STS_NS}">\n'
        "  <GetCallerIdentityResult>\n"
        "    <UserId>AIDAEXAMPLE</UserId>\n"
        "    <Account>123456789012</Account>\n"
        "    <Arn>arn:aws:iam::123456789012:user/alice</Arn>\n"
        "  </GetCallerIdentityResult>\n"
        "  <ResponseMetadata>\n"
        "    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</GetCallerIdentityResponse>\n"
    )
    assert resp.headers == {
        "x-amzn-requestid": "c6104cbe-af31-11e0-8154-cbc7ccf896c7",
        "content-type": "text/xml",
    }


def test_render_output_query_timestamps_are_iso8601_with_z() -> None:
    op = entry("sts").model.operation_model("GetSessionToken")
    creds = {"AccessKeyId": "A", "SecretAccessKey": "S", "SessionToken": "T", "Expiration": WHEN}
    body = render_output(entry("sts"), op, {"Credentials": creds}, "r").body.decode()
    assert "<Expiration>2025-03-14T15:09:26.535Z</Expiration>" in body


def test_render_output_rest_json_sets_status_and_content_type() -> None:
    op = entry("emr-serverless").model.operation_model("StartApplication")
    resp = render_output(entry("emr-serverless"), op, {}, "r")
    assert (resp.status, resp.body, resp.headers["content-type"]) == (200, b"{}", "application/json")


ERRORS = [
    validation_error("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: x"),
    access_denied("User: arn:aws:iam::1:user/a is not authorized to perform: sts:AssumeRole"),
    internal_failure(),
    AwsError("UnknownOperationException", "", 404),
    AwsError("EntityNotFoundException", 'Database <x> & "y" not found.', 400),
]


@pytest.mark.parametrize("protocol", ["json", "rest-json", "query", "rest-xml"])
@pytest.mark.parametrize("err", ERRORS, ids=[e.code for e in ERRORS])
def test_render_error_client_sees_code_message_and_status(protocol: str, err: AwsError) -> None:
    resp = render_error(protocol, err, "req-9")
    parsed = botocore_parse(protocol, None, resp)
    assert resp.status == err.status
    # An empty XML <Message/> reads back as None.
    assert (parsed["Error"]["Code"], parsed["Error"]["Message"] or "") == (
        err.code_for(protocol),
        err.message,
    )
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


def test_render_error_query_is_aws_fault_xml_with_sender_type() -> None:
    err = AwsError("InvalidAction", "Could not find operation X for version 2011-06-15", 400)
    assert render_error("query", err, "rid").body.decode() == (
        f'<ErrorResponse xmlns="{AWS_FAULT_NAMESPACE}">\n'
        "  <Error>\n"
        "    <Type>Sender</Type>\n"
        "    <Code>InvalidAction</Code>\n"
        "    <Message>Could not find operation X for version 2011-06-15</Message>\n"
        "  </Error>\n"
        "  <RequestId>rid</RequestId>\n"
        "</ErrorResponse>\n"
    )


def test_render_error_query_service_namespace_and_receiver_type() -> None:
    resp = render_error("query", internal_failure(), "rid", xml_namespace=STS_NS)
    parsed = botocore_parse("query", None, resp)
    assert f'<ErrorResponse xmlns="{STS_NS}">' in resp.body.decode()
    assert parsed["Error"]["Type"] == "Receiver"


def test_render_error_rest_json_names_the_code_in_a_header() -> None:
    resp = render_error("rest-json", AwsError("ResourceNotFoundException", "gone", 404), "rid")
    assert resp.headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert orjson.loads(resp.body) == {"__type": "ResourceNotFoundException", "message": "gone"}


def test_render_error_json_without_message_writes_only_the_type() -> None:
    resp = render_error("json", AwsError("SerializationException", ""), "rid")
    assert orjson.loads(resp.body) == {"__type": "SerializationException"}


def test_render_error_rest_xml_is_s3_error_document() -> None:
    resp = render_error("rest-xml", access_denied("Access Denied"), "rid")
    assert resp.body.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>rid</RequestId></Error>"
    )
    assert resp.headers["x-amz-request-id"] == "rid"


def test_render_error_extra_headers_are_merged_lower_cased() -> None:
    err = AwsError("ThrottlingException", "Rate exceeded", 400, headers={"Retry-After": "1"})
    assert render_error("json", err, "rid").headers["retry-after"] == "1"
