"""PostgreSQL journal: JournalEntry values in, durable rows and seqs out; LookupQuery in, LookupPage out.

Same contract and same group commit as the SQLite journal (``_group_commit``): one writer
thread owns the write connection and commits each batch in one transaction (COPY for the
events) with ``synchronous_commit = on``, so an append returns only once its WAL is flushed.
Several nodes may share one database: seqs follow commit order across all of them
(``_pg_writer``), reservations are recovered only from writers that died, and secrets are
shared. A failed write fails its batch with JournalUnavailable and turns ``writable()`` False
until a heartbeat (reconnecting if need be) commits again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from trailkeeper.errors import ConfigError, JournalUnavailable
from trailkeeper.journal import _pg_reads as reads
from trailkeeper.journal._entries import epoch_ms
from trailkeeper.journal._group_commit import GroupCommitter, Kind
from trailkeeper.journal._pg_connect import Scrubber, redact_url
from trailkeeper.journal._pg_writer import PgStore
from trailkeeper.journal._readers import ReaderPool
from trailkeeper.journal.base import JournalEntry, LookupPage, LookupQuery, StoredEvent

__all__ = ["PostgresJournal"]

_MAX_BATCH_ITEMS = 2000
_MAX_BATCH_BYTES = 4 * 1024 * 1024
_READERS = 4

_T = TypeVar("_T")
_Conn = psycopg.Connection[tuple[Any, ...]]


class PostgresJournal:
    """A Journal in a PostgreSQL database, in the schema the URL's search_path names (see the module)."""

    def __init__(self, url: str) -> None:
        self._url, self._name = url, redact_url(url)
        try:
            self._scrub = Scrubber(url)
        except psycopg.Error:  # libpq's own parse error may quote the URL, password included
            raise ConfigError(f"journal URL {self._name} is not a valid PostgreSQL URL") from None
        self._store = PgStore(url, self._scrub, self._name)
        self._writer = GroupCommitter(
            self._store, self._name, max_items=_MAX_BATCH_ITEMS, max_bytes=_MAX_BATCH_BYTES
        )
        self._readers: ReaderPool[reads.PgReader] | None = None
        self._secrets: dict[str, bytes] = {}
        self._closed = False

    def describe(self) -> str:
        return self._name

    @property
    def commits(self) -> int:
        """Transactions committed so far; group commit keeps this well below the number of appends."""
        return self._writer.commits

    def writable(self) -> bool:
        return self._writer.alive() and self._writer.healthy and not self._closed

    async def open(self) -> None:
        if self._readers is not None:
            return
        await self._writer.start()
        pool = [reads.PgReader(self._url, self._scrub, self._name) for _ in range(_READERS)]
        self._readers = ReaderPool(self._name, pool, reads.PgReader.close)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._writer.stop()
        if self._readers is not None:
            await asyncio.to_thread(self._readers.close)

    async def append(self, entry: JournalEntry) -> int:
        seq = await self._submit("append", entry, len(entry.record), gate=True)
        assert isinstance(seq, int)
        return seq

    async def reserve(self, fallback: JournalEntry) -> None:
        await self._submit("reserve", fallback, len(fallback.record), gate=True)

    async def release(self, event_id: str) -> None:
        await self._submit("release", event_id)

    async def prune(self, before: datetime) -> int:
        deleted = await self._submit("prune", epoch_ms(before))
        assert isinstance(deleted, int)
        return deleted

    async def get_or_create_secret(self, name: str, factory_bytes: bytes) -> bytes:
        if name not in self._secrets:  # a stored secret never changes (first insert wins), so cache it
            stored: object = await self._read(lambda conn: reads.select_secret(conn, name))
            if stored is None:
                stored = await self._submit("secret", (name, factory_bytes))
            assert isinstance(stored, bytes)
            self._secrets[name] = stored
        return self._secrets[name]

    async def lookup(self, query: LookupQuery) -> LookupPage:
        return await self._read(lambda conn: reads.lookup(conn, query))

    async def read_after(self, seq: int, limit: int) -> list[StoredEvent]:
        return await self._read(lambda conn: reads.read_after(conn, seq, limit))

    async def read_seqs(self, seqs: Sequence[int]) -> list[StoredEvent]:
        wanted = sorted(set(seqs))
        return await self._read(lambda conn: reads.read_seqs(conn, wanted))

    async def last_seq(self) -> int:
        return await self._read(reads.last_seq)

    async def _submit(self, kind: Kind, arg: object, size: int = 0, *, gate: bool = False) -> object:
        if self._closed or not self._writer.alive():
            raise JournalUnavailable(f"journal {self._name} is not open")
        if gate and not self.writable():
            raise JournalUnavailable(
                f"journal {self._name} cannot write now (database unreachable or failing)"
            )
        return await self._writer.submit(kind, arg, size)

    async def _read(self, fn: Callable[[_Conn], _T]) -> _T:
        if self._readers is None or self._closed:
            raise JournalUnavailable(f"journal {self._name} is not open")
        return await self._readers.run(lambda reader: reader.run(fn))
