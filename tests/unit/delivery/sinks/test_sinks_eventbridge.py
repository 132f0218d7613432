"""EventBridge: each management record once on the default bus, read back through a rule's SQS target."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.unit.delivery.sinks.farside import MotoServer
from tests.unit.delivery.sinks.support import (
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
from trailkeeper.delivery.sinks import EventBridgeSink
from trailkeeper.delivery.sinks.eventbridge import entry_for
from trailkeeper.journal.base import StoredEvent


@pytest.mark.parametrize(
    ("event_type", "detail_type"),
    [
        ("AwsApiCall", "AWS API Call via CloudTrail"),
        ("AwsConsoleSignIn", "AWS Console Signin via CloudTrail"),
        ("AwsConsoleAction", "AWS Console Action via CloudTrail"),
        ("AwsServiceEvent", "AWS Service Event via CloudTrail"),
    ],
)
def test_entry_detail_type_follows_event_type(event_type: str, detail_type: str) -> None:
    entry = entry_for(StoredEvent(1, record_entry(event_type=event_type)))
    assert entry is not None
    assert entry.params["DetailType"] == detail_type


def test_entry_source_time_detail_and_resources() -> None:
    stored = StoredEvent(7, record_entry(T0 + 1500, source="emr-serverless.amazonaws.com"))
    entry = entry_for(stored)
    assert entry is not None
    assert entry.params["Source"] == "aws.emr-serverless"
    assert entry.params["Time"] == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)  # the record's eventTime
    assert entry.params["Detail"] == stored.entry.record.decode()
    assert entry.params["Resources"] == []
    assert entry.seq == 7


def test_data_events_have_no_entry() -> None:
    assert entry_for(StoredEvent(1, record_entry(management=False))) is None


def _queue(moto: MotoServer, source: str) -> str:
    return moto.queue_for_rule({"source": [source]}, unique("rule"))


def test_management_records_reach_a_rule_target_once_even_from_two_trails(
    tmp_path: Path, moto: MotoServer
) -> None:
    source = unique("svc")  # a service prefix of our own, so other tests' events don't match
    queue = _queue(moto, f"aws.{source}")
    entries = [record_entry(T0 + i, source=f"{source}.amazonaws.com") for i in range(12)]
    entries.append(record_entry(T0, source=f"{source}.amazonaws.com", management=False))

    async def scenario() -> EventBridgeSink:
        async with journal_with(tmp_path, entries) as (journal, seqs), moto_api(moto, "events") as api:
            sink = EventBridgeSink(api, journal)
            first, second = make_trail("first"), make_trail("second", is_multi_region=True)
            await asyncio.gather(
                sink.send(first, notice(delivered(seqs), sink=sink.name, trail_arn=first.arn)),
                sink.send(second, notice(delivered(seqs[::-1]), sink=sink.name, trail_arn=second.arn)),
            )
            return sink

    sink = asyncio.run(scenario())
    bodies = moto.drain_queue(queue, want=13, timeout=2)
    events = [json.loads(b) for b in bodies]
    assert sorted(e["detail"]["eventID"] for e in events) == sorted(e.event_id for e in entries[:12])
    assert {e["detail-type"] for e in events} == {"AWS API Call via CloudTrail"}
    assert sink.sent == 12


def test_record_over_256_kib_is_skipped_and_counted(tmp_path: Path, moto: MotoServer) -> None:
    source = unique("svc")
    queue = _queue(moto, f"aws.{source}")
    small = record_entry(T0, source=f"{source}.amazonaws.com")
    huge = record_entry(T0, source=f"{source}.amazonaws.com", padding=262_144)

    async def scenario() -> EventBridgeSink:
        async with journal_with(tmp_path, [small, huge]) as (journal, seqs), moto_api(moto, "events") as api:
            sink = EventBridgeSink(api, journal)
            await sink.send(make_trail(), notice(delivered(seqs), sink=sink.name))
            return sink

    sink = asyncio.run(scenario())
    assert [json.loads(b)["detail"]["eventID"] for b in moto.drain_queue(queue, want=2, timeout=1.5)] == [
        small.event_id
    ]
    assert sink.skipped_too_large == 1


def test_endpoint_down_is_retryable_and_sends_again_later(tmp_path: Path) -> None:
    from tests.unit.delivery.sinks.support import api

    async def scenario() -> SinkError:
        async with (
            journal_with(tmp_path, [record_entry()]) as (journal, seqs),
            api("events", "http://127.0.0.1:9") as down,
        ):
            sink = EventBridgeSink(down, journal)
            with pytest.raises(SinkError) as caught:
                await sink.send(make_trail(), notice(delivered(seqs), sink=sink.name))
            assert sink.sent == 0  # nothing remembered as sent: the retry sends it all
            return caught.value

    assert asyncio.run(scenario()).retryable


def test_sink_wants_every_trail() -> None:
    sink = EventBridgeSink.__new__(EventBridgeSink)
    assert sink.wants(make_trail())
