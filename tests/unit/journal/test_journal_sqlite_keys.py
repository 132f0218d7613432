"""SQLite lookup keys written after the durable commit: keyed and tail read as one; partitions; migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trailkeeper.journal import _group_commit
from trailkeeper.journal._sqlite_ids import may_hold, positions
from trailkeeper.journal._sqlite_schema import MIGRATIONS
from trailkeeper.journal._sqlite_writer import SqliteStore
from trailkeeper.journal.base import JournalEntry, LookupAttribute

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


@pytest.mark.parametrize(
    "attribute",
    [None, ("EventName", "GetTable"), ("ReadOnly", "false"), ("ResourceType", "AWS::Glue::Table"),
     ("ResourceName", "shared"), ("Username", "bob"), ("AccessKeyId", "AKIABOB"),
     ("EventSource", "emr-serverless.amazonaws.com")],
)  # fmt: skip
@pytest.mark.parametrize("limit", [1, 2, 5])
def test_pages_walk_partitions_whose_times_overlap(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    attribute: tuple[LookupAttribute, str] | None,
    limit: int,
) -> None:
    # Partitions of 3 events, times that jump back and forth across partitions, and a value
    # that only some events have: every page must equal the newest-first slice of a full sort.
    monkeypatch.setattr(SqliteStore, "part_events", 3)
    monkeypatch.setattr(SqliteStore, "max_backlog", 4)
    monkeypatch.setattr(_group_commit, "IDLE_SECONDS", 3600.0)
    times = [
        T0 + t for t in (40, 3, 17, 8, 30, 1, 25, 12, 9, 33, 5, 21, 2, 38, 14, 27, 6, 19, 11, 35, 30, 30)
    ]
    entries = [
        make_entry(
            t,
            event_name="GetTable" if i % 3 else "CreateTable",
            read_only=bool(i % 3),
            username="bob" if i % 4 == 1 else "alice",
            access_key_id="AKIABOB" if i % 4 == 1 else "AKIAALICE",
            event_source="emr-serverless.amazonaws.com" if i % 5 == 2 else "glue.amazonaws.com",
            resources=(("AWS::Glue::Table", "shared"),) if i % 2 else db_resource(f"own{i}"),
        )
        for i, t in enumerate(times)
    ]
    path = tmp_path / "j.sqlite3"

    async def scenario() -> None:
        async with opened(path) as journal:
            for entry in entries:
                await journal.append(entry)
            indexed, _ = _keyed(path)
            assert 12 <= indexed < len(entries)  # most in partitions, the rest in the tail
            with sqlite3.connect(path) as db:
                assert db.execute("SELECT count(*) FROM lookup_parts").fetchone()[0] >= 4
            seen = await every_page(journal, attribute, limit)
            by_seq = {e.event_id: seq for seq, e in enumerate(entries, 1)}
            expected = sorted(
                (e for e in entries if _has(e, attribute)),
                key=lambda e: (e.event_time_ms, by_seq[e.event_id]),
                reverse=True,
            )
            assert expected
            assert event_ids(seen) == [e.event_id for e in expected]

    asyncio.run(scenario())


def test_an_equal_time_in_an_older_partition_still_ranks_by_seq(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Partition 0 holds seqs 1-2, partition 1 seqs 3-5; both end at the same time, so the walk
    # meets partition 0 first, and its two events fill limit + 1 before seq 3 (same time,
    # higher seq, so newer) is seen: the walk must not stop there.
    monkeypatch.setattr(SqliteStore, "part_events", 3)
    path = tmp_path / "j.sqlite3"

    async def scenario() -> None:
        async with opened(path) as journal:
            for t in (40, 40, 40, 5, 5):
                await journal.append(make_entry(T0 + t))
            await asyncio.sleep(0.2)
            assert _keyed(path)[0] == 5
            assert [s.seq for s in (await journal.lookup(query(limit=1))).events] == [3]

    asyncio.run(scenario())


def test_an_event_id_is_found_in_any_partition_and_only_in_its_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SqliteStore, "part_events", 2)
    monkeypatch.setattr(SqliteStore, "max_backlog", 3)
    monkeypatch.setattr(_group_commit, "IDLE_SECONDS", 3600.0)
    entries = [make_entry(T0 + t) for t in (7, 3, 9, 1, 5, 8, 2)]  # 6 keyed in 4 partitions, 1 tail
    path = tmp_path / "j.sqlite3"

    async def scenario() -> None:
        async with opened(path) as journal:
            for entry in entries:
                await journal.append(entry)
            assert _keyed(path)[0] == 6
            for seq, entry in enumerate(entries, 1):
                found = await journal.lookup(query(attribute=("EventId", entry.event_id)))
                assert [s.seq for s in found.events] == [seq]
                outside = query(attribute=("EventId", entry.event_id), start_ms=entry.event_time_ms + 1)
                assert (await journal.lookup(outside)).events == []
            other = query(attribute=("EventId", entries[0].event_id), account_id="444455556666")
            assert (await journal.lookup(other)).events == []

    asyncio.run(scenario())


def _has(entry: JournalEntry, attribute: tuple[LookupAttribute, str] | None) -> bool:
    if attribute is None:
        return True
    key, value = attribute
    if key in ("ResourceType", "ResourceName"):
        return any((t if key == "ResourceType" else n) == value for t, n in entry.resources)
    own = {
        "EventName": entry.event_name,
        "ReadOnly": "true" if entry.read_only else "false",
        "Username": entry.username,
        "AccessKeyId": entry.access_key_id,
        "EventSource": entry.event_source,
    }
    return own[key] == value


def test_the_writer_keys_the_tail_once_idle_and_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"

    async def scenario() -> None:
        async with opened(path) as journal:
            for i in range(5):
                await journal.append(make_entry(T0 + i, resources=db_resource("a")))
            await asyncio.sleep(0.2)  # idle: the writer catches up
            assert _keyed(path) == (5, 5 * 10)
        with sqlite3.connect(path) as db:  # as if the server died before keying the last two
            db.execute("DELETE FROM lookup_keys WHERE seq > 3")
            db.execute("UPDATE counters SET value = 3 WHERE name = 'indexed'")
        async with opened(path) as journal:
            page = await journal.lookup(query(attribute=("ResourceName", "a")))
            assert [s.seq for s in page.events] == [5, 4, 3, 2, 1]
            await asyncio.sleep(0.2)
            assert _keyed(path) == (5, 5 * 10)

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
            assert _keyed(path)[1] == 7  # only the survivor's keys (7 kinds: it has no resources)
            assert [s.seq for s in (await journal.lookup(query())).events] == [5]

    asyncio.run(scenario())


def test_prune_forgets_partitions_left_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SqliteStore, "part_events", 2)
    path = tmp_path / "j.sqlite3"

    async def scenario() -> None:
        async with opened(path) as journal:
            for i in range(7):  # seqs 1-7: partitions 0 (seq 1), 1 (2, 3), 2 (4, 5), 3 (6, 7)
                await journal.append(make_entry(T0 + i))
            await asyncio.sleep(0.2)
            assert await journal.prune(datetime.fromtimestamp((T0 + 4) / 1000, UTC)) == 4
            with sqlite3.connect(path) as db:
                parts = [row[0] for row in db.execute("SELECT part FROM lookup_parts ORDER BY part")]
            assert parts == [2, 3]  # partition 2 still holds seq 5
            assert [s.seq for s in (await journal.lookup(query())).events] == [7, 6, 5]

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


def test_migration_3_partitions_a_version_2_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with sqlite3.connect(path) as db:
        for statements in MIGRATIONS[:2]:
            for statement in statements:
                db.execute(statement)
        db.execute("PRAGMA user_version = 2")
        for seq in range(1, 6):  # seqs 1-4 keyed by the old writer, 5 still in the tail
            db.execute(
                "INSERT INTO events VALUES (?, '111122223333', 'us-east-1', ?, ?, 'GetDatabase',"
                " 'glue.amazonaws.com', 1, 'alice', 'AKIAALICE', 1, ?, ?)",
                (seq, T0 + seq, f"id-{seq}", b"{}", b'[["AWS::Glue::Database","sales"]]'),
            )
            if seq <= 4:
                keys = [(0, ""), (1, "GetDatabase"), (2, "glue.amazonaws.com"), (3, "alice"),
                        (4, "AKIAALICE"), (5, "true"), (6, "AWS::Glue::Database"), (7, "sales")]  # fmt: skip
                db.executemany(
                    "INSERT INTO lookup_keys VALUES ('111122223333', 'us-east-1', ?, ?, ?, ?)",
                    [(kind, value, T0 + seq, seq) for kind, value in keys],
                )
        db.execute("INSERT OR REPLACE INTO counters VALUES ('indexed', 4)")

    async def scenario() -> None:
        async with opened(path) as journal:
            with sqlite3.connect(path) as db:
                # 8 kinds per keyed event, plus its EventId key (kind 8, new in migration 3)
                assert db.execute("SELECT count(*) FROM lookup_keys WHERE part = 0").fetchone()[0] == 4 * 9
                indexes = db.execute(
                    "SELECT name FROM sqlite_master WHERE tbl_name = 'events' AND type = 'index'"
                )
                assert [row[0] for row in indexes] == ["events_by_age"]
                parts = db.execute("SELECT part, min_time_ms, max_time_ms, ids_upto FROM lookup_parts")
                assert parts.fetchall() == [(0, T0 + 1, T0 + 4, -1)]  # its id filter built at the start
                (ids,) = db.execute("SELECT ids FROM lookup_parts").fetchone()
                assert all(may_hold(ids, positions(f"id-{seq}")) for seq in range(1, 5))
            for attribute in (None, ("ResourceName", "sales"), ("Username", "alice")):
                found = await journal.lookup(query(attribute=attribute))
                assert [s.seq for s in found.events] == [5, 4, 3, 2, 1]
            for keyed_or_tail in (2, 5):
                found = await journal.lookup(query(attribute=("EventId", f"id-{keyed_or_tail}")))
                assert [s.seq for s in found.events] == [keyed_or_tail]
            assert await journal.append(make_entry(T0 + 9)) == 6
            with pytest.raises(ValueError, match="id-3 is already stored"):
                await journal.append(make_entry(T0 + 10, event_id="id-3"))

    asyncio.run(scenario())


def test_a_repeated_event_id_is_refused_after_a_restart_too(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    first = make_entry(T0)

    async def scenario() -> None:
        async with opened(path) as journal:
            await journal.append(first)
        async with opened(path) as journal:
            with pytest.raises(ValueError, match="already stored"):
                await journal.append(make_entry(T0 + 1, event_id=first.event_id))
            assert await journal.append(make_entry(T0 + 2)) == 2
            assert [s.seq for s in (await journal.lookup(query())).events] == [2, 1]

    asyncio.run(scenario())
