"""The sink runner over the SQLite outbox: done, retried with backoff, parked, isolated per trail, bounded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.unit.delivery.sinks.runner_support import Clock, MemoryTrails, ScriptedSink, fail, until
from tests.unit.delivery.sinks.support import delivered, make_trail
from trailkeeper.control.model import Trail
from trailkeeper.delivery.base import Notice
from trailkeeper.delivery.notify import RunnerLimits, SinkRunner
from trailkeeper.delivery.sinks import Backoff
from trailkeeper.delivery.state import DeliveryState

TOPIC = "arn:aws:sns:us-east-1:111122223333:ct"
FAST = RunnerLimits(
    max_in_flight=4, page=8, poll_seconds=0.01, send_timeout_seconds=2.0, slow_send_seconds=0.2
)


@asynccontextmanager
async def outbox(tmp_path: Path) -> AsyncIterator[DeliveryState]:
    state = DeliveryState(tmp_path / "state.sqlite3")
    await state.open()
    try:
        yield state
    finally:
        await state.close()


async def _enqueue(state: DeliveryState, trail: Trail, count: int = 1) -> list[int]:
    return [await state.enqueue("sns", trail.arn, [delivered(trail_arn=trail.arn)]) for _ in range(count)]


def test_sent_notice_leaves_the_outbox_and_sets_notification_status(tmp_path: Path) -> None:
    trail = make_trail(sns_topic_arn=TOPIC)

    async def scenario() -> None:
        async with outbox(tmp_path) as state:
            trails, sink, clock = MemoryTrails(trail), ScriptedSink(), Clock()
            [notice_id] = await _enqueue(state, trail)
            await SinkRunner(sink, state, trails, limits=FAST, clock=clock).drain()
            assert sink.sent == [(trail.arn, notice_id)]
            assert await state.pending("sns") == 0
            status = trails.statuses[trail.arn]
            assert status.latest_notification_ms == int(clock.now * 1000)
            assert status.latest_notification_attempt_succeeded_ms == int(clock.now * 1000)
            assert status.latest_notification_error is None

    asyncio.run(scenario())


def test_retryable_failure_shows_in_status_then_clears_after_the_backoff(tmp_path: Path) -> None:
    trail = make_trail(sns_topic_arn=TOPIC)
    limits = RunnerLimits(poll_seconds=0.01, backoff=Backoff(base_ms=1000, cap_ms=8000))

    async def scenario() -> None:
        async with outbox(tmp_path) as state:
            trails, sink, clock = MemoryTrails(trail), ScriptedSink(fail("ConnectError: refused")), Clock()
            await _enqueue(state, trail)
            runner = SinkRunner(sink, state, trails, limits=limits, clock=clock, rand=lambda: 0.0)
            await runner.drain()
            assert await state.pending("sns") == 1
            assert trails.statuses[trail.arn].latest_notification_error == "ConnectError: refused"
            [waiting] = await state.due("sns", int(clock.now * 1000) + 500, 10)  # 1 s backoff, half jitter
            assert waiting.last_error == "ConnectError: refused"
            assert waiting.attempts == 1
            sink.behaviour = None
            await runner.drain()
            assert sink.sent == []  # still held: the clock has not moved
            clock.advance(0.6)
            await runner.drain()
            assert len(sink.sent) == 1
            assert await state.pending("sns") == 0
            assert trails.statuses[trail.arn].latest_notification_error is None

    asyncio.run(scenario())


def test_backoff_grows_exponentially_to_the_cap() -> None:
    backoff = Backoff(base_ms=1000, cap_ms=300_000)
    assert [backoff.delay_ms(n, 0.0) for n in (1, 2, 3, 4, 10, 50)] == [
        500,
        1000,
        2000,
        4000,
        150_000,
        150_000,
    ]
    assert [backoff.delay_ms(n, 0.999999) for n in (1, 2, 10)] == [999, 1999, 299_999]


def test_failed_destination_holds_the_trails_other_notices_without_sending(tmp_path: Path) -> None:
    trail = make_trail(sns_topic_arn=TOPIC)

    async def scenario() -> None:
        async with outbox(tmp_path) as state:
            trails, sink, clock = MemoryTrails(trail), ScriptedSink(fail("down")), Clock()
            await _enqueue(state, trail, 5)
            await SinkRunner(sink, state, trails, limits=FAST, clock=clock, rand=lambda: 0.0).drain()
            assert sink.calls == 1  # one probe failed; the other four wait behind its hold
            assert await state.pending("sns") == 5
            assert await state.due("sns", int(clock.now * 1000), 10) == []

    asyncio.run(scenario())


def test_non_retryable_failure_parks_until_the_cap_or_a_new_destination(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trail = make_trail(sns_topic_arn=TOPIC)
    limits = RunnerLimits(
        poll_seconds=0.01, recheck_seconds=0.05, backoff=Backoff(base_ms=1000, cap_ms=300_000)
    )

    async def scenario() -> None:
        async with outbox(tmp_path) as state:
            trails, sink, clock = (
                MemoryTrails(trail),
                ScriptedSink(fail("NotFound: Topic does not exist", retryable=False)),
                Clock(),
            )
            await _enqueue(state, trail, 2)
            runner = SinkRunner(sink, state, trails, limits=limits, clock=clock)
            await runner.drain()
            assert (sink.calls, await state.pending("sns"), runner.stats.parked) == (1, 2, 1)
            clock.advance(299)
            await runner.drain()
            assert sink.calls == 1  # parked for the whole cap
            sink.behaviour = None
            await trails.replace(make_trail(sns_topic_arn=TOPIC + "-fixed"))  # UpdateTrail --sns-topic-name
            await asyncio.sleep(limits.recheck_seconds)
            await runner.drain()
            assert len(sink.sent) == 2
            assert await state.pending("sns") == 0

    with caplog.at_level(logging.ERROR, "trailkeeper.delivery.notify"):
        asyncio.run(scenario())
    assert "not retryable" in caplog.text
    assert "2 notices pending" in caplog.text


def test_slow_trail_does_not_delay_another_trails_notices(tmp_path: Path) -> None:
    slow, quick = make_trail("slow", sns_topic_arn=TOPIC), make_trail("quick", sns_topic_arn=TOPIC + "2")
    release = asyncio.Event

    async def scenario() -> None:
        gate = release()

        async def behaviour(trail: Trail, notice: Notice) -> None:
            if trail.name == "slow":
                await gate.wait()

        async with outbox(tmp_path) as state:
            trails, sink = MemoryTrails(slow, quick), ScriptedSink(behaviour)
            await _enqueue(state, slow, 20)  # older: first in the outbox's order
            await _enqueue(state, quick, 3)
            runner = SinkRunner(sink, state, trails, limits=FAST)
            runner.start()
            try:
                await until(lambda: sum(arn == quick.arn for arn, _ in sink.sent) == 3)
                assert not any(arn == slow.arn for arn, _ in sink.sent)
                assert sink.peak_concurrent <= 2  # one per trail
                gate.set()
                await until(lambda: len(sink.sent) == 23, timeout=10)
            finally:
                await runner.stop()

    asyncio.run(scenario())


def test_hung_send_times_out_as_a_retryable_failure(tmp_path: Path) -> None:
    trail = make_trail(sns_topic_arn=TOPIC)

    async def hang(trail: Trail, notice: Notice) -> None:
        await asyncio.sleep(60)

    async def scenario() -> None:
        async with outbox(tmp_path) as state:
            trails = MemoryTrails(trail)
            await _enqueue(state, trail)
            limits = RunnerLimits(poll_seconds=0.01, send_timeout_seconds=0.2)
            await SinkRunner(ScriptedSink(hang), state, trails, limits=limits).drain()
            assert trails.statuses[trail.arn].latest_notification_error == "timed out after 0.2s"
            assert await state.pending("sns") == 1

    asyncio.run(scenario())


def test_memory_stays_bounded_with_a_long_outbox_and_a_slow_sink(tmp_path: Path) -> None:
    trails_list = [make_trail(f"t{i:02d}", sns_topic_arn=f"{TOPIC}{i}") for i in range(30)]
    limits = RunnerLimits(max_in_flight=4, page=8, poll_seconds=0.005, send_timeout_seconds=5)

    async def slowly(trail: Trail, notice: Notice) -> None:
        await asyncio.sleep(0.002)

    async def scenario() -> SinkRunner:
        async with outbox(tmp_path) as state:
            for trail in trails_list:
                await _enqueue(state, trail, 10)
            runner = SinkRunner(
                sink := ScriptedSink(slowly), state, MemoryTrails(*trails_list), limits=limits
            )
            runner.start()
            try:
                await until(lambda: len(sink.sent) == 300, timeout=60)
                # The last sends are acknowledged (removed from the outbox) just after they return;
                # stopping before that would leave them for the next start, by design.
                deadline = asyncio.get_running_loop().time() + 10
                while await state.pending("sns") and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.01)
            finally:
                await runner.stop()
            assert await state.pending("sns") == 0
            assert sink.peak_concurrent <= limits.max_in_flight
            return runner

    runner = asyncio.run(scenario())
    assert runner.stats.peak_in_memory <= limits.page + limits.max_in_flight


def test_notice_of_deleted_trail_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trail = make_trail(sns_topic_arn=TOPIC)

    async def scenario() -> SinkRunner:
        async with outbox(tmp_path) as state:
            await _enqueue(state, trail)
            runner = SinkRunner(ScriptedSink(), state, MemoryTrails(), limits=FAST)
            await runner.drain()
            assert await state.pending("sns") == 0
            return runner

    with caplog.at_level(logging.WARNING, "trailkeeper.delivery.notify"):
        runner = asyncio.run(scenario())
    assert runner.stats.discarded == 1
    assert "was deleted" in caplog.text


def test_unexpected_sink_exception_keeps_the_notice(tmp_path: Path) -> None:
    trail = make_trail(sns_topic_arn=TOPIC)

    async def broken(trail: Trail, notice: Notice) -> None:
        raise KeyError("bug")

    async def scenario() -> None:
        async with outbox(tmp_path) as state:
            trails = MemoryTrails(trail)
            await _enqueue(state, trail)
            await SinkRunner(ScriptedSink(broken), state, trails, limits=FAST).drain()
            assert await state.pending("sns") == 1
            assert trails.statuses[trail.arn].latest_notification_error == "internal error: KeyError"

    asyncio.run(scenario())
