"""The SQLite journal's writer: batches of work in, one committed SQLite transaction (and its results) out."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trailkeeper.journal._entries import decode_entry, encode_entry
from trailkeeper.journal._group_commit import BatchFailed, ItemError, Kind, Outcome, Work
from trailkeeper.journal._sqlite_schema import COLUMNS, connect, last_seq, migrate, rollback
from trailkeeper.journal.base import JournalEntry

__all__ = ["PRUNE_CHUNK", "SqliteStore", "select_secret"]

PRUNE_CHUNK = 1000

_INSERT_EVENT = f"INSERT INTO events ({COLUMNS.replace('e.', '')}) VALUES ({', '.join('?' * 12)})"  # noqa: S608
_INSERT_RESOURCE = "INSERT INTO event_resources VALUES (?, ?, ?, ?, ?, ?, ?)"
_SAVE_SEQ = "INSERT OR REPLACE INTO counters VALUES ('seq', ?)"
_OLDEST = "SELECT seq FROM events WHERE event_time_ms < ? ORDER BY event_time_ms LIMIT ?"


class SqliteStore:
    """The one write connection, the last seq handed out and the stored reservations' ids."""

    prune_chunk = PRUNE_CHUNK

    def __init__(self, path: Path, synchronous: str, readers: int) -> None:
        self._path, self._synchronous, self._readers = path, synchronous, readers
        self._conn: sqlite3.Connection | None = None
        self.read_conns: list[sqlite3.Connection] = []  # opened by start(), after the migrations
        self._seq = 0  # the last seq handed out
        self._reserved: set[str] = set()  # event ids with a stored reservation

    def start(self) -> None:
        conns: list[sqlite3.Connection] = []
        try:
            conns.append(conn := connect(self._path, self._synchronous, read_only=False))
            migrate(conn)
            self._seq = last_seq(conn)
            self._recover(conn)
            conns += [connect(self._path, "NORMAL", read_only=True) for _ in range(self._readers)]
        except BaseException:
            for opened in conns:
                opened.close()
            raise
        self._conn, self.read_conns = conn, conns[1:]

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def transaction(self, batch: Sequence[Work]) -> list[Outcome]:
        conn = self._writer()
        seq_before, reserved_before = self._seq, set(self._reserved)
        try:
            conn.execute("BEGIN IMMEDIATE")
            outcomes: list[Outcome] = [(work, self._apply(conn, work), None) for work in batch]
            conn.execute(_SAVE_SEQ, (self._seq,))
            conn.execute("COMMIT")
            return outcomes
        except ItemError:
            rollback(conn)
            self._seq, self._reserved = seq_before, reserved_before
            raise
        except sqlite3.Error as err:  # the database cannot write: fail closed
            rollback(conn)
            self._seq, self._reserved = seq_before, reserved_before
            raise BatchFailed(str(err)) from err

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

    def _apply(self, conn: sqlite3.Connection, work: Work) -> object:
        try:
            return _APPLY[work.kind](self, conn, work.arg)
        except (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError) as err:
            raise ItemError(work, ValueError(f"journal refused {work.kind}: {err}")) from err
        except sqlite3.Error:
            raise  # SQLITE_FULL, read-only, I/O error, corruption: the whole batch fails
        except Exception as err:  # a malformed entry: only its caller gets the error
            raise ItemError(work, err) from err

    def _do_append(self, conn: sqlite3.Connection, entry: JournalEntry) -> int:
        _insert_event(conn, self._seq + 1, entry)
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
        args = (before_ms, PRUNE_CHUNK)
        conn.execute(f"DELETE FROM event_resources WHERE seq IN ({_OLDEST})", args)  # noqa: S608 constant
        return conn.execute(f"DELETE FROM events WHERE seq IN ({_OLDEST})", args).rowcount  # noqa: S608

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
                _insert_event(conn, self._seq, entry)
        conn.execute("DELETE FROM reservations")
        conn.execute(_SAVE_SEQ, (self._seq,))
        conn.execute("COMMIT")


_APPLY: dict[Kind, Callable[[SqliteStore, sqlite3.Connection, Any], object]] = {
    "append": SqliteStore._do_append,
    "reserve": SqliteStore._do_reserve,
    "release": SqliteStore._do_release,
    "prune": SqliteStore._do_prune,
    "secret": SqliteStore._do_secret,
}


def _insert_event(conn: sqlite3.Connection, seq: int, e: JournalEntry) -> None:
    conn.execute(
        _INSERT_EVENT,
        (seq, e.record, e.account_id, e.region, e.event_time_ms, e.event_id, e.event_name, e.event_source,
         int(e.read_only), e.username, e.access_key_id, int(e.management)),
    )  # fmt: skip
    if e.resources:
        rows = [
            (seq, i, e.account_id, e.region, e.event_time_ms, t, n) for i, (t, n) in enumerate(e.resources)
        ]
        conn.executemany(_INSERT_RESOURCE, rows)


def select_secret(conn: sqlite3.Connection, name: str) -> bytes | None:
    row = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
    return None if row is None else bytes(row[0])
