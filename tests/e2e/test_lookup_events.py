"""LookupEvents through boto3 and the aws CLI: every attribute, paging, time ranges, errors, isolation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from tests.e2e.conftest import ACCOUNT_A, ALICE, BOB, ClientFactory, Keys, aws_cli, find_event, lookup_all
from tests.e2e.server import TrailkeeperServer


def _attr(key: str, value: str) -> dict[str, Any]:
    return {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}


@pytest.fixture(scope="module")
def scenario(server: TrailkeeperServer) -> dict[str, Any]:
    """A fresh federated user makes a known set of calls; every lookup below must find exactly them."""
    from tests.e2e.conftest import make_client

    name = f"fed{uuid.uuid4().hex[:8]}"
    c = make_client(server.url, "sts", ALICE).get_federation_token(Name=name, DurationSeconds=900)[
        "Credentials"
    ]
    keys = Keys(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    glue = make_client(server.url, "glue", keys)
    db = f"db{uuid.uuid4().hex[:8]}"
    ids = [glue.create_database(DatabaseInput={"Name": db})["ResponseMetadata"]["RequestId"]]
    ids += [glue.get_database(Name=db)["ResponseMetadata"]["RequestId"] for _ in range(5)]
    emr = make_client(server.url, "emr-serverless", keys)
    app = emr.create_application(name="lk", releaseLabel="emr-6.6.0", type="SPARK")
    ids.append(app["ResponseMetadata"]["RequestId"])
    return {"name": name, "keys": keys, "db": db, "request_ids": ids, "app": app["applicationId"]}


def _request_ids(events: list[dict[str, Any]]) -> list[str]:
    return [json.loads(e["CloudTrailEvent"])["requestID"] for e in events]


def test_lookup_by_username_pages_newest_first(client: ClientFactory, scenario: dict[str, Any]) -> None:
    ct = client("cloudtrail")
    pages = list(
        ct.get_paginator("lookup_events").paginate(
            **_attr("Username", scenario["name"]), PaginationConfig={"PageSize": 3}
        )
    )
    assert [len(p["Events"]) for p in pages] == [3, 3, 1]
    events = [e for p in pages for e in p["Events"]]
    assert sorted(_request_ids(events)) == sorted(scenario["request_ids"])
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    assert all(e["Username"] == scenario["name"] for e in events)


def test_lookup_by_access_key_id_finds_only_that_key(client: ClientFactory, scenario: dict[str, Any]) -> None:
    events = lookup_all(client("cloudtrail"), **_attr("AccessKeyId", scenario["keys"].access_key_id))
    assert sorted(_request_ids(events)) == sorted(scenario["request_ids"])
    assert {e["AccessKeyId"] for e in events} == {scenario["keys"].access_key_id}


def test_lookup_by_resource_name_and_type(client: ClientFactory, scenario: dict[str, Any]) -> None:
    ct = client("cloudtrail")
    by_name = lookup_all(ct, **_attr("ResourceName", scenario["db"]))
    assert sorted(_request_ids(by_name)) == sorted(scenario["request_ids"][:6])
    assert all(
        {"ResourceType": "AWS::Glue::Database", "ResourceName": scenario["db"]} in e["Resources"]
        for e in by_name
    )
    by_type = lookup_all(ct, **_attr("ResourceType", "AWS::EMRServerless::Application"))
    assert scenario["request_ids"][6] in _request_ids(by_type)
    assert all(
        any(r["ResourceType"] == "AWS::EMRServerless::Application" for r in e["Resources"]) for e in by_type
    )


def test_lookup_by_event_id_event_name_source_and_read_only(
    client: ClientFactory, scenario: dict[str, Any]
) -> None:
    ct = client("cloudtrail")
    one = lookup_all(ct, **_attr("Username", scenario["name"]))[0]
    assert [e["EventId"] for e in lookup_all(ct, **_attr("EventId", one["EventId"]))] == [one["EventId"]]
    names = lookup_all(ct, **_attr("EventName", "GetDatabase"))
    assert set(scenario["request_ids"][1:6]) <= set(_request_ids(names))
    assert {e["EventName"] for e in names} == {"GetDatabase"}
    sources = lookup_all(ct, **_attr("EventSource", "emr-serverless.amazonaws.com"))
    assert scenario["request_ids"][6] in _request_ids(sources)
    assert {e["EventSource"] for e in sources} == {"emr-serverless.amazonaws.com"}
    reads = lookup_all(ct, **_attr("ReadOnly", "true"))
    assert set(scenario["request_ids"][1:6]) <= set(_request_ids(reads))
    assert {e["ReadOnly"] for e in reads} == {"true"}
    writes = lookup_all(ct, **_attr("ReadOnly", "false"))
    assert scenario["request_ids"][0] in _request_ids(writes)
    assert {e["ReadOnly"] for e in writes} == {"false"}


def test_paging_stays_correct_while_new_events_arrive(
    client: ClientFactory, scenario: dict[str, Any]
) -> None:
    ct = client("cloudtrail")
    glue = client("glue", scenario["keys"])
    first = ct.lookup_events(**_attr("Username", scenario["name"]), MaxResults=2)
    for _ in range(3):  # newer events arrive between pages
        glue.get_database(Name=scenario["db"])
    seen = list(first["Events"])
    token = first.get("NextToken")
    while token:
        page = ct.lookup_events(**_attr("Username", scenario["name"]), MaxResults=2, NextToken=token)
        seen.extend(page["Events"])
        token = page.get("NextToken")
    ids = [e["EventId"] for e in seen]
    assert len(ids) == len(set(ids))
    assert set(scenario["request_ids"]) <= set(_request_ids(seen))


def test_time_range_bounds_results(client: ClientFactory, scenario: dict[str, Any]) -> None:
    ct = client("cloudtrail")
    future = datetime.now(UTC) + timedelta(hours=1)
    assert ct.lookup_events(StartTime=future, EndTime=future + timedelta(hours=1))["Events"] == []
    now = datetime.now(UTC) + timedelta(seconds=5)
    recent = lookup_all(
        ct, StartTime=now - timedelta(minutes=10), EndTime=now, **_attr("Username", scenario["name"])
    )
    assert len(recent) >= 7


def test_other_account_and_other_region_see_nothing(client: ClientFactory, scenario: dict[str, Any]) -> None:
    assert lookup_all(client("cloudtrail", BOB), **_attr("Username", scenario["name"])) == []
    assert lookup_all(client("cloudtrail", BOB), **_attr("ResourceName", scenario["db"])) == []
    assert lookup_all(client("cloudtrail", ALICE, "eu-west-1"), **_attr("Username", scenario["name"])) == []


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        (
            {
                "LookupAttributes": [
                    {"AttributeKey": "EventName", "AttributeValue": "A"},
                    {"AttributeKey": "EventName", "AttributeValue": "B"},
                ]
            },
            "InvalidLookupAttributesException",
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "Bogus", "AttributeValue": "A"}]},
            "InvalidLookupAttributesException",
        ),
        ({"MaxResults": 0}, "InvalidMaxResultsException"),
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        (
            {"StartTime": datetime(2026, 1, 2, tzinfo=UTC), "EndTime": datetime(2026, 1, 1, tzinfo=UTC)},
            "InvalidTimeRangeException",
        ),
        ({"NextToken": "not-a-token"}, "InvalidNextTokenException"),
        ({"EventCategory": "nope"}, "InvalidEventCategoryException"),
    ],
)
def test_bad_lookup_input_gets_aws_error(
    server: TrailkeeperServer, kwargs: dict[str, Any], code: str
) -> None:
    ct = boto3.session.Session().client(
        "cloudtrail",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=ALICE.access_key_id,
        aws_secret_access_key=ALICE.secret_access_key,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ct.lookup_events(**kwargs)
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_lookup_events_is_itself_recorded_read_only(client: ClientFactory) -> None:
    ct = client("cloudtrail")
    resp = ct.lookup_events(MaxResults=1)
    record = find_event(ct, resp["ResponseMetadata"]["RequestId"], "LookupEvents")
    assert record["eventSource"] == "cloudtrail.amazonaws.com"
    assert record["readOnly"] is True
    assert record["managementEvent"] is True
    assert record["responseElements"] is None


def test_aws_cli_lookup_events_and_glue(server: TrailkeeperServer, scenario: dict[str, Any]) -> None:
    db = f"cli{uuid.uuid4().hex[:8]}"
    made = aws_cli(server.url, ALICE, "glue", "create-database", "--database-input", json.dumps({"Name": db}))
    assert made.returncode == 0, made.stderr
    out = aws_cli(
        server.url,
        ALICE,
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        f"AttributeKey=ResourceName,AttributeValue={db}",
    )
    assert out.returncode == 0, out.stderr
    events = json.loads(out.stdout)["Events"]
    assert [e["EventName"] for e in events] == ["CreateDatabase"]
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["userAgent"].startswith("aws-cli/")
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_A}:user/alice"
    emr = aws_cli(server.url, ALICE, "emr-serverless", "list-applications")
    assert emr.returncode == 0, emr.stderr
    assert "applications" in json.loads(emr.stdout)
