"""SQLite lookup keys written after the durable commit: keyed and tail events read as one; migration 2."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trailkeeper.journal import _group_commit
from trailkeeper.journal._sqlite_schema import MIGRATIONS
from trailkeeper.journal._sqlite_writer import SqliteStore
from trailkeeper.journal.base import LookupAttribute

from .support import T0, db_resource, event_ids, every_page, make_entry, opened, query


def _keyed(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as db:
        indexed = db.execute("SELECT value FROM counters WHERE name = 'indexed'").fetchone()
        keys = db.execute("SELECT count(*) FROM lookup_keys").fetchone()
    return (indexed[0] if indexed else 0), keys[0]


@pytest.mark.parametrize(
    "attribute",
    [None, ("EventName", "GetTable"), ("ReadOnly", "true"), ("ResourceType", "AWS::Glue::Database"),
     ("ResourceName", "shared"), ("Username", "alice")],
)  # fmt: skip
def test_pages_merge_keyed_and_tail_events_newest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attribute: tuple[LookupAttribute, str] | None
) -> None:
    # Keys are written every 3 events and never when idle: 9 of the 10 events are keyed, and
    # times go back and forth so keyed and tail events interleave on every page.
    monkeypatch.setattr(SqliteStore, "max_backlog", 3)
    monkeypatch.setattr(_group_commit, "IDLE_SECONDS", 3600.0)
    times = [T0 + t for t in (5, 1, 9, 3, 7, 2, 8, 0, 6, 4)]
    entries = [
        make_entry(t, event_name="GetTable", resources=db_resource("shared") + db_resource(f"own{t}"))
        for t in times
    ]
    path = tmp_path / "j.sqlite3"

    async def scenario() -> None:
        async with opened(path) as journal:
            for entry in entries:
                await journal.append(entry)
            assert _keyed(path)[0] == 9
            seen = await every_page(journal, attribute, 3)
            newest_first = [e.event_id for e in sorted(entries, key=lambda e: e.event_time_ms, reverse=True)]
            assert event_ids(seen) == newest_first

    asyncio.run(scenario())


def test_the_writer_keys_the_tail_once_idle_and_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"

    async def scenario() -> None:
        async with opened(path) as journal:
            for i in range(5):
                await journal.append(make_entry(T0 + i, resources=db_resource("a")))
            await asyncio.sleep(0.2)  # idle: the writer catches up
            assert _keyed(path) == (5, 5 * 9)
        with sqlite3.connect(path) as db:  # as if the server died before keying the last two
            db.execute("DELETE FROM lookup_keys WHERE seq > 3")
            db.execute("UPDATE counters SET value = 3 WHERE name = 'indexed'")
        async with opened(path) as journal:
            page = await journal.lookup(query(attribute=("ResourceName", "a")))
            assert [s.seq for s in page.events] == [5, 4, 3, 2, 1]
            await asyncio.sleep(0.2)
            assert _keyed(path) == (5, 5 * 9)

    asyncio.run(scenario())


def test_prune_deletes_the_lookup_keys_of_keyed_and_tail_events(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"

    async def scenario() -> None:
        async with opened(path) as journal:
            for i in range(4):
                await journal.append(make_entry(T0 + i, resources=db_resource("a")))
            await asyncio.sleep(0.2)
            await journal.append(make_entry(T0 + 10))  # probably still in the tail
            assert await journal.prune(datetime.fromtimestamp((T0 + 5) / 1000, UTC)) == 4
            await asyncio.sleep(0.2)
            assert _keyed(path)[1] == 6  # only the survivor's keys (no resources)
            assert [s.seq for s in (await journal.lookup(query())).events] == [5]

    asyncio.run(scenario())


def test_migration_2_keeps_a_version_1_journal_readable(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with sqlite3.connect(path) as db:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        arn = "arn:aws:glue:us-east-1:111122223333:database/sales"
        for seq, (name, mgmt) in enumerate([("GetDatabase", 1), ("CreateDatabase", 1), ("GetTable", 0)], 1):
            db.execute(
                "INSERT INTO events VALUES (?, '111122223333', 'us-east-1', ?, ?, ?, 'glue.amazonaws.com',"
                " ?, 'alice', 'AKIAALICE', ?, ?)",
                (seq, T0 + seq, f"id-{seq}", name, int(name.startswith("Get")), mgmt, b"{}"),
            )
            for ordinal, value in enumerate(("sales", arn)):
                db.execute(
                    "INSERT INTO event_resources VALUES (?, ?, '111122223333', 'us-east-1', ?,"
                    " 'AWS::Glue::Database', ?)",
                    (seq, ordinal, T0 + seq, value),
                )
        db.execute("INSERT INTO counters VALUES ('seq', 3)")

    async def scenario() -> None:
        async with opened(path) as journal:
            assert [s.seq for s in (await journal.lookup(query(attribute=("ResourceName", arn)))).events] == [
                2,
                1,
            ]
            assert [s.seq for s in (await journal.lookup(query(attribute=("ReadOnly", "false")))).events] == [
                2
            ]
            stored = await journal.read_after(0, 10)
            assert [s.entry.resources for s in stored] == [db_resource("sales")] * 3
            assert [s.entry.management for s in stored] == [True, True, False]
            assert await journal.append(make_entry(T0 + 9)) == 4

    asyncio.run(scenario())
