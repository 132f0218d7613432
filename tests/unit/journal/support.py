"""Shared by the journal and history tests: JournalEntry values, and journals of both kinds to run them on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql

from trailkeeper.journal.base import JournalEntry, LookupAttribute, LookupQuery, StoredEvent
from trailkeeper.journal.postgres import PostgresJournal
from trailkeeper.journal.sqlite import SqliteJournal

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-east-1"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
FAR_FUTURE = 4_102_444_800_000  # 2100-01-01


def db_resource(name: str, account: str = ACCOUNT, region: str = REGION) -> tuple[tuple[str, str], ...]:
    """A Glue database as the record builder indexes it: by short name and by ARN."""
    arn = f"arn:aws:glue:{region}:{account}:database/{name}"
    return (("AWS::Glue::Database", name), ("AWS::Glue::Database", arn))


def make_entry(
    event_time_ms: int = T0,
    *,
    event_id: str | None = None,
    account_id: str = ACCOUNT,
    region: str = REGION,
    event_name: str = "GetDatabase",
    event_source: str = "glue.amazonaws.com",
    read_only: bool = True,
    username: str = "alice",
    access_key_id: str = "AKIAALICE0000000001X",
    resources: tuple[tuple[str, str], ...] = (),
    management: bool = True,
    **record_extra: Any,
) -> JournalEntry:
    """An entry whose record is a small JSON object carrying the same facts as its columns."""
    event_id = event_id or str(uuid.uuid4())
    record = orjson.dumps(
        {"eventID": event_id, "eventName": event_name, "eventSource": event_source, "awsRegion": region,
         "recipientAccountId": account_id, "readOnly": read_only, **record_extra}
    )  # fmt: skip
    return JournalEntry(
        record, account_id, region, event_time_ms, event_id, event_name, event_source, read_only,
        username, access_key_id, resources, management,
    )  # fmt: skip


def query(
    *,
    attribute: tuple[LookupAttribute, str] | None = None,
    account_id: str = ACCOUNT,
    region: str = REGION,
    start_ms: int = 0,
    end_ms: int = FAR_FUTURE,
    limit: int = 50,
    after: tuple[int, int] | None = None,
) -> LookupQuery:
    return LookupQuery(account_id, region, start_ms, end_ms, limit, attribute, after)


async def every_page(
    journal: SqliteJournal | PostgresJournal, attribute: tuple[LookupAttribute, str] | None, limit: int
) -> list[StoredEvent]:
    """All events a lookup finds, page after page of ``limit``, as a client pages with NextToken."""
    seen: list[StoredEvent] = []
    after, more = None, True
    while more:
        page = await journal.lookup(query(attribute=attribute, limit=limit, after=after))
        seen += page.events
        more = page.more
        after = (seen[-1].entry.event_time_ms, seen[-1].seq)
    return seen


def event_ids(events: list[StoredEvent]) -> list[str]:
    return [stored.entry.event_id for stored in events]


@asynccontextmanager
async def opened(path: Path, **options: Any) -> AsyncIterator[SqliteJournal]:
    journal = SqliteJournal(path, **options)
    await journal.open()
    try:
        yield journal
    finally:
        await journal.close()


# PostgreSQL-backed tests use the local server (.ci/run starts it), each journal in its own schema.
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pg_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@contextmanager
def pg_admin() -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        yield conn


def pg_indexed(url: str) -> int:
    """counters 'indexed' of the PostgreSQL journal at ``url``: every event up to it is keyed."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value FROM counters WHERE name = 'indexed'").fetchone()
    return int(row[0]) if row else 0


@dataclass
class Backend:
    """One journal store of either kind: every ``journal()`` / ``opened()`` reaches the same data."""

    kind: str  # "sqlite" or "postgres"
    location: str  # the SQLite file, or the PostgreSQL URL naming a fresh schema
    _created: list[str] = field(default_factory=list)  # schemas to drop when the test ends

    def journal(self) -> SqliteJournal | PostgresJournal:
        if self.kind == "sqlite":
            return SqliteJournal(Path(self.location))
        return PostgresJournal(self.location)

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[SqliteJournal | PostgresJournal]:
        journal = self.journal()
        await journal.open()
        try:
            yield journal
        finally:
            await journal.close()

    def fresh(self) -> Backend:
        """Another, empty store of the same kind, dropped with this one."""
        if self.kind == "sqlite":
            return Backend("sqlite", str(Path(self.location).with_name(f"{uuid.uuid4().hex}.sqlite3")))
        schema = f"tk_test_{uuid.uuid4().hex[:12]}"
        with pg_admin() as admin:
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        self._created.append(schema)
        return Backend("postgres", pg_url(schema), self._created)

    def drop(self) -> None:
        if self._created:
            with pg_admin() as admin:
                for schema in self._created:
                    admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            self._created.clear()


@contextmanager
def backend_of(kind: str, tmp_path: Path) -> Iterator[Backend]:
    """An empty store of ``kind``; a PostgreSQL one (and every ``fresh()`` one) is dropped afterwards."""
    root = Backend(kind, str(tmp_path / "j.sqlite3"))
    store = root if kind == "sqlite" else root.fresh()
    try:
        yield store
    finally:
        root.drop()
