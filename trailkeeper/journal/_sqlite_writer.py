"""The SQLite journal's writer: batches of work in, one committed SQLite transaction (and its results) out.

The durable commit holds only what the caller waits for: the event rows (appended at the end of
the rowid tree, so a batch shares its pages) and their event_id entries. Lookup keys follow in
``catch_up`` transactions of up to KEY_CHUNK events, run when the queue has been idle briefly or
the tail reaches MAX_TAIL (see ``_sqlite_keys``). A crash loses no key: they are rebuilt from
the durable rows after counters 'indexed'.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trailkeeper.journal._entries import decode_entry, encode_entry
from trailkeeper.journal._group_commit import BatchFailed, ItemError, Kind, Outcome, Work
from trailkeeper.journal._sqlite_checkpoint import Checkpointer
from trailkeeper.journal._sqlite_keys import (
    DELETE_KEY,
    INSERT_EVENT,
    INSERT_KEYS,
    KEYS_OF_OLDEST,
    OLDEST,
    event_row,
)
from trailkeeper.journal._sqlite_schema import connect, indexed_seq, last_seq, migrate, rollback
from trailkeeper.journal.base import JournalEntry

__all__ = ["KEY_CHUNK", "MAX_TAIL", "PRUNE_CHUNK", "SqliteStore", "select_secret"]

PRUNE_CHUNK = 1000
KEY_CHUNK = 1000  # events keyed per catch_up transaction: about 30 ms that appends wait behind
MAX_TAIL = 2000  # un-keyed events at most before the writer keys them between batches

_SAVE_SEQ = "INSERT OR REPLACE INTO counters VALUES ('seq', ?)"
_SAVE_INDEXED = "INSERT OR REPLACE INTO counters VALUES ('indexed', ?)"
_DELETE_OLDEST = f"DELETE FROM events WHERE seq IN ({OLDEST})"  # noqa: S608 constant


class SqliteStore:
    """The one write connection, the last seq handed out and the stored reservations' ids."""

    prune_chunk = PRUNE_CHUNK
    max_backlog = MAX_TAIL

    def __init__(self, path: Path, synchronous: str, readers: int) -> None:
        self._path, self._synchronous, self._readers = path, synchronous, readers
        self._conn: sqlite3.Connection | None = None
        self.read_conns: list[sqlite3.Connection] = []  # opened by start(), after the migrations
        self._seq = 0  # the last seq handed out
        self._indexed = 0  # the last seq whose lookup keys are stored (counters 'indexed')
        self._reserved: set[str] = set()  # event ids with a stored reservation
        self._rows: list[tuple[Any, ...]] = []  # event rows of the batch, inserted with one executemany
        self.written = 0  # events appended or keyed so far: what the checkpointer paces itself by
        self._checkpointer = Checkpointer(path, synchronous, lambda: self.written)

    def start(self) -> None:
        conns: list[sqlite3.Connection] = []
        try:
            conns.append(conn := connect(self._path, self._synchronous, read_only=False))
            migrate(conn)
            self._seq, self._indexed = last_seq(conn), indexed_seq(conn)
            self._recover(conn)
            conns += [connect(self._path, "NORMAL", read_only=True) for _ in range(self._readers)]
            self._checkpointer.start()
        except BaseException:
            for opened in conns:
                opened.close()
            raise
        self._conn, self.read_conns = conn, conns[1:]

    def stop(self) -> None:
        self._checkpointer.stop()
        if self._conn is not None:
            self._conn.close()

    def transaction(self, batch: Sequence[Work]) -> list[Outcome]:
        try:
            return self._transaction(batch, bulk=True)
        except _BulkRefused:
            # Some row is bad, and one executemany cannot say which: redo the batch item by
            # item, so that only the bad one fails (the committer drops it and retries the rest).
            return self._transaction(batch, bulk=False)

    def backlog(self) -> int:
        """Events whose lookup keys are not stored yet."""
        return self._seq - self._indexed

    def catch_up(self) -> None:
        """Store the lookup keys of up to KEY_CHUNK tail events, in one transaction."""
        conn = self._writer()
        try:
            # Keys are rebuilt from the durable rows after a crash, so their commit need not wait
            # for an fsync: NORMAL in WAL mode still syncs before every checkpoint, and the next
            # append's FULL commit flushes these frames with its own.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            # Seqs are handed out one by one, so this range holds at most KEY_CHUNK events.
            upto = min(self._indexed + KEY_CHUNK, self._seq)
            conn.execute(INSERT_KEYS, {"after": self._indexed, "upto": upto})
            conn.execute(_SAVE_INDEXED, (upto,))
            conn.execute("COMMIT")
        except sqlite3.Error as err:  # the database cannot write: fail closed
            rollback(conn)
            raise BatchFailed(str(err)) from err
        finally:
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        self.written += upto - self._indexed
        self._indexed = upto

    def _transaction(self, batch: Sequence[Work], *, bulk: bool) -> list[Outcome]:
        conn = self._writer()
        seq_before, reserved_before = self._seq, set(self._reserved)
        try:
            conn.execute("BEGIN IMMEDIATE")
            outcomes: list[Outcome] = [(work, self._apply(conn, work, bulk), None) for work in batch]
            self._flush(conn)
            conn.execute("COMMIT")
            self.written += len(batch)
            return outcomes
        except (ItemError, _BulkRefused):
            rollback(conn)
            self._seq, self._reserved, self._rows = seq_before, reserved_before, []
            raise
        except sqlite3.Error as err:  # the database cannot write: fail closed
            rollback(conn)
            self._seq, self._reserved, self._rows = seq_before, reserved_before, []
            raise BatchFailed(str(err)) from err

    def _flush(self, conn: sqlite3.Connection) -> None:
        """Insert the batch's pending event rows with one executemany."""
        if self._rows:
            rows, self._rows = self._rows, []
            try:
                conn.executemany(INSERT_EVENT, rows)
            except (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError) as err:
                raise _BulkRefused(str(err)) from err

    def probe(self) -> bool:
        conn = self._writer()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR REPLACE INTO heartbeat VALUES (1, ?)", (int(time.time() * 1000),))
            conn.execute("COMMIT")
        except sqlite3.Error:
            rollback(conn)
            return False
        return True

    def _writer(self) -> sqlite3.Connection:
        assert self._conn is not None, "start() first"
        return self._conn

    def _apply(self, conn: sqlite3.Connection, work: Work, bulk: bool) -> object:
        try:
            if work.kind == "append":
                return self._do_append(conn, work.arg, bulk)
            self._flush(conn)  # a prune must see every earlier append of the batch
            return _APPLY[work.kind](self, conn, work.arg)
        except _BulkRefused as err:
            if bulk:
                raise  # which row is unknown: transaction() redoes the batch item by item
            raise ItemError(work, ValueError(f"journal refused {work.kind}: {err}")) from err
        except (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError) as err:
            raise ItemError(work, ValueError(f"journal refused {work.kind}: {err}")) from err
        except sqlite3.Error:
            raise  # SQLITE_FULL, read-only, I/O error, corruption: the whole batch fails
        except Exception as err:  # a malformed entry: only its caller gets the error
            raise ItemError(work, err) from err

    def _do_append(self, conn: sqlite3.Connection, entry: JournalEntry, bulk: bool) -> int:
        self._rows.append(event_row(self._seq + 1, entry))
        if not bulk:
            self._flush(conn)
        self._seq += 1
        if entry.event_id in self._reserved:
            conn.execute("DELETE FROM reservations WHERE event_id = ?", (entry.event_id,))
            self._reserved.discard(entry.event_id)
        return self._seq

    def _do_reserve(self, conn: sqlite3.Connection, entry: JournalEntry) -> None:
        row = (entry.event_id, encode_entry(entry), entry.record)
        conn.execute("INSERT OR REPLACE INTO reservations VALUES (?, ?, ?)", row)
        self._reserved.add(entry.event_id)

    def _do_release(self, conn: sqlite3.Connection, event_id: str) -> None:
        conn.execute("DELETE FROM reservations WHERE event_id = ?", (event_id,))
        self._reserved.discard(event_id)

    def _do_prune(self, conn: sqlite3.Connection, before_ms: int) -> int:
        # The highest seq handed out is saved first: pruning every event must not let a seq come
        # back (appends do not save it; while events remain, max(seq) tells it).
        conn.execute(_SAVE_SEQ, (self._seq,))
        chunk = {"before": before_ms, "limit": PRUNE_CHUNK}
        conn.executemany(DELETE_KEY, conn.execute(KEYS_OF_OLDEST, chunk).fetchall())
        return conn.execute(_DELETE_OLDEST, chunk).rowcount

    def _do_secret(self, conn: sqlite3.Connection, arg: tuple[str, bytes]) -> bytes | None:
        conn.execute("INSERT OR IGNORE INTO secrets VALUES (?, ?)", arg)
        return select_secret(conn, arg[0])

    def _recover(self, conn: sqlite3.Connection) -> None:
        """Turn reservations left by a crash into events: the outcome of those calls is unknown."""
        rows = conn.execute("SELECT entry, record FROM reservations ORDER BY rowid").fetchall()
        conn.execute("BEGIN IMMEDIATE")
        for blob, record in rows:
            entry = decode_entry(blob, record)
            if conn.execute("SELECT 1 FROM events WHERE event_id = ?", (entry.event_id,)).fetchone() is None:
                self._seq += 1
                conn.execute(INSERT_EVENT, event_row(self._seq, entry))
        conn.execute("DELETE FROM reservations")
        conn.execute(_SAVE_SEQ, (self._seq,))
        conn.execute("COMMIT")


_APPLY: dict[Kind, Callable[[SqliteStore, sqlite3.Connection, Any], object]] = {
    "reserve": SqliteStore._do_reserve,
    "release": SqliteStore._do_release,
    "prune": SqliteStore._do_prune,
    "secret": SqliteStore._do_secret,
}


class _BulkRefused(Exception):
    """The database refused a row of a bulk insert (e.g. a duplicate event_id): redo item by item."""


def select_secret(conn: sqlite3.Connection, name: str) -> bytes | None:
    row = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
    return None if row is None else bytes(row[0])
