"""PostgresJournal alone: start-up errors, migrations, several nodes on one database, lost connections."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.e2e.server import free_port
from trailkeeper.errors import JournalUnavailable
from trailkeeper.journal._pg_schema import MIGRATIONS
from trailkeeper.journal.base import Journal
from trailkeeper.journal.postgres import PostgresJournal

from .support import PG_URL, T0, Backend, backend_of, event_ids, make_entry, pg_admin, pg_indexed, query


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Backend]:
    with backend_of("postgres", tmp_path) as store:
        yield store


@pytest.fixture
def own_database() -> Iterator[str]:
    """A fresh database, so a test may refuse its connections without touching anyone else's."""
    name = f"tk_test_{uuid.uuid4().hex[:12]}"
    with pg_admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with pg_admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _cut_off(database: str, *, allow: bool) -> None:
    """Refuse (or allow again) new connections to ``database`` and end the open ones."""
    with pg_admin() as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(database), sql.SQL("true" if allow else "false")
            )
        )
        if not allow:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
            )


async def _wait_until(condition: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        await asyncio.sleep(0.05)
    return False


def test_postgres_journal_satisfies_journal_protocol(pg: Backend) -> None:
    journal: Journal = PostgresJournal(pg.location)  # mypy checks the protocol here
    assert journal.describe() == pg.location


def test_open_with_the_server_unreachable_fails_clearly_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql://trail:hunter2@127.0.0.1:{free_port()}/test"

    async def scenario() -> None:
        with pytest.raises(JournalUnavailable) as info:
            await PostgresJournal(url).open()
        message = str(info.value)
        assert message.startswith(f"cannot open journal postgresql://trail:***@127.0.0.1:{url.split(':')[3]}")
        assert "hunter2" not in message
        assert info.value.__cause__ is None  # the driver's own exception is not chained along

    with caplog.at_level(logging.DEBUG):
        asyncio.run(scenario())
    assert not any("hunter2" in r.getMessage() for r in caplog.records)


def test_open_refuses_a_schema_newer_than_it_knows(pg: Backend) -> None:
    async def scenario() -> None:
        async with pg.opened():
            pass
        with psycopg.connect(pg.location, autocommit=True) as conn:
            conn.execute("INSERT INTO schema_migrations (version) VALUES (99)")
        with pytest.raises(JournalUnavailable, match="schema version 99 is newer"):
            await pg.journal().open()

    asyncio.run(scenario())


def test_open_without_an_existing_schema_to_create_tables_in_fails_clearly() -> None:
    url = f"{PG_URL}?options=-csearch_path%3Dtk_no_such_schema_{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        with pytest.raises(JournalUnavailable, match="no schema to create the journal in"):
            await PostgresJournal(url).open()

    asyncio.run(scenario())


def test_nodes_starting_at_once_apply_each_migration_once(pg: Backend) -> None:
    async def scenario() -> None:
        journals = [pg.journal() for _ in range(4)]
        await asyncio.gather(*(j.open() for j in journals))
        try:
            await journals[0].append(make_entry())
            assert [await j.last_seq() for j in journals] == [1, 1, 1, 1]
        finally:
            await asyncio.gather(*(j.close() for j in journals))
        with psycopg.connect(pg.location) as conn:
            versions = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        assert versions == [(v,) for v in range(1, len(MIGRATIONS) + 1)]

    asyncio.run(scenario())


def test_two_nodes_hand_out_seqs_in_commit_order_so_a_follower_skips_nothing(pg: Backend) -> None:
    per_task, tasks_per_node = 60, 16

    async def scenario() -> None:
        async with pg.opened() as a, pg.opened() as b, pg.opened() as follower:
            acked: list[int] = []
            seen: list[int] = []
            writing = True

            async def write(journal: Journal, k: int) -> None:
                for i in range(per_task):
                    acked.append(await journal.append(make_entry(T0 + i * 100 + k)))

            async def follow() -> None:
                cursor = 0
                while True:
                    done = not writing  # read before the page: a page after the last write is complete
                    page = await follower.read_after(cursor, 50)
                    seen.extend(s.seq for s in page)
                    cursor = page[-1].seq if page else cursor
                    if done and not page:
                        return

            follower_task = asyncio.create_task(follow())
            await asyncio.gather(*(write(j, k) for k in range(tasks_per_node) for j in (a, b)))
            writing = False
            await follower_task
            total = per_task * tasks_per_node * 2
            assert sorted(acked) == list(range(1, total + 1))  # every seq handed out once, no holes
            assert seen == list(range(1, total + 1))  # the follower met each one, in order
            assert a.commits + b.commits < total  # both nodes still group their commits

    asyncio.run(scenario())


def test_a_live_nodes_reservation_stays_and_a_closed_nodes_becomes_an_event(pg: Backend) -> None:
    pending, orphan = make_entry(T0), make_entry(T0 + 1, errorCode="OutcomeUnknown")

    async def scenario() -> None:
        async with pg.opened() as a:
            await a.reserve(pending)
            async with pg.opened() as b:  # a is alive: its call may still complete
                assert (await b.lookup(query())).events == []
                await a.append(pending)
                await a.reserve(orphan)
            assert event_ids((await a.lookup(query())).events) == [pending.event_id]
        async with pg.opened() as c:  # a has gone: its reservation's outcome is unknown
            page = await c.lookup(query())
            assert [s.entry for s in page.events] == [orphan, pending]

    asyncio.run(scenario())


def test_every_node_shares_events_secrets_and_one_seq_order(pg: Backend) -> None:
    async def scenario() -> None:
        async with pg.opened() as a, pg.opened() as b:
            key = await a.get_or_create_secret("sts-session-key", b"from-a")
            assert await b.get_or_create_secret("sts-session-key", b"from-b") == key == b"from-a"
            first = await a.append(make_entry(T0))
            second = await b.append(make_entry(T0 + 1))
            assert second == first + 1
            for journal in (a, b):
                assert [s.seq for s in (await journal.lookup(query())).events] == [second, first]

    asyncio.run(scenario())


def test_lost_database_fails_closed_and_the_probe_reconnects(own_database: str) -> None:
    url = PG_URL.rsplit("/", 1)[0] + f"/{own_database}"
    kept, after = make_entry(T0), make_entry(T0 + 2)

    async def scenario() -> None:
        journal = PostgresJournal(url)
        await journal.open()
        try:
            first = await journal.append(kept)
            _cut_off(own_database, allow=False)
            with pytest.raises(JournalUnavailable, match="could not commit"):
                await journal.append(make_entry(T0 + 1))
            assert not journal.writable()
            with pytest.raises(JournalUnavailable, match="cannot write now"):
                await journal.reserve(make_entry(T0 + 1))
            with pytest.raises(JournalUnavailable, match="cannot read"):
                await journal.lookup(query())
            await asyncio.sleep(0.7)  # at least one probe runs, and fails, meanwhile
            assert not journal.writable()
            _cut_off(own_database, allow=True)
            assert await _wait_until(journal.writable)
            assert await journal.append(after) == first + 1  # no seq was lost to the failed batch
            assert event_ids((await journal.lookup(query())).events) == [after.event_id, kept.event_id]
            assert await _wait_until(lambda: pg_indexed(url) == first + 1)  # the indexer reconnected too
            assert event_ids((await journal.lookup(query())).events) == [after.event_id, kept.event_id]
        finally:
            await journal.close()

    asyncio.run(scenario())


def test_connections_cut_while_idle_are_replaced_without_failing_a_call(own_database: str) -> None:
    url = PG_URL.rsplit("/", 1)[0] + f"/{own_database}"

    async def scenario() -> None:
        journal = PostgresJournal(url)
        await journal.open()
        try:
            await journal.append(make_entry(T0))
            assert len((await journal.lookup(query())).events) == 1
            _cut_off(own_database, allow=False)  # as a server restart does to every session
            _cut_off(own_database, allow=True)
            assert journal.writable()
            await journal.append(make_entry(T0 + 1))
            assert len((await journal.lookup(query())).events) == 2
            assert journal.writable()
        finally:
            await journal.close()

    asyncio.run(scenario())
