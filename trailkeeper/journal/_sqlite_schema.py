"""The SQLite journal's schema: a file path in, a connection with the journal's tables and settings out."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

__all__ = [
    "COLUMNS",
    "MIGRATIONS",
    "SYNCHRONOUS",
    "connect",
    "indexed_seq",
    "last_seq",
    "migrate",
    "rollback",
]

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
    # 2: lookup keys leave the acknowledgement path. Six indexes on events plus three B-trees per
    # resource pair made every durable commit write ~9.5 random 4 KB pages per event (measured:
    # 605 WAL frames per 64-event commit). Now a commit writes the event row (sequential pages)
    # and its event_id; the writer adds the lookup keys later, many events per transaction, to
    # one clustered table, and reads merge the few not yet keyed (counters 'indexed', see
    # _sqlite_keys). Resources move into the event row, so an event is read back from one row.
    (
        "ALTER TABLE events ADD COLUMN resources BLOB",  # JSON [[type, name], ...]; NULL: none
        # The subquery's ORDER BY orders the aggregate (SQLite < 3.44 has no ORDER BY inside it).
        """UPDATE events SET resources = (
            SELECT CAST(json_group_array(json_array(type, name)) AS BLOB) FROM (
                SELECT type, name FROM event_resources r WHERE r.seq = events.seq ORDER BY ordinal))
            WHERE seq IN (SELECT seq FROM event_resources)""",
        """CREATE TABLE lookup_keys (account_id TEXT NOT NULL, region TEXT NOT NULL,
            kind INTEGER NOT NULL, value TEXT NOT NULL, event_time_ms INTEGER NOT NULL,
            seq INTEGER NOT NULL, PRIMARY KEY (account_id, region, kind, value, event_time_ms, seq))
            STRICT, WITHOUT ROWID""",
        "DROP TABLE event_resources",
        "DROP INDEX events_by_time",
        "DROP INDEX events_by_name",
        "DROP INDEX events_by_source",
        "DROP INDEX events_by_user",
        "DROP INDEX events_by_key",
        "DROP INDEX events_by_read_only",
        # Every stored event's keys, sorted per kind (as released with this migration).
        "INSERT OR IGNORE INTO lookup_keys SELECT account_id, region, 0, '', event_time_ms, seq"
        " FROM events WHERE management = 1 ORDER BY 1, 2, 5, 6",
        "INSERT OR IGNORE INTO lookup_keys SELECT account_id, region, 1, event_name, event_time_ms, seq"
        " FROM events WHERE management = 1 ORDER BY 1, 2, 4, 5, 6",
        "INSERT OR IGNORE INTO lookup_keys SELECT account_id, region, 2, event_source, event_time_ms, seq"
        " FROM events WHERE management = 1 ORDER BY 1, 2, 4, 5, 6",
        "INSERT OR IGNORE INTO lookup_keys SELECT account_id, region, 3, username, event_time_ms, seq"
        " FROM events WHERE management = 1 ORDER BY 1, 2, 4, 5, 6",
        "INSERT OR IGNORE INTO lookup_keys SELECT account_id, region, 4, access_key_id, event_time_ms, seq"
        " FROM events WHERE management = 1 ORDER BY 1, 2, 4, 5, 6",
        "INSERT OR IGNORE INTO lookup_keys SELECT account_id, region, 5,"
        " CASE read_only WHEN 1 THEN 'true' ELSE 'false' END, event_time_ms, seq"
        " FROM events WHERE management = 1 ORDER BY 1, 2, 4, 5, 6",
        "INSERT OR IGNORE INTO lookup_keys SELECT e.account_id, e.region, 6, j.value ->> 0, e.event_time_ms,"
        " e.seq FROM events e, json_each(e.resources) j WHERE e.management = 1 ORDER BY 1, 2, 4, 5, 6",
        "INSERT OR IGNORE INTO lookup_keys SELECT e.account_id, e.region, 7, j.value ->> 1, e.event_time_ms,"
        " e.seq FROM events e, json_each(e.resources) j WHERE e.management = 1 ORDER BY 1, 2, 4, 5, 6",
        "INSERT OR REPLACE INTO counters SELECT 'indexed', coalesce(max(seq), 0) FROM events",
    ),
    # 3: nothing random on the write path, so that ingest holds up as the journal grows.
    # - The lookup keys are partitioned by seq. One tree clustered by (account, region, kind,
    #   value) took each event's keys at as many places as it has distinct values: measured,
    #   keying went from 35 to 152 µs per event over the first 200 000 events, and a c=64 load
    #   on a 300 000-event journal dropped from 10 700 to 4 600 events/s. With the partition
    #   (seq / 20 000) leading, new keys only touch the newest partition's few thousand pages.
    #   lookup_parts holds each partition's time span, so a lookup walks partitions newest first
    #   and stops once no partition left can hold a newer event (_sqlite_reads).
    # - events loses its UNIQUE index on event_id: random UUIDs put every append on a random page
    #   of it, and the durable commit alone fell from 47 800 to 17 700 appends/s at 1 M events
    #   (112 000/s without it). EventId becomes a lookup key (kind 8), and each partition gets a
    #   Bloom filter of its ids so that an EventId lookup probes one partition, not all of them
    #   (_sqlite_ids); the writer refuses an event id among its latest appends (_recent_ids).
    (
        # ids: a Bloom filter of the partition's event ids (_sqlite_ids), ids_upto: the seq it
        # was last written at (readers cache filters by it); NULL until the writer builds it.
        """CREATE TABLE lookup_parts (part INTEGER PRIMARY KEY, min_time_ms INTEGER NOT NULL,
            max_time_ms INTEGER NOT NULL, ids BLOB, ids_upto INTEGER) STRICT""",
        """CREATE TABLE lookup_keys_3 (part INTEGER NOT NULL, account_id TEXT NOT NULL,
            region TEXT NOT NULL, kind INTEGER NOT NULL, value TEXT NOT NULL,
            event_time_ms INTEGER NOT NULL, seq INTEGER NOT NULL,
            PRIMARY KEY (part, account_id, region, kind, value, event_time_ms, seq)) STRICT, WITHOUT ROWID""",
        # 20000: _sqlite_keys.PART_EVENTS as released with this migration.
        """INSERT INTO lookup_keys_3 SELECT * FROM (
            SELECT seq / 20000, * FROM lookup_keys
            UNION ALL SELECT seq / 20000, account_id, region, 8, event_id, event_time_ms, seq FROM events
                WHERE management = 1 AND seq <= (SELECT value FROM counters WHERE name = 'indexed'))
            ORDER BY 1, 2, 3, 4, 5, 6, 7""",
        """INSERT INTO lookup_parts (part, min_time_ms, max_time_ms)
            SELECT seq / 20000, min(event_time_ms), max(event_time_ms) FROM events
            WHERE management = 1 AND seq <= (SELECT value FROM counters WHERE name = 'indexed') GROUP BY 1""",
        "DROP TABLE lookup_keys",
        "ALTER TABLE lookup_keys_3 RENAME TO lookup_keys",
        # SQLite cannot drop a UNIQUE constraint: the table is rebuilt (same columns, in order).
        """CREATE TABLE events_3 (seq INTEGER PRIMARY KEY, account_id TEXT NOT NULL, region TEXT NOT NULL,
            event_time_ms INTEGER NOT NULL, event_id TEXT NOT NULL, event_name TEXT NOT NULL,
            event_source TEXT NOT NULL, read_only INTEGER NOT NULL, username TEXT NOT NULL,
            access_key_id TEXT NOT NULL, management INTEGER NOT NULL, record BLOB NOT NULL,
            resources BLOB) STRICT""",
        "INSERT INTO events_3 SELECT * FROM events ORDER BY seq",
        "DROP TABLE events",
        "ALTER TABLE events_3 RENAME TO events",
        "CREATE INDEX events_by_age ON events (event_time_ms)",
    ),
)

COLUMNS = (
    "e.seq, e.record, e.account_id, e.region, e.event_time_ms, e.event_id, e.event_name,"
    " e.event_source, e.read_only, e.username, e.access_key_id, e.management, e.resources"
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
    # SQLite's default size (4 MB): the WAL file is reused rather than grown, and growing it made
    # every commit's fsync flush file metadata too (0.45 ms instead of 0.25 ms per commit). The
    # checkpointer thread (_sqlite_checkpoint) copies most pages beforehand, so the writer's own
    # checkpoint is short.
    conn.execute("PRAGMA wal_autocheckpoint = 1000")
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


def indexed_seq(conn: sqlite3.Connection) -> int:
    """Every event up to this seq has its lookup keys (or was pruned); later ones are the tail."""
    row = conn.execute("SELECT value FROM counters WHERE name = 'indexed'").fetchone()
    return int(row[0]) if row else 0


def rollback(conn: sqlite3.Connection) -> None:
    # SQLite may have rolled back already by itself (SQLITE_FULL, I/O errors); then there is nothing to do.
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
