"""Retention: events older than the configured number of days leave event history, on a schedule."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.journal.support import T0, Backend, event_ids, make_entry, query
from trailkeeper.history.retention import prune_once, run_retention

NOW = datetime.fromtimestamp(T0 / 1000, UTC)
DAY_MS = 86_400_000


def test_prune_once_deletes_only_events_older_than_the_window(backend: Backend) -> None:
    old, edge, new = make_entry(T0 - 91 * DAY_MS), make_entry(T0 - 90 * DAY_MS), make_entry(T0 - DAY_MS)

    async def scenario() -> None:
        async with backend.opened() as journal:
            for entry in (old, edge, new):
                await journal.append(entry)
            assert await prune_once(journal, 90, NOW) == 1
            assert event_ids((await journal.lookup(query())).events) == [new.event_id, edge.event_id]

    asyncio.run(scenario())


def test_run_retention_prunes_on_every_round_with_its_clock(backend: Backend) -> None:
    entries = [make_entry(T0 + i * DAY_MS) for i in range(3)]
    rounds = itertools.chain(
        [NOW + timedelta(days=2, hours=1)], itertools.repeat(NOW + timedelta(days=3, hours=1))
    )

    async def scenario() -> None:
        async with backend.opened() as journal:
            for entry in entries:
                await journal.append(entry)
            task = asyncio.create_task(
                run_retention(journal, days=1, every_seconds=0.05, clock=lambda: next(rounds))
            )
            remaining: list[str] = []
            for _ in range(40):
                await asyncio.sleep(0.02)
                remaining = event_ids((await journal.lookup(query())).events)
                if not remaining:
                    break
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert remaining == []

    asyncio.run(scenario())


def test_run_retention_keeps_going_when_the_journal_cannot_write(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        journal = backend.journal()  # never opened: every prune is refused
        task = asyncio.create_task(run_retention(journal, days=1, every_seconds=0.01, clock=lambda: NOW))
        await asyncio.sleep(0.1)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level("WARNING", logger="trailkeeper.history.retention"):
        asyncio.run(scenario())
    assert sum("retention:" in r.getMessage() for r in caplog.records) >= 2
