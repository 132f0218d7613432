"""PostgreSQL lookup keys from the indexer: keyed and tail events read as one; one indexer; migration 2."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from trailkeeper.journal._pg_schema import MIGRATIONS, migrate
from trailkeeper.journal.base import LookupAttribute

from .support import (
    T0,
    Backend,
    backend_of,
    db_resource,
    event_ids,
    every_page,
    make_entry,
    pg_indexed,
    query,
)

_Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Backend]:
    with backend_of("postgres", tmp_path) as store:
        yield store


def _indexed(url: str) -> tuple[int, int]:
    """counters 'indexed' and the number of lookup_keys rows."""
    with psycopg.connect(url) as conn:
        keys = conn.execute("SELECT count(*) FROM lookup_keys").fetchone()
    assert keys is not None
    return pg_indexed(url), int(keys[0])


async def _until_indexed(url: str, seq: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while pg_indexed(url) < seq:
        assert time.monotonic() < deadline, f"the indexer did not reach seq {seq}"
        await asyncio.sleep(0.05)


@contextmanager
def indexer_held(url: str) -> Iterator[None]:
    """Hold counters('indexed') as a running indexer would: every node's indexer skips meanwhile."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT value FROM counters WHERE name = 'indexed' FOR UPDATE")
        yield
        conn.rollback()


@pytest.mark.parametrize(
    "attribute",
    [None, ("EventName", "GetTable"), ("ReadOnly", "true"), ("ResourceType", "AWS::Glue::Database"),
     ("ResourceName", "shared"), ("Username", "alice"), ("EventSource", "glue.amazonaws.com"),
     ("AccessKeyId", "AKIAALICE0000000001X")],
)  # fmt: skip
def test_pages_merge_keyed_and_tail_events_newest_first(
    pg: Backend, attribute: tuple[LookupAttribute, str] | None
) -> None:
    # Six events keyed, then four appended while the indexer is held: times go back and forth
    # so keyed and tail events interleave on every page.
    times = [T0 + t for t in (5, 1, 9, 3, 7, 2, 8, 0, 6, 4)]
    entries = [
        make_entry(t, event_name="GetTable", resources=db_resource("shared") + db_resource(f"own{t}"))
        for t in times
    ]

    async def scenario() -> None:
        async with pg.opened() as journal:
            for entry in entries[:6]:
                await journal.append(entry)
            await _until_indexed(pg.location, 6)
            with indexer_held(pg.location):
                for entry in entries[6:]:
                    await journal.append(entry)
                await asyncio.sleep(0.1)  # the indexer's wake-up comes and goes
                assert _indexed(pg.location)[0] == 6
                seen = await every_page(journal, attribute, 3)
            newest_first = [e.event_id for e in sorted(entries, key=lambda e: e.event_time_ms, reverse=True)]
            assert event_ids(seen) == newest_first

    asyncio.run(scenario())


def test_a_tail_event_that_only_shares_a_resource_name_with_a_type_is_not_a_match(pg: Backend) -> None:
    # The tail query finds resources with "= ANY(resources)", which cannot tell types from names.
    tricky = make_entry(T0 + 1, resources=(("AWS::Glue::Database", "AWS::Glue::Table"),))

    async def scenario() -> None:
        async with pg.opened() as journal:
            with indexer_held(pg.location):
                await journal.append(tricky)
                by_type = await journal.lookup(query(attribute=("ResourceType", "AWS::Glue::Table")))
                by_name = await journal.lookup(query(attribute=("ResourceName", "AWS::Glue::Table")))
            assert by_type.events == []
            assert event_ids(by_name.events) == [tricky.event_id]

    asyncio.run(scenario())


def test_events_left_unkeyed_by_a_stopped_node_are_keyed_after_a_restart(pg: Backend) -> None:
    async def scenario() -> None:
        async with pg.opened() as journal:
            with indexer_held(pg.location):
                for i in range(5):
                    await journal.append(make_entry(T0 + i, resources=db_resource(f"db{i}")))
                await journal.close()
        assert _indexed(pg.location) == (0, 0)
        async with pg.opened() as journal:
            await _until_indexed(pg.location, 5)
            assert _indexed(pg.location)[1] == 5 * 9  # six scalar keys, one type, two names (short and ARN)
            page = await journal.lookup(query(attribute=("ResourceName", "db3")))
            assert [s.seq for s in page.events] == [4]

    asyncio.run(scenario())


def test_two_nodes_key_every_event_exactly_once(pg: Backend) -> None:
    async def scenario() -> None:
        async with pg.opened() as a, pg.opened() as b:
            await asyncio.gather(
                *(a.append(make_entry(T0 + i, username="a")) for i in range(300)),
                *(b.append(make_entry(T0 + i, username="b")) for i in range(300)),
            )
            await _until_indexed(pg.location, 600)
            with psycopg.connect(pg.location) as conn:
                dupes = conn.execute(
                    "SELECT count(*) FROM (SELECT bucket, seq FROM lookup_keys"
                    " GROUP BY 1, 2 HAVING count(*) > 1) d"
                ).fetchone()
            assert dupes == (0,)
            assert _indexed(pg.location) == (600, 600 * 6)
            for node in (a, b):
                for user in ("a", "b"):
                    page = await node.lookup(query(attribute=("Username", user), limit=50))
                    assert len(page.events) == 50
                    assert page.more

    asyncio.run(scenario())


def test_prune_deletes_the_keys_of_keyed_events_and_leaves_none_for_tail_ones(pg: Backend) -> None:
    async def scenario() -> None:
        async with pg.opened() as journal:
            for i in range(4):
                await journal.append(make_entry(T0 + i, resources=db_resource(f"old{i}")))
            await _until_indexed(pg.location, 4)
            with indexer_held(pg.location):
                for i in range(4, 8):
                    await journal.append(make_entry(T0 + i, resources=db_resource(f"old{i}")))
            await journal.append(make_entry(T0 + 100))
            deleted = await journal.prune(datetime.fromtimestamp((T0 + 50) / 1000, UTC))
            assert deleted == 8
            await _until_indexed(pg.location, 9)
            with psycopg.connect(pg.location) as conn:
                left = conn.execute("SELECT DISTINCT seq FROM lookup_keys").fetchall()
            assert left == [(9,)]

    asyncio.run(scenario())


def test_migration_2_keeps_a_version_1_journal_readable(pg: Backend) -> None:
    arn = "arn:aws:glue:us-east-1:111122223333:database/sales"
    with psycopg.connect(pg.location) as conn:
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz)")
        for statement in MIGRATIONS[0]:
            conn.execute(statement.encode())
        conn.execute("INSERT INTO schema_migrations VALUES (1, now())")
        for seq, (name, mgmt) in enumerate(
            [("GetDatabase", True), ("CreateDatabase", True), ("GetTable", False)], 1
        ):
            conn.execute(
                "INSERT INTO events VALUES (%s, %s, %s, %s, %s, '111122223333', 'us-east-1', %s,"
                " 'glue.amazonaws.com', 'alice', 'AKIAALICE', %s, '{}')",
                (seq, T0 + seq, name.startswith("Get"), mgmt, f"id-{seq}", name,
                 ["AWS::Glue::Database", "sales", "AWS::Glue::Database", arn]),
            )  # fmt: skip
        conn.execute("UPDATE counters SET value = 3 WHERE name = 'seq'")

    async def scenario() -> None:
        async with pg.opened() as journal:
            assert _indexed(pg.location) == (3, 2 * 9)
            by_arn = await journal.lookup(query(attribute=("ResourceName", arn)))
            assert [s.seq for s in by_arn.events] == [2, 1]
            writes = await journal.lookup(query(attribute=("ReadOnly", "false")))
            assert [s.seq for s in writes.events] == [2]
            assert await journal.append(make_entry(T0 + 9)) == 4
            await _until_indexed(pg.location, 4)
            assert [s.seq for s in (await journal.lookup(query())).events] == [4, 2, 1]

    asyncio.run(scenario())


def test_migration_2_is_not_cut_short_by_the_sessions_statement_timeout(pg: Backend) -> None:
    # Every node's session has a 60 s statement timeout; keying a large journal takes longer.
    with psycopg.connect(pg.location) as conn:
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz)")
        for statement in MIGRATIONS[0]:
            conn.execute(statement.encode())
        conn.execute("INSERT INTO schema_migrations VALUES (1, now())")
        conn.execute(
            "INSERT INTO events SELECT i, %s + i, true, true, 'id-' || i, '111122223333', 'us-east-1',"
            " 'GetDatabase', 'glue.amazonaws.com', 'alice', 'AKIAALICE',"
            " ARRAY['AWS::Glue::Database', 'db' || i], '{}' FROM generate_series(1, 20000) AS i",
            (T0,),
        )
        conn.commit()
        conn.execute("SET statement_timeout = '5ms'")  # far shorter than keying 20 000 events takes
        migrate(conn)
        keyed = conn.execute("SELECT count(*) FROM lookup_keys").fetchone()
    assert keyed == (20000 * 8,)
