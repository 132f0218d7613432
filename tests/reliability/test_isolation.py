"""Isolation: from account B, every surface returns nothing of account A's events.

A has a logging trail delivering to its own bucket and some activity (a Glue database, an EMR
Serverless application); B has its own. Then B asks, with everything it can learn or guess of A
(event ids, A's access key, user and resource names, A's trail ARN, a NextToken minted for A):
LookupEvents under every attribute in two regions, the trail API, the S3 view of the buckets,
and the web console (pages and downloads).
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
import httpx
import pytest

from tests.e2e.conftest import ACCOUNT_A, ACCOUNT_B, ALICE, BOB, Keys, lookup_all
from tests.reliability._support import Figures, ReliabilityServer, config_file, make_client

BUCKETS = (
    f'\n[delivery]\ninterval_seconds = 1\n\n[[bucket]]\nname = "a-logs"\naccount = "{ACCOUNT_A}"\n'
    f'\n[[bucket]]\nname = "b-logs"\naccount = "{ACCOUNT_B}"\n'
)
TRAIL = "a-trail"


@dataclass
class World:
    srv: ReliabilityServer
    a_event_ids: set[str]
    a_request_ids: set[str]
    a_trail_arn: str
    a_log_key: str
    a_token: str  # a LookupEvents NextToken minted for A
    checks: dict[str, int]

    def leaked(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records that belong to A, however they are recognized."""
        return [
            r
            for r in records
            if r.get("recipientAccountId") == ACCOUNT_A
            or r.get("userIdentity", {}).get("accountId") == ACCOUNT_A
            or r.get("eventID") in self.a_event_ids
            or r.get("requestID") in self.a_request_ids
        ]

    def count(self, surface: str) -> None:
        self.checks[surface] = self.checks.get(surface, 0) + 1


def _wait(probe: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.25)


def _records(ct: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return [json.loads(e["CloudTrailEvent"]) for e in lookup_all(ct, **kwargs)]


def _activity(url: str, keys: Keys, tag: str) -> None:
    for region in ("us-east-1", "eu-west-1"):
        glue = make_client(url, "glue", keys, region)
        glue.create_database(DatabaseInput={"Name": f"{tag}-secret-db"})
        glue.get_database(Name=f"{tag}-secret-db")
    make_client(url, "emr-serverless", keys).create_application(
        name=f"{tag}-secret-app", releaseLabel="emr-6.6.0", type="SPARK"
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, figures: Figures) -> Iterator[World]:
    root = tmp_path_factory.mktemp("isolation")
    srv = ReliabilityServer(root / "data", config=config_file(root, extra=BUCKETS))
    srv.start()
    ct_a = make_client(srv.url, "cloudtrail", ALICE)
    arn = ct_a.create_trail(Name=TRAIL, S3BucketName="a-logs", IsMultiRegionTrail=True)["TrailARN"]
    ct_a.start_logging(Name=TRAIL)
    make_client(srv.url, "cloudtrail", BOB).create_trail(Name="b-trail", S3BucketName="b-logs")
    _activity(srv.url, ALICE, "a")
    _activity(srv.url, BOB, "b")
    s3_a = make_client(srv.url, "s3", ALICE)
    _wait(lambda: bool(s3_a.list_objects_v2(Bucket="a-logs").get("KeyCount")))
    records = [json.loads(e["CloudTrailEvent"]) for e in lookup_all(ct_a)]
    records += [
        json.loads(e["CloudTrailEvent"])
        for e in lookup_all(make_client(srv.url, "cloudtrail", ALICE, "eu-west-1"))
    ]
    token = ct_a.lookup_events(MaxResults=1)["NextToken"]
    key = s3_a.list_objects_v2(Bucket="a-logs")["Contents"][0]["Key"]
    state = World(
        srv, {r["eventID"] for r in records}, {r["requestID"] for r in records}, arn, key, token, {}
    )
    yield state
    srv.stop()
    figures.record(
        "isolation",
        account_a_events=len(state.a_event_ids),
        checks=state.checks,
        total_checks=sum(state.checks.values()),
        leaked=0,
    )


def _attribute_values(world: World) -> dict[str, list[str]]:
    glue_arn = f"arn:aws:glue:us-east-1:{ACCOUNT_A}:database/a-secret-db"
    return {
        "EventId": sorted(world.a_event_ids)[:8],
        "AccessKeyId": [ALICE.access_key_id],
        "Username": ["alice"],
        "ResourceName": ["a-secret-db", glue_arn, "a-secret-app", TRAIL, world.a_trail_arn],
        "ResourceType": ["AWS::Glue::Database", "AWS::EMRServerless::Application", "AWS::CloudTrail::Trail"],
        "EventName": ["CreateDatabase", "GetDatabase", "CreateApplication", "CreateTrail", "StartLogging"],
        "EventSource": ["glue.amazonaws.com", "emr-serverless.amazonaws.com", "cloudtrail.amazonaws.com"],
        "ReadOnly": ["true", "false"],
    }


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_lookup_events_under_every_attribute_shows_b_nothing_of_a(world: World, region: str) -> None:
    ct_b = make_client(world.srv.url, "cloudtrail", BOB, region)
    own = _records(ct_b)
    assert own, "B sees its own events (the check below is not vacuous)"
    assert not world.leaked(own)
    world.count("LookupEvents")
    for key, values in _attribute_values(world).items():
        for value in values:
            found = _records(ct_b, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
            assert not world.leaked(found), f"{key}={value} in {region} showed B an event of A"
            world.count("LookupEvents")
    mine = _records(
        ct_b, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateDatabase"}]
    )
    assert {r["requestParameters"]["databaseInput"]["name"] for r in mine} == {"b-secret-db"}


def test_a_next_token_used_by_b_shows_nothing_of_a(world: World) -> None:
    ct_b = make_client(world.srv.url, "cloudtrail", BOB)
    page = _answer(lambda: ct_b.lookup_events(MaxResults=1, NextToken=world.a_token))
    if isinstance(page, str):
        assert page == "InvalidNextTokenException"
    else:
        assert not world.leaked([json.loads(e["CloudTrailEvent"]) for e in page["Events"]])
    world.count("NextToken")


def _answer(call: Callable[[], Any]) -> Any:
    """The call's result, or its error code when it was refused with a 4xx."""
    try:
        return call()
    except botocore.exceptions.ClientError as err:
        status, code = err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Code"]
    assert 400 <= status < 500, code
    return code


def _refused(world: World, surface: str, call: Callable[[], Any]) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    assert 400 <= info.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    world.count(surface)


def test_trail_api_shows_b_nothing_of_a_and_changes_nothing(world: World) -> None:
    ct_b, arn = make_client(world.srv.url, "cloudtrail", BOB), world.a_trail_arn
    listed = json.dumps(ct_b.describe_trails()["trailList"]) + json.dumps(ct_b.list_trails()["Trails"])
    assert TRAIL not in listed
    assert ACCOUNT_A not in listed
    described = _answer(lambda: ct_b.describe_trails(trailNameList=[arn]))
    assert isinstance(described, str) or described["trailList"] == []
    world.count("trails")
    selectors = [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]
    for call in (
        lambda: ct_b.get_trail(Name=arn),
        lambda: ct_b.get_trail_status(Name=arn),
        lambda: ct_b.get_event_selectors(TrailName=arn),
        lambda: ct_b.list_tags(ResourceIdList=[arn]),
        lambda: ct_b.stop_logging(Name=arn),
        lambda: ct_b.update_trail(Name=arn, S3BucketName="b-logs"),
        lambda: ct_b.put_event_selectors(TrailName=arn, EventSelectors=selectors),
        lambda: ct_b.add_tags(ResourceId=arn, TagsList=[{"Key": "owner", "Value": "b"}]),
        lambda: ct_b.delete_trail(Name=arn),
    ):
        _refused(world, "trails", call)
    ct_a = make_client(world.srv.url, "cloudtrail", ALICE)
    assert ct_a.get_trail_status(Name=TRAIL)["IsLogging"]
    assert ct_a.get_trail(Name=TRAIL)["Trail"]["S3BucketName"] == "a-logs"
    assert ct_a.list_tags(ResourceIdList=[arn])["ResourceTagList"][0].get("TagsList", []) == []


def test_s3_view_shows_b_nothing_of_a(world: World) -> None:
    s3_b, key = make_client(world.srv.url, "s3", BOB), world.a_log_key
    assert "a-logs" not in {b["Name"] for b in s3_b.list_buckets()["Buckets"]}
    world.count("S3 view")
    for call in (
        lambda: s3_b.list_objects_v2(Bucket="a-logs"),
        lambda: s3_b.list_objects(Bucket="a-logs"),
        lambda: s3_b.get_object(Bucket="a-logs", Key=key),
        lambda: s3_b.head_object(Bucket="a-logs", Key=key),
        lambda: s3_b.get_bucket_location(Bucket="a-logs"),
        lambda: s3_b.head_bucket(Bucket="a-logs"),
        # B's own bucket, walked out of by the key: a local bucket is a directory on disk.
        lambda: s3_b.get_object(Bucket="b-logs", Key=f"../a-logs/{key}"),
        lambda: s3_b.get_object(Bucket="b-logs", Key=f"%2e%2e/a-logs/{key}"),
    ):
        _refused(world, "S3 view", call)
    for obj in s3_b.list_objects_v2(Bucket="b-logs").get("Contents", []):
        body = s3_b.get_object(Bucket="b-logs", Key=obj["Key"])["Body"].read()
        text = gzip.decompress(body) if obj["Key"].endswith(".gz") else body
        assert not world.leaked(json.loads(text).get("Records", []))


def _console_as(url: str, keys: Keys) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=True, timeout=10)
    form = client.get("/console/signin")
    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert match, "the sign-in form carries a CSRF token"
    fields = {"csrf": match.group(1), "next": "/console/events", "region": "us-east-1"}
    fields |= {"access_key_id": keys.access_key_id, "secret_access_key": keys.secret_access_key}
    signed_in = client.post("/console/signin", data=fields)
    assert signed_in.status_code == 200, signed_in.text[:300]
    return client


def test_console_shows_b_nothing_of_a(world: World) -> None:
    console = _console_as(world.srv.url, BOB)
    try:
        download = console.get("/console/events/download.json", params={"readonly": "show", "range": "7d"})
        records = download.json()["Records"]
        assert records
        assert not world.leaked(records)
        world.count("console")
        some_id = sorted(world.a_event_ids)[0]
        assert console.get(f"/console/events/{some_id}").status_code == 404
        pages = [
            console.get("/console/events", params={"attr": "EventId", "value": some_id, "readonly": "show"}),
            console.get("/console/events", params={"attr": "Username", "value": "alice", "readonly": "show"}),
            console.get("/console/events", params={"token": world.a_token, "readonly": "show"}),
            console.get("/console/activity", params={"readonly": "show"}),
            console.get("/console/trails"),
        ]
        for page in pages:
            assert page.status_code < 500
            text = page.text
            # Event ids show as row permalinks; the one B typed into the filter is echoed back as typed.
            assert not [i for i in world.a_event_ids if f"/events/{i}" in text], page.url
            assert "a-secret" not in text
            assert world.a_trail_arn not in text
            assert ALICE.access_key_id not in text
            world.count("console")
    finally:
        console.close()
