"""The SQLite journal's schema: a file path in, a connection with the journal's tables and settings out."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

__all__ = ["COLUMNS", "MIGRATIONS", "SYNCHRONOUS", "connect", "last_seq", "migrate", "rollback"]

SYNCHRONOUS = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})

# Migration i takes PRAGMA user_version from i to i + 1. Append new ones; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (seq INTEGER PRIMARY KEY, account_id TEXT NOT NULL, region TEXT NOT NULL,
            event_time_ms INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE, event_name TEXT NOT NULL,
            event_source TEXT NOT NULL, read_only INTEGER NOT NULL, username TEXT NOT NULL,
            access_key_id TEXT NOT NULL, management INTEGER NOT NULL, record BLOB NOT NULL) STRICT""",
        # Each LookupEvents shape is (account, region[, attribute]) equality plus a newest-first range.
        # EventId needs no composite index: the UNIQUE index above finds its one row directly.
        "CREATE INDEX events_by_time ON events (account_id, region, event_time_ms, seq)",
        "CREATE INDEX events_by_name ON events (account_id, region, event_name, event_time_ms, seq)",
        "CREATE INDEX events_by_source ON events (account_id, region, event_source, event_time_ms, seq)",
        "CREATE INDEX events_by_user ON events (account_id, region, username, event_time_ms, seq)",
        "CREATE INDEX events_by_key ON events (account_id, region, access_key_id, event_time_ms, seq)",
        "CREATE INDEX events_by_read_only ON events (account_id, region, read_only, event_time_ms, seq)",
        "CREATE INDEX events_by_age ON events (event_time_ms)",  # retention deletes the oldest first
        """CREATE TABLE event_resources (seq INTEGER NOT NULL, ordinal INTEGER NOT NULL,
            account_id TEXT NOT NULL, region TEXT NOT NULL, event_time_ms INTEGER NOT NULL,
            type TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (seq, ordinal)) STRICT, WITHOUT ROWID""",
        "CREATE INDEX resources_by_type ON event_resources (account_id, region, type, event_time_ms, seq)",
        "CREATE INDEX resources_by_name ON event_resources (account_id, region, name, event_time_ms, seq)",
        """CREATE TABLE reservations (event_id TEXT PRIMARY KEY, entry BLOB NOT NULL,
            record BLOB NOT NULL) STRICT""",
        "CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT",
        "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at_ms INTEGER NOT NULL) STRICT",
        # The highest seq ever handed out, so that pruning every event never makes a seq come back.
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT",
    ),
)

COLUMNS = (
    "e.seq, e.record, e.account_id, e.region, e.event_time_ms, e.event_id, e.event_name,"
    " e.event_source, e.read_only, e.username, e.access_key_id, e.management"
)


def connect(path: Path, synchronous: str, *, read_only: bool) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we say BEGIN and COMMIT ourselves, so one batch is one transaction.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    if str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() != "wal":
        raise sqlite3.OperationalError(f"{path}: WAL mode is not available")
    conn.execute(f"PRAGMA synchronous = {synchronous}")  # one of SYNCHRONOUS, checked by the journal
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA cache_size = -65536")
    # Fewer, larger checkpoints: hot index pages are written back once per 40 MB of WAL, not per 4 MB.
    conn.execute("PRAGMA wal_autocheckpoint = 10000")
    conn.execute(f"PRAGMA query_only = {int(read_only)}")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise sqlite3.DatabaseError(f"schema version {version} is newer than this trailkeeper knows")
    for target in range(version + 1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN IMMEDIATE")
        for statement in MIGRATIONS[target - 1]:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")


def last_seq(conn: sqlite3.Connection) -> int:
    saved = conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
    highest = conn.execute("SELECT max(seq) FROM events").fetchone()
    return max(saved[0] if saved else 0, highest[0] or 0)


def rollback(conn: sqlite3.Connection) -> None:
    # SQLite may have rolled back already by itself (SQLITE_FULL, I/O errors); then there is nothing to do.
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
