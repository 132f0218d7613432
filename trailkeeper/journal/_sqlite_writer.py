"""The SQLite journal's writer: batches of work in, one committed SQLite transaction (and its results) out.

The durable commit holds only what the caller waits for: the event rows, appended at the end of
the rowid tree (and the time index), so a batch shares its pages. Lookup keys follow in
``catch_up`` transactions of up to KEY_CHUNK events, run when the queue has been idle briefly or
the tail reaches MAX_TAIL (see ``_sqlite_keys``). A crash loses no key: they are rebuilt from
the durable rows after counters 'indexed'.

Event ids are not a unique index (each random id would cost a random page per append, see
migration 3): the writer refuses an id among the latest RECENT_IDS appends instead, which
catches an entry appended twice. Ids are random UUIDs, so that is the only way one repeats.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trailkeeper.journal._entries import decode_entry, encode_entry
from trailkeeper.journal._group_commit import BatchFailed, ItemError, Kind, Outcome, Work
from trailkeeper.journal._recent_ids import RecentIds
from trailkeeper.journal._sqlite_checkpoint import Checkpointer
from trailkeeper.journal._sqlite_ids import add_ids, fill_missing
from trailkeeper.journal._sqlite_keys import (
    DELETE_KEY,
    INSERT_EVENT,
    INSERT_KEYS,
    KEYS_OF_OLDEST,
    OLDEST,
    PART_EVENTS,
    SAVE_PARTS,
    event_row,
)
from trailkeeper.journal._sqlite_schema import connect, indexed_seq, last_seq, migrate, rollback
from trailkeeper.journal.base import JournalEntry

__all__ = ["KEY_CHUNK", "MAX_TAIL", "PRUNE_CHUNK", "SqliteStore", "select_secret"]

PRUNE_CHUNK = 1000
# Events keyed per catch_up transaction: about 70 ms that appends wait behind. Bigger chunks
# share more pages between keys (measured per event: 48 µs at 1000, 35 µs at 2000).
KEY_CHUNK = 2000
MAX_TAIL = 4000  # un-keyed events at most before the writer keys them between batches
RECENT_IDS = 20_000  # event ids the writer remembers to refuse a repeat: ~3 MB, 1 s at 20 000/s

_SAVE_SEQ = "INSERT OR REPLACE INTO counters VALUES ('seq', ?)"
_SAVE_INDEXED = "INSERT OR REPLACE INTO counters VALUES ('indexed', ?)"
_DELETE_OLDEST = f"DELETE FROM events WHERE seq IN ({OLDEST})"  # noqa: S608 constant
# Partitions wholly below the oldest event left hold no keys any more.
_DELETE_PARTS = "DELETE FROM lookup_parts WHERE part < (SELECT min(seq) FROM events) / ?"
_LATEST_IDS = "SELECT event_id FROM (SELECT seq, event_id FROM events ORDER BY seq DESC LIMIT ?) ORDER BY seq"


class SqliteStore:
    """The one write connection, the last seq handed out and the stored reservations' ids."""

    prune_chunk = PRUNE_CHUNK
    max_backlog = MAX_TAIL
    part_events = PART_EVENTS

    def __init__(self, path: Path, synchronous: str, readers: int) -> None:
        self._path, self._synchronous, self._readers = path, synchronous, readers
        self._conn: sqlite3.Connection | None = None
        self.read_conns: list[sqlite3.Connection] = []  # opened by start(), after the migrations
        self._seq = 0  # the last seq handed out
        self._indexed = 0  # the last seq whose lookup keys are stored (counters 'indexed')
        self._reserved: set[str] = set()  # event ids with a stored reservation
        self._recent = RecentIds(RECENT_IDS)
        self._rows: list[tuple[Any, ...]] = []  # event rows of the batch, inserted with one executemany
        self.written = 0  # events appended or keyed so far: what the checkpointer paces itself by
        self._checkpointer = Checkpointer(path, synchronous, lambda: self.written)

    def start(self) -> None:
        conns: list[sqlite3.Connection] = []
        try:
            conns.append(conn := connect(self._path, self._synchronous, read_only=False))
            migrate(conn)
            self._seq, self._indexed = last_seq(conn), indexed_seq(conn)
            self._recent.commit(row[0] for row in conn.execute(_LATEST_IDS, (RECENT_IDS,)))
            self._recover(conn)
            self._fill_id_filters(conn)
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
            chunk = {"after": self._indexed, "upto": upto, "part": self.part_events}
            conn.execute(INSERT_KEYS, chunk)
            conn.execute(SAVE_PARTS, chunk)
            add_ids(conn, chunk)
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
            self._recent.commit()
            self.written += len(batch)
            return outcomes
        except (ItemError, _BulkRefused):
            rollback(conn)
            self._seq, self._reserved, self._rows = seq_before, reserved_before, []
            self._recent.rollback()
            raise
        except sqlite3.Error as err:  # the database cannot write: fail closed
            rollback(conn)
            self._seq, self._reserved, self._rows = seq_before, reserved_before, []
            self._recent.rollback()
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
        if entry.event_id in self._recent:
            raise ValueError(f"journal refused append: event id {entry.event_id} is already stored")
        self._rows.append(event_row(self._seq + 1, entry))
        self._recent.add(entry.event_id)
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
        chunk = {"before": before_ms, "limit": PRUNE_CHUNK, "part": self.part_events}
        conn.executemany(DELETE_KEY, conn.execute(KEYS_OF_OLDEST, chunk).fetchall())
        deleted = conn.execute(_DELETE_OLDEST, chunk).rowcount
        conn.execute(_DELETE_PARTS, (self.part_events,))
        return deleted

    def _do_secret(self, conn: sqlite3.Connection, arg: tuple[str, bytes]) -> bytes | None:
        conn.execute("INSERT OR IGNORE INTO secrets VALUES (?, ?)", arg)
        return select_secret(conn, arg[0])

    def _fill_id_filters(self, conn: sqlite3.Connection) -> None:
        """Partitions keyed before they had id filters (a migrated journal) get theirs now,
        before any catch-up adds to them."""
        conn.execute("BEGIN IMMEDIATE")
        fill_missing(conn, self.part_events)
        conn.execute("COMMIT")

    def _recover(self, conn: sqlite3.Connection) -> None:
        """Turn reservations left by a crash into events: the outcome of those calls is unknown."""
        rows = conn.execute("SELECT entry, record FROM reservations ORDER BY rowid").fetchall()
        conn.execute("BEGIN IMMEDIATE")
        for blob, record in rows:
            entry = decode_entry(blob, record)
            # A reservation and its event's append commit together, so a stored reservation
            # means no such event; the check is belt and braces (its event would be recent).
            if entry.event_id not in self._recent:
                self._seq += 1
                conn.execute(INSERT_EVENT, event_row(self._seq, entry))
                self._recent.add(entry.event_id)
        conn.execute("DELETE FROM reservations")
        conn.execute(_SAVE_SEQ, (self._seq,))
        conn.execute("COMMIT")
        self._recent.commit()


_APPLY: dict[Kind, Callable[[SqliteStore, sqlite3.Connection, Any], object]] = {
    "reserve": SqliteStore._do_reserve,
    "release": SqliteStore._do_release,
    "prune": SqliteStore._do_prune,
    "secret": SqliteStore._do_secret,
}


class _BulkRefused(Exception):
    """The database refused a row of a bulk insert: redo the batch item by item."""


def select_secret(conn: sqlite3.Connection, name: str) -> bytes | None:
    row = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
    return None if row is None else bytes(row[0])
