"""The SQLite journal's per-partition event-id filters: which partitions an EventId lookup probes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from trailkeeper.journal import _group_commit
from trailkeeper.journal._sqlite_ids import BITS, IdFilters, may_hold, positions
from trailkeeper.journal._sqlite_schema import connect, migrate
from trailkeeper.journal._sqlite_writer import SqliteStore

from .support import T0, make_entry, opened, query


def _filter_of(*event_ids: str) -> bytes:
    bloom = bytearray(BITS // 8)
    for event_id in event_ids:
        for bit in positions(event_id):
            bloom[bit >> 3] |= 1 << (bit & 7)
    return bytes(bloom)


def test_only_partitions_whose_filter_may_hold_the_id_are_probed(tmp_path: Path) -> None:
    conn = connect(tmp_path / "j.sqlite3", "FULL", read_only=False)
    migrate(conn)
    rows = [
        (0, _filter_of("a", "b"), 10),
        (1, _filter_of("c"), 20),
        (2, None, None),  # not built yet (a migrated journal): may hold anything
        (3, _filter_of("a", "d"), 30),
    ]
    conn.executemany("INSERT INTO lookup_parts VALUES (?, 0, 0, ?, ?)", rows)
    parts = [(part, 0, upto) for part, _, upto in rows]
    filters = IdFilters()
    assert filters.candidates(conn, parts, 0, "a") == [0, 2, 3]
    assert filters.candidates(conn, parts, 0, "c") == [1, 2]
    # 1 000 absent ids: false positives stay near the design rate (~0.2 % per partition)
    wrong = [part for i in range(1000) for part in filters.candidates(conn, parts[:2], 0, f"absent-{i}")]
    assert len(wrong) <= 10
    # a partition's filter that changed (ids_upto moved on) is read again, not served from the cache
    conn.execute("UPDATE lookup_parts SET ids = ?, ids_upto = 21 WHERE part = 1", (_filter_of("c", "e"),))
    assert filters.candidates(conn, [(1, 0, 21)], 0, "e") == [1]
    conn.close()


def test_a_new_id_in_a_partition_already_cached_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SqliteStore, "part_events", 100)
    monkeypatch.setattr(_group_commit, "IDLE_SECONDS", 0.001)
    entries = [make_entry(T0 + i) for i in range(6)]
    path = tmp_path / "j.sqlite3"

    async def keyed(count: int) -> None:
        for _ in range(200):
            with sqlite3.connect(path) as db:
                if db.execute("SELECT value FROM counters WHERE name = 'indexed'").fetchone()[0] >= count:
                    return
            await asyncio.sleep(0.01)
        raise AssertionError("the writer did not key the events")

    async def scenario() -> None:
        async with opened(path) as journal:
            for entry in entries[:3]:
                await journal.append(entry)
            await keyed(3)
            found = await journal.lookup(query(attribute=("EventId", entries[0].event_id)))
            assert [s.seq for s in found.events] == [1]  # partition 0's filter is now cached
            for entry in entries[3:]:
                await journal.append(entry)
            await keyed(6)
            for seq, entry in enumerate(entries, 1):
                found = await journal.lookup(query(attribute=("EventId", entry.event_id)))
                assert [s.seq for s in found.events] == [seq]
        with sqlite3.connect(path) as db:
            (ids,) = db.execute("SELECT ids FROM lookup_parts WHERE part = 0").fetchone()
        assert all(may_hold(ids, positions(e.event_id)) for e in entries)

    asyncio.run(scenario())
