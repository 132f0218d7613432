"""The rest-xml wire pieces the S3 view rides on: routing, request parsing, S3-shaped XML out, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.wire._support import botocore_parse, entry, http_request, raw_request
from trailkeeper.capture.wire import parse_request, render_error, render_output, resolve_operation
from trailkeeper.errors import AwsError
from trailkeeper.storage import errors

S3 = entry("s3")
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("PutObject", {"Bucket": "b", "Key": "k", "Body": b"x"}),
        ("CopyObject", {"Bucket": "b", "Key": "k", "CopySource": "src/k"}),
        ("UploadPart", {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 1, "Body": b"x"}),
        (
            "UploadPartCopy",
            {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 1, "CopySource": "s/k"},
        ),
        ("GetObject", {"Bucket": "b", "Key": "a/b c+d"}),
        ("ListParts", {"Bucket": "b", "Key": "k", "UploadId": "u"}),
        ("ListObjects", {"Bucket": "b"}),
        ("ListObjectsV2", {"Bucket": "b"}),
        ("GetBucketLocation", {"Bucket": "b"}),
        ("ListBuckets", {}),
        ("HeadObject", {"Bucket": "b", "Key": "k"}),
    ],
)
def test_routes_tell_apart_operations_sharing_a_method_and_path(
    operation: str, params: dict[str, Any]
) -> None:
    req = http_request("s3", operation, params)
    op = resolve_operation(S3, req)
    assert op.name == operation
    parsed = parse_request(S3, op, req)
    assert {k: parsed[k] for k in params if k != "Body"} == {k: v for k, v in params.items() if k != "Body"}


def test_unreadable_query_value_is_invalid_argument() -> None:
    req = raw_request("GET", "/b", query="list-type=2&max-keys=many")
    with pytest.raises(AwsError) as refused:
        parse_request(S3, resolve_operation(S3, req), req)
    assert (refused.value.code, refused.value.status) == ("InvalidArgument", 400)


def test_xml_request_body_is_parsed_along_the_payload_shape() -> None:
    req = http_request(
        "s3", "DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}]}}
    )
    parsed = parse_request(S3, resolve_operation(S3, req), req)
    assert parsed["Delete"] == {"Objects": [{"Key": "a"}, {"Key": "b"}]}
    broken = raw_request("POST", "/b", b"<Delete><Object>", query="delete")
    with pytest.raises(AwsError) as refused:
        parse_request(S3, resolve_operation(S3, broken), broken)
    assert refused.value.code == "MalformedXML"


def test_list_objects_renders_s3_xml_in_the_output_order() -> None:
    op = S3.model.operation_model("ListObjectsV2")
    output = {
        "Name": "b", "Prefix": "", "KeyCount": 1, "MaxKeys": 1000, "Delimiter": "/", "IsTruncated": False,
        "Contents": [{"Key": "k", "LastModified": WHEN, "ETag": '"e"', "Size": 3, "StorageClass": "STD"}],
        "CommonPrefixes": [{"Prefix": "p/"}, {"Prefix": "q/"}],
    }  # fmt: skip
    resp = render_output(S3, op, output, "rid")
    assert resp.body.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>'
        "<KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>"
        "<Contents><Key>k</Key><LastModified>2026-01-02T03:04:05.678Z</LastModified><ETag>&quot;e&quot;</ETag>"
        "<Size>3</Size><StorageClass>STD</StorageClass></Contents>"
        "<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>q/</Prefix></CommonPrefixes>"
        "</ListBucketResult>"
    )
    parsed = botocore_parse("rest-xml", op, resp)
    assert parsed["Contents"][0] | {"LastModified": WHEN} == output["Contents"][0]  # type: ignore[index]
    assert parsed["CommonPrefixes"] == output["CommonPrefixes"]


def test_list_buckets_renders_owner_then_buckets() -> None:
    op = S3.model.operation_model("ListBuckets")
    output = {
        "Owner": {"ID": "abc"},
        "Buckets": [{"Name": "b", "CreationDate": WHEN, "BucketRegion": "us-east-1"}],
    }
    body = render_output(S3, op, output, "rid").body.decode()
    assert body.endswith(
        '<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>abc</ID></Owner>'
        "<Buckets><Bucket><Name>b</Name><CreationDate>2026-01-02T03:04:05.678Z</CreationDate>"
        "<BucketRegion>us-east-1</BucketRegion></Bucket></Buckets></ListAllMyBucketsResult>"
    )


@pytest.mark.parametrize(
    ("region", "xml"),
    [
        (None, "<LocationConstraint {ns}/>"),
        ("eu-west-1", "<LocationConstraint {ns}>eu-west-1</LocationConstraint>"),
    ],
)
def test_get_bucket_location_is_the_root_element_itself(region: str | None, xml: str) -> None:
    op = S3.model.operation_model("GetBucketLocation")
    body = render_output(S3, op, {"LocationConstraint": region}, "rid").body.decode()
    assert body.endswith(xml.format(ns='xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'))


def test_get_object_answer_carries_headers_and_206_for_a_range() -> None:
    op = S3.model.operation_model("GetObject")
    output = {
        "AcceptRanges": "bytes", "LastModified": WHEN, "ContentLength": 2, "ETag": '"e"',
        "ContentRange": "bytes 0-1/9", "ContentType": "application/json", "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "key", "Metadata": {"signature": "ab"}, "Body": b"ab",
    }  # fmt: skip
    resp = render_output(S3, op, output, "rid")
    assert (resp.status, resp.body) == (206, b"ab")
    assert resp.headers["last-modified"] == "Fri, 02 Jan 2026 03:04:05 GMT"
    assert resp.headers["x-amz-meta-signature"] == "ab"
    assert resp.headers["x-amz-server-side-encryption-aws-kms-key-id"] == "key"
    head = render_output(
        S3, S3.model.operation_model("HeadObject"), {k: v for k, v in output.items() if k != "Body"}, "r"
    )
    assert head.body == b""
    assert head.headers["content-length"] == "2"


def test_s3_errors_carry_their_extra_elements() -> None:
    resp = render_error("rest-xml", errors.no_such_key("a&b"), "rid")
    assert resp.status == 404
    assert resp.body.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
        "<Message>The specified key does not exist.</Message><Key>a&amp;b</Key>"
        "<RequestId>rid</RequestId></Error>"
    )
    parsed = botocore_parse(
        "rest-xml", None, render_error("rest-xml", errors.method_not_allowed("PUT", "OBJECT"), "r")
    )
    assert parsed["Error"] == {
        "Code": "MethodNotAllowed",
        "Message": "The specified method is not allowed against this resource.",
        "Method": "PUT",
        "ResourceType": "OBJECT",
    }
