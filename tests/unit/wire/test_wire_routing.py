"""resolve_operation finds every modelled operation and refuses everything else as AWS does."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape

from tests.unit.wire._support import entry, http_request, raw_request
from trailkeeper.capture.wire import resolve_operation
from trailkeeper.errors import AwsError

JSON_HEADERS = {"content-type": "application/x-amz-json-1.1"}


def _required_params(shape: Shape) -> Any:
    """The smallest params botocore accepts: every required member, recursively, with a plain value."""
    if isinstance(shape, StructureShape):
        return {name: _required_params(shape.members[name]) for name in shape.required_members}
    if isinstance(shape, ListShape):
        return [_required_params(shape.member)]
    if isinstance(shape, MapShape):
        return {"k": _required_params(shape.value)}
    samples = {"string": "a" * max(1, shape.metadata.get("min", 1)), "integer": 1, "long": 1, "boolean": True}
    return samples[shape.type_name]


@pytest.mark.parametrize("service", ["glue", "cloudtrail"])
def test_resolve_json_every_target_finds_its_operation(service: str) -> None:
    model = entry(service).model
    prefix = model.metadata["targetPrefix"]
    for name in model.operation_names:
        req = raw_request("POST", body=b"{}", headers={**JSON_HEADERS, "x-amz-target": f"{prefix}.{name}"})
        assert resolve_operation(entry(service), req).name == name


def test_resolve_rest_every_emr_serverless_operation_is_routed() -> None:
    model = entry("emr-serverless").model
    for name in model.operation_names:
        op = model.operation_model(name)
        params = _required_params(op.input_shape) if op.input_shape else {}
        assert (
            resolve_operation(entry("emr-serverless"), http_request("emr-serverless", name, params)).name
            == name
        )


def test_resolve_query_every_sts_action_is_routed() -> None:
    for name in entry("sts").model.operation_names:
        req = raw_request("POST", body=f"Action={name}&Version=2011-06-15".encode())
        assert resolve_operation(entry("sts"), req).name == name


def test_resolve_query_action_in_query_string_is_routed() -> None:
    req = raw_request("GET", query="Action=GetCallerIdentity&Version=2011-06-15")
    assert resolve_operation(entry("sts"), req).name == "GetCallerIdentity"


def test_resolve_query_duplicate_action_first_value_wins() -> None:
    req = raw_request("POST", body=b"Action=GetCallerIdentity&Action=Nope&Version=2011-06-15")
    assert resolve_operation(entry("sts"), req).name == "GetCallerIdentity"


@pytest.mark.parametrize(
    ("query", "operation"),
    [
        ("list-type=2", "ListObjectsV2"),
        ("", "ListObjects"),
        ("tagging", "GetBucketTagging"),
        ("acl=", "GetBucketAcl"),
    ],
)
def test_resolve_rest_literal_query_in_request_uri_must_match(query: str, operation: str) -> None:
    req = raw_request("GET", "/my-bucket", query=query)
    assert resolve_operation(entry("s3"), req).name == operation


def test_resolve_rest_greedy_label_spans_slashes() -> None:
    assert resolve_operation(entry("s3"), raw_request("GET", "/bucket/a/b/c.txt")).name == "GetObject"


REFUSED = [
    (
        "glue",
        raw_request("POST", body=b"{}", headers={**JSON_HEADERS, "x-amz-target": "AWSGlue.StealEverything"}),
        "UnknownOperationException",
        400,
        "",
    ),
    ("glue", raw_request("POST", body=b"{}", headers=JSON_HEADERS), "UnknownOperationException", 400, ""),
    (
        "glue",
        raw_request("POST", body=b"{}", headers={**JSON_HEADERS, "x-amz-target": "GetDatabases"}),
        "UnknownOperationException",
        400,
        "",
    ),
    (
        "glue",
        raw_request("POST", body=b"{}", headers={**JSON_HEADERS, "x-amz-target": "Other.GetDatabases"}),
        "UnknownOperationException",
        400,
        "",
    ),
    (
        "glue",
        raw_request("GET", headers={"x-amz-target": "AWSGlue.GetDatabases"}),
        "UnknownOperationException",
        404,
        "",
    ),
    ("emr-serverless", raw_request("GET", "/no/such/thing"), "UnknownOperationException", 404, ""),
    ("emr-serverless", raw_request("PUT", "/applications"), "UnknownOperationException", 404, ""),
    ("emr-serverless", raw_request("GET", "/applications/"), "UnknownOperationException", 404, ""),
    (
        "sts",
        raw_request("POST", body=b"Action=NoSuchAction&Version=2011-06-15"),
        "InvalidAction",
        400,
        "Could not find operation NoSuchAction for version 2011-06-15",
    ),
    (
        "sts",
        raw_request("POST", body=b"Action=GetCallerIdentity&Version=2000-01-01"),
        "InvalidAction",
        400,
        "Could not find operation GetCallerIdentity for version 2000-01-01",
    ),
    (
        "sts",
        raw_request("POST", body=b"Action=GetCallerIdentity"),
        "InvalidAction",
        400,
        "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED",
    ),
    (
        "sts",
        raw_request("POST", body=b"Action=GetCallerIdentity&Version="),
        "InvalidAction",
        400,
        "Could not find operation GetCallerIdentity for version ",
    ),
    (
        "sts",
        raw_request("POST", body=b"Action=&Version=2011-06-15"),
        "InvalidAction",
        400,
        "Could not find operation  for version 2011-06-15",
    ),
    (
        "sts",
        raw_request("POST", body=b"\xff\xfe=\x00"),
        "InvalidAction",
        400,
        "Could not find operation  for version NO_VERSION_SPECIFIED",
    ),
]


@pytest.mark.parametrize(
    ("service", "req", "code", "status", "message"),
    REFUSED,
    ids=[f"{r[0]}:{r[1].method}:{r[1].path}:{r[2]}" for r in REFUSED],
)
def test_resolve_unroutable_request_is_aws_error(
    service: str, req: Any, code: str, status: int, message: str
) -> None:
    with pytest.raises(AwsError) as info:
        resolve_operation(entry(service), req)
    assert (info.value.code, info.value.status, info.value.message) == (code, status, message)
