"""record/uri_form.py: S3's requestParameters, rebuilt from the parsed call, checked against real records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.model import ServiceModel

from trailkeeper.record.rules import ServiceRules, load_rules
from trailkeeper.record.uri_form import uri_form

from .support import SAMPLES


@pytest.fixture(scope="module")
def s3() -> ServiceModel:
    return botocore.session.get_session().get_service_model("s3")


@pytest.fixture(scope="module")
def s3_rules(s3: ServiceModel) -> ServiceRules:
    return load_rules("s3", s3)


def _real_s3_records() -> Iterator[dict[str, Any]]:
    files = sorted((SAMPLES / "invictus-ir_aws_dataset" / "CloudTrail").glob("*.json"))
    files += sorted((SAMPLES / "stratus-red-team_detonation-logs").glob("*.json"))
    if not files:
        pytest.skip(f"real CloudTrail samples not available under {SAMPLES}")
    for path in files:
        loaded = json.loads(path.read_text("utf-8"))
        records = loaded["Records"] if isinstance(loaded, dict) else loaded
        yield from (r for r in records if r.get("eventSource") == "s3.amazonaws.com")


def test_bucket_calls_rebuild_the_real_records_request_parameters(
    s3: ServiceModel, s3_rules: ServiceRules
) -> None:
    assert s3_rules.uri_labels is not None
    checked = set()
    for record in _real_s3_records():
        real = record.get("requestParameters") or {}
        name = record["eventName"]
        if name not in s3.operation_names or set(real) - {"bucketName", "Host"} - _flags(s3, name):
            continue  # an S3 Control call, or one with query members the record does not show
        params = {"Bucket": real["bucketName"]} if "bucketName" in real else {}
        ours = uri_form(s3.operation_model(name), params, s3_rules.uri_labels, real.get("Host", ""))
        assert ours == (real or None), (name, record["eventID"])
        checked.add(name)
    # Bucket reads of several kinds: sub-resource flags, bare bucket calls, the service root.
    assert {"GetBucketLocation", "GetBucketAcl", "ListBuckets"} <= checked, checked


def _flags(s3: ServiceModel, name: str) -> set[str]:
    query = s3.operation_model(name).http.get("requestUri", "").partition("?")[2]
    return {flag.partition("=")[0] for flag in query.split("&") if flag}


def test_list_objects_v2_logs_query_members_by_wire_name_as_strings(
    s3: ServiceModel, s3_rules: ServiceRules
) -> None:
    assert s3_rules.uri_labels is not None
    params = {"Bucket": "audit-logs", "Prefix": "AWSLogs/", "MaxKeys": 100, "FetchOwner": True}
    ours = uri_form(s3.operation_model("ListObjectsV2"), params, s3_rules.uri_labels, "127.0.0.1:4566")
    assert ours == {
        "bucketName": "audit-logs",
        "list-type": "2",
        "prefix": "AWSLogs/",
        "max-keys": "100",
        "fetch-owner": "true",
        "Host": "127.0.0.1:4566",
    }


def test_object_calls_name_the_key(s3: ServiceModel, s3_rules: ServiceRules) -> None:
    assert s3_rules.uri_labels is not None
    params = {"Bucket": "audit-logs", "Key": "AWSLogs/x.json.gz", "Range": "bytes=0-9"}
    ours = uri_form(s3.operation_model("GetObject"), params, s3_rules.uri_labels, "h")
    assert ours == {"bucketName": "audit-logs", "key": "AWSLogs/x.json.gz", "Host": "h"}  # headers stay out
