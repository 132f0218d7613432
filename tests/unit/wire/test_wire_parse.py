"""parse_request turns bad wire input into the AwsError AWS answers, and never into another exception."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire._support import entry, http_request, raw_request
from trailkeeper.capture.request import HttpRequest
from trailkeeper.capture.wire import parse_request, resolve_operation
from trailkeeper.capture.wire.decode import MAX_DEPTH
from trailkeeper.errors import AwsError


def _glue(target: str, body: bytes) -> HttpRequest:
    headers = {"content-type": "application/x-amz-json-1.1", "x-amz-target": f"AWSGlue.{target}"}
    return raw_request("POST", body=body, headers=headers)


def _parse(service: str, req: HttpRequest) -> object:
    return parse_request(entry(service), resolve_operation(entry(service), req), req)


def _result(parse: Callable[[], object], protocol: str = "json") -> str:
    """ "params" when parsing gave a dict, else the AwsError's code; any other exception propagates."""
    try:
        return "params" if isinstance(parse(), dict) else "not a dict"
    except AwsError as err:
        return err.code_for(protocol)


def _nested_mappings(depth: int) -> bytes:
    # CreateJob's Mapping.Children is a recursive shape: nesting it is legal JSON of unbounded depth.
    mapping = '{"ToKey": "k"}'
    for _ in range(depth):
        mapping = '{"ToKey": "k", "Children": [' + mapping + "]}"
    node = '{"ApplyMapping": {"Name": "m", "Inputs": ["i"], "Mapping": [' + mapping + "]}}"
    return (
        '{"Name": "j", "Role": "r", "Command": {}, "CodeGenConfigurationNodes": {"n": ' + node + "}}"
    ).encode()


MALFORMED = [
    ("glue", _glue("GetDatabase", b'{"Name": '), "SerializationException", ""),
    (
        "glue",
        _glue("GetDatabase", b"[1, 2, 3]"),
        "SerializationException",
        "Start of list found where not expected",
    ),
    ("glue", _glue("GetDatabase", b'"name"'), "SerializationException", "Unexpected field type"),
    ("glue", _glue("GetDatabase", b'{"Name": "\xff\xfe"}'), "SerializationException", ""),
    ("glue", _glue("GetDatabase", b"\xff\xfe\x00garbage"), "SerializationException", ""),
    (
        "glue",
        _glue("GetDatabase", b'{"Name": {"deep": ' * 5000 + b"1" + b"}" * 5000),
        "SerializationException",
        "",
    ),
    ("glue", _glue("GetDatabase", b"[" * 10_000 + b"]" * 10_000), "SerializationException", ""),
    (
        "glue",
        _glue("CreateJob", _nested_mappings(MAX_DEPTH // 2)),
        "SerializationException",
        f"Request nesting exceeds the maximum depth of {MAX_DEPTH}",
    ),
    (
        "glue",
        _glue("GetDatabase", b'{"Name": 5}'),
        "SerializationException",
        "NUMBER_VALUE cannot be converted to String",
    ),
    (
        "glue",
        _glue("GetDatabase", b'{"Name": true}'),
        "SerializationException",
        "TRUE_VALUE cannot be converted to String",
    ),
    (
        "glue",
        _glue("CreateDatabase", b'{"DatabaseInput": "not-an-object"}'),
        "SerializationException",
        "Unexpected field type",
    ),
    (
        "glue",
        _glue("CreateDatabase", b'{"DatabaseInput": {"Name": "d", "Parameters": []}}'),
        "SerializationException",
        "Start of list found where not expected",
    ),
    (
        "glue",
        _glue("GetTables", b'{"DatabaseName": "d", "MaxResults": "10"}'),
        "SerializationException",
        "STRING_VALUE cannot be converted to Integer",
    ),
    (
        "glue",
        _glue("GetTables", b'{"DatabaseName": "d", "MaxResults": 1.5}'),
        "SerializationException",
        "DECIMAL_VALUE cannot be converted to Integer",
    ),
    (
        "glue",
        _glue("GetTables", b'{"DatabaseName": "d", "MaxResults": 4294967296}'),
        "SerializationException",
        "NUMBER_VALUE cannot be converted to Integer",
    ),
    (
        "glue",
        _glue("CreateJob", b'{"Name": "j", "Role": "r", "Command": {}, "MaxCapacity": "lots"}'),
        "SerializationException",
        "STRING_VALUE cannot be converted to Double",
    ),
    (
        "glue",
        _glue("GetDatabases", b'{"AttributesToGet": {"a": 1}}'),
        "SerializationException",
        "Start of structure or map found where not expected",
    ),
    (
        "glue",
        _glue("CreateTable", b'{"DatabaseName": "d", "TableInput": {"Name": "t", "LastAccessTime": "soon"}}'),
        "SerializationException",
        "STRING_VALUE cannot be converted to Date",
    ),
    (
        "glue",
        _glue("CreateTable", b'{"DatabaseName": "d", "TableInput": {"Name": "t", "LastAccessTime": 1e300}}'),
        "SerializationException",
        "DECIMAL_VALUE cannot be converted to Date",
    ),
    (
        "glue",
        _glue(
            "UpdateColumnStatisticsForTable",
            b'{"ColumnStatisticsList": [{"StatisticsData": {'
            b'"DecimalColumnStatisticsData": {"MinimumValue": {"UnscaledValue": "not base64!"}}}}]}',
        ),
        "SerializationException",
        "only base-64-encoded strings are convertible to bytes",
    ),
    (
        "glue",
        _glue(
            "UpdateColumnStatisticsForTable",
            b'{"ColumnStatisticsList": [{"StatisticsData": {'
            b'"DecimalColumnStatisticsData": {"MinimumValue": {"UnscaledValue": 12}}}}]}',
        ),
        "SerializationException",
        "only base-64-encoded strings are convertible to bytes",
    ),
    (
        "emr-serverless",
        raw_request("GET", "/applications", query="maxResults=ten"),
        "SerializationException",
        "STRING_VALUE cannot be converted to Integer",
    ),
    (
        "emr-serverless",
        raw_request("GET", "/applications/a/jobruns", query="createdAtAfter=yesterday"),
        "SerializationException",
        "STRING_VALUE cannot be converted to Date",
    ),
    ("emr-serverless", raw_request("POST", "/applications", body=b"{"), "SerializationException", ""),
    (
        "emr-serverless",
        raw_request("POST", "/applications", body=b'{"name": ["x"]}'),
        "SerializationException",
        "Start of list found where not expected",
    ),
    (
        "sts",
        raw_request("POST", body=b"Action=AssumeRole&Version=2011-06-15&DurationSeconds=long"),
        "ValidationException",
        "Value 'long' at 'DurationSeconds' cannot be converted to Integer",
    ),
]


@pytest.mark.parametrize(
    ("service", "req", "code", "message"), MALFORMED, ids=[f"{m[0]}:{m[3] or m[2]}"[:70] for m in MALFORMED]
)
def test_parse_malformed_input_is_aws_error(service: str, req: HttpRequest, code: str, message: str) -> None:
    with pytest.raises(AwsError) as info:
        _parse(service, req)
    assert (info.value.code, info.value.status, info.value.message) == (code, 400, message)


def test_parse_query_bad_value_is_validation_error_for_query_clients() -> None:
    req = raw_request("POST", body=b"Action=AssumeRole&Version=2011-06-15&DurationSeconds=x")
    with pytest.raises(AwsError) as info:
        _parse("sts", req)
    assert info.value.code_for("query") == "ValidationError"


def test_parse_json_unknown_members_and_nulls_are_dropped() -> None:
    req = _glue("GetDatabase", b'{"Name": "d", "Bogus": {"x": [1]}, "CatalogId": null}')
    assert _parse("glue", req) == {"Name": "d"}


def test_parse_json_empty_body_is_no_params() -> None:
    assert _parse("glue", _glue("GetDatabases", b"")) == {}


def test_parse_json_timestamps_accept_epoch_and_iso_strings() -> None:
    body = b'{"DatabaseName": "d", "TableInput": {"Name": "t", "LastAccessTime": 1700000000.25,'
    body += b' "LastAnalyzedTime": "2024-01-02T03:04:05Z"}}'
    table = _parse("glue", _glue("CreateTable", body))["TableInput"]  # type: ignore[index]
    assert table["LastAccessTime"] == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert table["LastAnalyzedTime"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_parse_json_nesting_up_to_the_limit_is_accepted() -> None:
    parsed = _parse("glue", _glue("CreateJob", _nested_mappings(MAX_DEPTH // 2 - 3)))
    assert parsed["Name"] == "j"  # type: ignore[index]


def test_parse_rest_header_and_query_maps_are_read() -> None:
    # No served REST operation carries header or map members, so S3 (rest-xml locations) shows them.
    req = raw_request(
        "GET",
        "/bucket/key.txt",
        headers={"if-modified-since": "Tue, 01 Jan 2030 00:00:00 GMT", "x-amz-checksum-mode": "ENABLED"},
        query="versionId=v1&partNumber=2",
    )
    op = entry("s3").model.operation_model("GetObject")
    parsed = parse_request(dataclasses.replace(entry("s3"), protocol="rest-json"), op, req)
    assert parsed == {
        "Bucket": "bucket",
        "Key": "key.txt",
        "VersionId": "v1",
        "PartNumber": 2,
        "IfModifiedSince": datetime(2030, 1, 1, tzinfo=UTC),
        "ChecksumMode": "ENABLED",
    }


_bodies = st.one_of(
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "Name",
                        "DatabaseInput",
                        "Parameters",
                        "TableInput",
                        "StorageDescriptor",
                        "Columns",
                        "LastAccessTime",
                        "x",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=30,
    ).map(orjson.dumps),
)


@settings(max_examples=150, deadline=None, database=None)
@given(body=_bodies, target=st.sampled_from(["CreateTable", "CreateDatabase", "GetDatabase", "StartJobRun"]))
def test_parse_json_fuzzed_body_is_params_or_aws_error(body: bytes, target: str) -> None:
    assert _result(lambda: _parse("glue", _glue(target, body))) in ("params", "SerializationException")


@settings(max_examples=150, deadline=None, database=None)
@given(body=st.text(alphabet="AcinoRsT=&.%+0123456789member", max_size=80))
def test_parse_query_fuzzed_form_is_params_or_aws_error(body: str) -> None:
    req = raw_request("POST", body=f"Action=AssumeRole&Version=2011-06-15&{body}".encode())
    assert _result(lambda: _parse("sts", req), protocol="query") in ("params", "ValidationError")


@settings(max_examples=150, deadline=None, database=None)
@given(
    path=st.text(alphabet="/abcdeijnoprstu%{}+", max_size=40),
    query=st.text(max_size=30),
    method=st.sampled_from(["GET", "POST", "DELETE", "PATCH", "PUT"]),
)
def test_parse_rest_fuzzed_request_is_params_or_aws_error(path: str, query: str, method: str) -> None:
    result = _result(lambda: _parse("emr-serverless", raw_request(method, path, query=query)))
    assert result in ("params", "UnknownOperationException", "SerializationException")


def test_parse_request_protocol_without_parser_is_refused() -> None:
    req = http_request("s3", "ListBuckets", {})
    ec2 = dataclasses.replace(entry("s3"), protocol="ec2")  # type: ignore[arg-type]  # not a Protocol we parse
    with pytest.raises(ValueError, match="ec2"):
        parse_request(ec2, entry("s3").model.operation_model("ListBuckets"), req)
