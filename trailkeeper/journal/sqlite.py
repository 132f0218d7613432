"""SQLite journal: JournalEntry values in, durable rows and seqs out; LookupQuery in, LookupPage out.

One writer thread owns the only write connection and commits everything queued in ONE
transaction (group commit, ``_group_commit``), so throughput grows with concurrency while a lone
append costs one fsync. Reads use their own connections on a small thread pool. A write error
fails the whole batch with JournalUnavailable and turns ``writable()`` False until a heartbeat
write succeeds. The schema is in ``_sqlite_schema``, the writer in ``_sqlite_writer``, the
queries in ``_sqlite_reads``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from trailkeeper.errors import ConfigError, JournalUnavailable
from trailkeeper.journal import _sqlite_reads as reads
from trailkeeper.journal._entries import epoch_ms
from trailkeeper.journal._group_commit import GroupCommitter, Kind
from trailkeeper.journal._readers import ReaderPool
from trailkeeper.journal._sqlite_ids import IdFilters
from trailkeeper.journal._sqlite_schema import SYNCHRONOUS, last_seq
from trailkeeper.journal._sqlite_writer import SqliteStore, select_secret
from trailkeeper.journal.base import JournalEntry, LookupPage, LookupQuery, StoredEvent

__all__ = ["SqliteJournal"]

_MAX_BATCH_ITEMS = 2000
_MAX_BATCH_BYTES = 4 * 1024 * 1024
_SPACE_TTL_SECONDS = 0.25
_READERS = 2

_T = TypeVar("_T")


class SqliteJournal:
    """The default Journal: one SQLite file in WAL mode (see the module docstring)."""

    def __init__(
        self, path: Path, *, synchronous: str = "FULL", min_free_bytes: int = 16 * 1024 * 1024
    ) -> None:
        if synchronous.upper() not in SYNCHRONOUS:
            raise ConfigError(f"journal synchronous={synchronous!r}: expected one of {sorted(SYNCHRONOUS)}")
        self._path, self._min_free_bytes = path, min_free_bytes
        self._store = SqliteStore(path, synchronous.upper(), _READERS)
        self._writer = GroupCommitter(
            self._store, self.describe(), max_items=_MAX_BATCH_ITEMS, max_bytes=_MAX_BATCH_BYTES
        )
        self._readers: ReaderPool[sqlite3.Connection] | None = None
        self._ids = IdFilters()  # partitions' event-id filters, cached across lookups
        self._secrets: dict[str, bytes] = {}
        self._closed = False
        self._space = (float("-inf"), True)  # (monotonic time of the check, enough free space)

    def describe(self) -> str:
        return f"sqlite({self._path})"

    @property
    def commits(self) -> int:
        """Transactions committed so far; group commit keeps this well below the number of appends."""
        return self._writer.commits

    def writable(self) -> bool:
        return self._writer.alive() and self._writer.healthy and not self._closed and self._enough_space()

    async def open(self) -> None:
        if self._readers is not None:
            return
        await self._writer.start()
        self._readers = ReaderPool(self.describe(), self._store.read_conns, sqlite3.Connection.close)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._writer.stop()
        if self._readers is not None:
            self._readers.close()

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
        if name not in self._secrets:  # a stored secret never changes (INSERT OR IGNORE), so cache it
            stored: object = await self._read(lambda conn: select_secret(conn, name))
            if stored is None:
                stored = await self._submit("secret", (name, factory_bytes))
            assert isinstance(stored, bytes)
            self._secrets[name] = stored
        return self._secrets[name]

    async def lookup(self, query: LookupQuery) -> LookupPage:
        return await self._read(
            lambda conn: reads.snapshot(conn, lambda: reads.lookup(conn, query, self._ids))
        )

    async def read_after(self, seq: int, limit: int) -> list[StoredEvent]:
        # Seqs are handed out in commit order by the one writer, so a committed seq means every
        # lower one is committed too (or was pruned): resuming after the last seq seen skips none.
        return await self._read(lambda conn: reads.snapshot(conn, lambda: reads.read_after(conn, seq, limit)))

    async def read_seqs(self, seqs: Sequence[int]) -> list[StoredEvent]:
        wanted = sorted(set(seqs))
        return await self._read(lambda conn: reads.snapshot(conn, lambda: reads.read_seqs(conn, wanted)))

    async def last_seq(self) -> int:
        return await self._read(last_seq)

    def _enough_space(self) -> bool:
        # Cached briefly: the gateway asks writable() on every call. Refusing below the threshold
        # keeps SQLite from running out of space in the middle of a transaction.
        checked, enough = self._space
        now = time.monotonic()
        if now - checked >= _SPACE_TTL_SECONDS:
            try:
                st = os.statvfs(self._path.parent)
                enough = st.f_bavail * st.f_frsize >= self._min_free_bytes
            except OSError:
                enough = False
            self._space = (now, enough)
        return enough

    async def _submit(self, kind: Kind, arg: object, size: int = 0, *, gate: bool = False) -> object:
        if self._closed or not self._writer.alive():
            raise JournalUnavailable(f"journal {self.describe()} is not open")
        if gate and not self.writable():
            raise JournalUnavailable(f"journal {self.describe()} cannot write now (disk full or failing)")
        return await self._writer.submit(kind, arg, size)

    async def _read(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._readers is None or self._closed:
            raise JournalUnavailable(f"journal {self.describe()} is not open")
        return await self._readers.run(fn)
