"""CloudWatch Logs: one log event per record, read back from moto with GetLogEvents."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.unit.delivery.sinks.farside import MotoServer
from tests.unit.delivery.sinks.support import (
    ACCOUNT,
    T0,
    delivered,
    journal_with,
    make_trail,
    moto_api,
    notice,
    record_entry,
    unique,
)
from trailkeeper.delivery.base import SinkError
from trailkeeper.delivery.sinks import CloudWatchLogsSink
from trailkeeper.delivery.sinks.cloudwatch_logs import LogGroup, parse_log_group_arn, stream_name
from trailkeeper.journal.base import JournalEntry


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:logs:eu-west-1:111122223333:log-group:CloudTrail/logs:*",
        "arn:aws:logs:eu-west-1:111122223333:log-group:CloudTrail/logs",
    ],
)
def test_log_group_arn_with_or_without_star(arn: str) -> None:
    assert parse_log_group_arn(arn) == LogGroup("eu-west-1", "111122223333", "CloudTrail/logs")


@pytest.mark.parametrize(
    "arn",
    ["CloudTrail/logs", "arn:aws:sns:us-east-1:111122223333:t", "arn:aws:logs:us-east-1:1:log-group:x:*"],
)
def test_log_group_arn_malformed_is_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="not a CloudWatch Logs log group ARN"):
        parse_log_group_arn(arn)


def test_stream_named_for_the_events_account_and_region() -> None:
    file = delivered(account_id="444455556666", region="eu-west-1")
    assert stream_name(file, None) == "444455556666_CloudTrail_eu-west-1"
    assert stream_name(file, "o-exampleorgid") == "o-exampleorgid_444455556666_CloudTrail_eu-west-1"


def _group(moto: MotoServer) -> tuple[str, str]:
    name = unique("CloudTrail/logs")
    moto.client("logs").create_log_group(logGroupName=name)
    return name, f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}:*"


def _send(
    tmp_path: Path, moto: MotoServer, arn: str, entries: list[JournalEntry], *, org: bool = False
) -> CloudWatchLogsSink:
    async def scenario() -> CloudWatchLogsSink:
        async with journal_with(tmp_path, entries) as (journal, seqs), moto_api(moto, "logs") as api:
            sink = CloudWatchLogsSink(api, journal, organization_id="o-exampleorgid")
            file = delivered(seqs)
            await sink.send(
                make_trail(cloudwatch_logs_log_group_arn=arn, is_organization=org),
                notice(file, sink=sink.name),
            )
            return sink

    return asyncio.run(scenario())


def _events(moto: MotoServer, group: str, stream: str) -> list[dict[str, object]]:
    logs = moto.client("logs")
    got: list[dict[str, object]] = logs.get_log_events(
        logGroupName=group, logStreamName=stream, startFromHead=True
    )["events"]
    return got


def test_each_record_becomes_one_event_with_its_time_in_order(tmp_path: Path, moto: MotoServer) -> None:
    name, arn = _group(moto)
    now = int(time.time() * 1000)  # the Logs API refuses events older than 14 days
    entries = [record_entry(now - 3000), record_entry(now - 5000), record_entry(now - 1000)]
    _send(tmp_path, moto, arn, entries)
    events = _events(moto, name, f"{ACCOUNT}_CloudTrail_us-east-1")
    ordered = sorted(entries, key=lambda e: e.event_time_ms)
    assert [e["message"] for e in events] == [e.record.decode() for e in ordered]
    assert [e["timestamp"] for e in events] == [e.event_time_ms // 1000 * 1000 for e in ordered]  # eventTime


def test_organization_trail_writes_its_own_stream(tmp_path: Path, moto: MotoServer) -> None:
    name, arn = _group(moto)
    now = int(time.time() * 1000)
    _send(tmp_path, moto, arn, [record_entry(now)], org=True)
    streams = [
        s["logStreamName"] for s in moto.client("logs").describe_log_streams(logGroupName=name)["logStreams"]
    ]
    assert streams == [f"o-exampleorgid_{ACCOUNT}_CloudTrail_us-east-1"]


def test_existing_stream_is_reused(tmp_path: Path, moto: MotoServer) -> None:
    name, arn = _group(moto)
    moto.client("logs").create_log_stream(logGroupName=name, logStreamName=f"{ACCOUNT}_CloudTrail_us-east-1")
    now = int(time.time() * 1000)
    _send(tmp_path, moto, arn, [record_entry(now)])
    assert len(_events(moto, name, f"{ACCOUNT}_CloudTrail_us-east-1")) == 1


def test_record_over_256_kb_is_not_sent_and_counted(tmp_path: Path, moto: MotoServer) -> None:
    name, arn = _group(moto)
    now = int(time.time() * 1000)
    small, huge = record_entry(now), record_entry(now + 1, padding=262_144)
    sink = _send(tmp_path, moto, arn, [small, huge])
    assert [e["message"] for e in _events(moto, name, f"{ACCOUNT}_CloudTrail_us-east-1")] == [
        small.record.decode()
    ]
    assert sink.skipped_too_large == 1


def test_missing_log_group_is_not_retryable(tmp_path: Path, moto: MotoServer) -> None:
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{unique('absent')}:*"
    with pytest.raises(SinkError) as caught:
        _send(tmp_path, moto, arn, [record_entry(T0)])
    assert not caught.value.retryable
    assert "ResourceNotFoundException" in str(caught.value)


def test_malformed_log_group_arn_is_not_retryable(tmp_path: Path, moto: MotoServer) -> None:
    with pytest.raises(SinkError) as caught:
        _send(tmp_path, moto, "log-group-name-only", [record_entry(T0)])
    assert not caught.value.retryable


def test_sink_wants_only_trails_with_a_log_group() -> None:
    sink = CloudWatchLogsSink.__new__(CloudWatchLogsSink)
    assert sink.wants(
        make_trail(cloudwatch_logs_log_group_arn="arn:aws:logs:us-east-1:111122223333:log-group:g:*")
    )
    assert not sink.wants(make_trail())
