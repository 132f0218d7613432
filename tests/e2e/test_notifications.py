"""Notifications and streams end to end: a real server delivering every second; moto's SNS, SQS, Logs and
EventBridge and a stdlib webhook as the far side; boto3 as the user reading what arrived."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from tests.e2e.conftest import ACCOUNT_A, ACCOUNT_B, ALICE, BOB, CONFIG, Keys, make_client
from tests.e2e.server import TrailkeeperServer
from tests.unit.delivery.sinks.farside import MotoServer, Switch, Webhook, run_webhook

BUCKET = "audit-logs"
SLOW_TOPIC = "slow-hook"  # a webhook that answers after 10 s
ROLE = f"arn:aws:iam::{ACCOUNT_A}:role/CloudTrail_CloudWatchLogs_Role"
# Canaries: secrets in the sinks' config that must reach no log line and no stored byte.
HOOK_TOKEN = "canary-hook-token-7f3a"
SNS_SECRET = "canarySnsSecretKey0000000000000000000000"
Files = dict[str, list[dict[str, Any]]]
_T = TypeVar("_T")


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"), account_id=ACCOUNT_A)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sns_switch(moto: MotoServer) -> Iterator[Switch]:
    """The SNS endpoint as the server sees it; switching it off is an SNS outage."""
    switch = Switch(moto.port)
    switch.on()
    yield switch
    switch.off()


@pytest.fixture(scope="module")
def slow_hook() -> Iterator[Webhook]:
    with run_webhook(delay=10.0) as hook:
        yield hook


@pytest.fixture(scope="module")
def srv(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoServer, sns_switch: Switch, slow_hook: Webhook
) -> Iterator[TrailkeeperServer]:
    root = tmp_path_factory.mktemp("notify")
    config = root / "trailkeeper.toml"
    config.write_text(
        CONFIG
        + "\n[delivery]\ninterval_seconds = 1\n"
        + f'\n[[bucket]]\nname = "{BUCKET}"\naccount = "{ACCOUNT_A}"\nwriters = ["{ACCOUNT_B}"]\n'
        + f'\n[[endpoint]]\nservice = "sns"\nurl = "{sns_switch.url}"\n'
        + f'access_key_id = "AKIASNSCANARY0000001"\nsecret_access_key = "{SNS_SECRET}"\n'
        + f'\n[[endpoint]]\nservice = "logs"\nurl = "{moto.url}"\n'
        + f'\n[[endpoint]]\nservice = "events"\nurl = "{moto.url}"\n'
        + f'\n[[webhook]]\ntopic = "{SLOW_TOPIC}"\nurl = "{slow_hook.url}?token={HOOK_TOKEN}"\n'
    )
    server = TrailkeeperServer(root / "data", config=config)
    server.start()
    yield server
    server.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def start_trail(url: str, name: str, keys: Keys = ALICE, **options: Any) -> str:
    ct = make_client(url, "cloudtrail", keys)
    ct.create_trail(Name=name, S3BucketName=BUCKET, S3KeyPrefix=name, **options)
    ct.start_logging(Name=name)
    return name


def calls(url: str, count: int, keys: Keys = ALICE) -> list[str]:
    glue = make_client(url, "glue", keys)
    return [glue.get_databases()["ResponseMetadata"]["RequestId"] for _ in range(count)]


def wait_for(probe: Callable[[], _T | None], timeout: float = 20.0) -> _T:
    deadline = time.monotonic() + timeout
    while not (result := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.2)
    return result


def delivered(s3: Any, prefix: str) -> Files:
    """Every log file of the trail, read back through the server's S3 view: key -> records."""
    files: Files = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            files[obj["Key"]] = json.loads(gzip.decompress(body))["Records"]
    return files


def request_ids(files: Files) -> set[str]:
    return {record["requestID"] for records in files.values() for record in records}


def files_with(srv: TrailkeeperServer, prefix: str, ids: list[str], timeout: float = 20) -> Files:
    s3 = make_client(srv.url, "s3", ALICE)

    def complete() -> Files | None:
        files = delivered(s3, prefix)
        return files if set(ids) <= request_ids(files) else None

    return wait_for(complete, timeout)


def notified_keys(moto: MotoServer, queue: str, want: set[str], timeout: float = 20) -> set[str]:
    """Object keys named by the SNS messages on ``queue``, once they cover ``want``."""
    keys: set[str] = set()
    deadline = time.monotonic() + timeout
    while not want <= keys and time.monotonic() < deadline:
        for body in moto.drain_queue(queue, want=1, timeout=1):
            message = json.loads(json.loads(body)["Message"])
            assert message["s3Bucket"] == BUCKET
            keys |= set(message["s3ObjectKey"])
    return keys


def keys_holding(files: Files, ids: list[str]) -> set[str]:
    return {key for key, records in files.items() if {r["requestID"] for r in records} & set(ids)}


def test_trail_with_topic_and_log_group_notifies_streams_and_feeds_eventbridge(
    srv: TrailkeeperServer, moto: MotoServer
) -> None:
    topic = moto.client("sns").create_topic(Name=unique("ct"))["TopicArn"]
    queue = moto.queue_for_topic(topic, unique("ct-q"))
    group = unique("CloudTrail/logs")
    moto.client("logs").create_log_group(logGroupName=group)
    bus_queue = moto.queue_for_rule(
        {"source": ["aws.glue"], "detail-type": ["AWS API Call via CloudTrail"]}, unique("eb")
    )
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT_A}:log-group:{group}:*"
    prefix = start_trail(
        srv.url, unique("notify"), SnsTopicName=topic.rsplit(":", 1)[-1],
        CloudWatchLogsLogGroupArn=group_arn, CloudWatchLogsRoleArn=ROLE,
    )  # fmt: skip
    second = start_trail(srv.url, unique("second"), IsMultiRegionTrail=True)  # covers the same events
    ids = calls(srv.url, 5)
    files = files_with(srv, prefix, ids)
    files_with(srv, second, ids)

    want = keys_holding(files, ids)
    assert want <= notified_keys(moto, queue, want)

    records = {r["requestID"]: r for rs in files.values() for r in rs if r["requestID"] in ids}
    stream = f"{ACCOUNT_A}_CloudTrail_us-east-1"

    def logged() -> dict[str, tuple[dict[str, Any], int]] | None:
        logs = moto.client("logs")
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        found: dict[str, tuple[dict[str, Any], int]] = {}
        for event in events:
            message = json.loads(event["message"])
            if message["requestID"] in ids:
                found[message["requestID"]] = (message, event["timestamp"])
        return found if len(found) == len(ids) else None

    for request_id, (message, timestamp) in wait_for(logged).items():
        assert message == records[request_id]
        assert timestamp == _ms(records[request_id]["eventTime"])

    def ours(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["detail"]["requestID"] in ids]

    on_bus = ours(bus_events(moto, bus_queue, lambda events: len(ours(events)) >= len(ids)))
    assert sorted(e["detail"]["requestID"] for e in on_bus) == sorted(ids)  # once each, though two trails
    for event in on_bus:
        assert event["source"] == "aws.glue"
        assert event["detail"] == records[event["detail"]["requestID"]]
        assert event["time"] == records[event["detail"]["requestID"]]["eventTime"]

    status = make_client(srv.url, "cloudtrail", ALICE).get_trail_status(Name=prefix)
    assert status["LatestNotificationTime"]
    assert status["LatestCloudWatchLogsDeliveryTime"]
    assert "LatestNotificationError" not in status
    assert "LatestCloudWatchLogsDeliveryError" not in status


def _ms(event_time: str) -> int:
    return int(datetime.strptime(event_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() * 1000)


def bus_events(
    moto: MotoServer, queue: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Events a rule delivered to ``queue`` until ``done``, plus one more second to catch duplicates."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while not done(events) and time.monotonic() < deadline:
        events += [json.loads(b) for b in moto.drain_queue(queue, want=1, timeout=1)]
    return events + [json.loads(b) for b in moto.drain_queue(queue, want=10_000, timeout=1)]


def test_sns_endpoint_down_shows_in_status_then_notifications_arrive(
    srv: TrailkeeperServer, moto: MotoServer, sns_switch: Switch
) -> None:
    topic = moto.client("sns").create_topic(Name=unique("outage"))["TopicArn"]
    queue = moto.queue_for_topic(topic, unique("outage-q"))
    prefix = start_trail(srv.url, unique("outage"), SnsTopicName=topic)
    ct = make_client(srv.url, "cloudtrail", ALICE)
    sns_switch.off()
    try:
        during = calls(srv.url, 3)
        files = files_with(srv, prefix, during)
        failing = wait_for(
            lambda: (s := ct.get_trail_status(Name=prefix)).get("LatestNotificationError") and s, 15
        )
        assert "ConnectError" in failing["LatestNotificationError"]
        assert failing["LatestNotificationAttemptTime"]
    finally:
        sns_switch.on()
    want = keys_holding(files, during)
    assert want <= notified_keys(moto, queue, want, timeout=30)
    healed = wait_for(
        lambda: None if (s := ct.get_trail_status(Name=prefix)).get("LatestNotificationError") else s
    )
    assert healed["LatestNotificationTime"]


def test_slow_webhook_holds_neither_another_trails_topic_nor_more_than_one_request(
    srv: TrailkeeperServer, moto: MotoServer, slow_hook: Webhook
) -> None:
    slow = start_trail(srv.url, unique("slow"), BOB, SnsTopicName=SLOW_TOPIC)  # the webhook, by topic name
    topic = moto.client("sns").create_topic(Name=unique("quick"))["TopicArn"]
    queue = moto.queue_for_topic(topic, unique("quick-q"))
    quick = start_trail(srv.url, unique("quick"), SnsTopicName=topic)
    ids, bob_ids = calls(srv.url, 2), calls(srv.url, 2, BOB)
    s3 = make_client(srv.url, "s3", ALICE)
    wait_for(lambda: set(bob_ids) <= request_ids(delivered(s3, slow)))
    slow_hook.wait_for(1)  # the slow trail's first notification is now hanging in the webhook
    hanging_since = time.monotonic()
    want = keys_holding(files_with(srv, quick, ids), ids)
    assert want <= notified_keys(moto, queue, want, timeout=8)
    assert time.monotonic() - hanging_since < 8  # well before the webhook answers (10 s)
    with slow_hook.lock:
        assert slow_hook.peak_concurrent == 1  # one request per trail at a time, however many wait
        first = slow_hook.hits[0]
    assert json.loads(first.body)["s3Bucket"] == BUCKET
    assert first.headers["x-trailkeeper-topic-arn"].endswith(f":{SLOW_TOPIC}")


def test_sink_secrets_reach_no_log_line_and_no_stored_byte(
    srv: TrailkeeperServer, sns_switch: Switch
) -> None:
    """Runs last: by now notices failed (outage), hung (webhook) and succeeded, all logged and stored."""
    sns_switch.off()  # one more failure while this test looks, so error paths are surely exercised
    try:
        calls(srv.url, 1)
        time.sleep(2.5)
    finally:
        sns_switch.on()
    assert "sink sns" in srv.log_text()  # the failures were logged …
    for secret in (HOOK_TOKEN, SNS_SECRET):
        assert secret not in srv.log_text()
        for path in srv.data_dir.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
