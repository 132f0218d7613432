"""The PostgreSQL journal's schema: a connection in, the journal's tables (migrated under a lock) out.

Tables go into the connection's ``current_schema()`` (the first schema of ``search_path``), so
several journals can share one database, each in its own schema. ``schema_migrations`` lists
the migrations applied; they run in one transaction under an advisory lock, so two nodes
starting at once apply each migration exactly once.
"""

from __future__ import annotations

from typing import Any

import psycopg

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_TYPES",
    "INDEXED",
    "KEYS_OF",
    "KEY_COLUMNS",
    "MIGRATIONS",
    "migrate",
]

# pg_advisory_xact_lock(_LOCK_SPACE, hashtext(current_schema())): one migration lock per schema.
_LOCK_SPACE = 0x746B6D67  # "tkmg"

# Text columns compare bytewise (COLLATE "C"): lookups are exact matches, as in CloudTrail, and
# "C" comparisons are the cheapest for every index below.
_T = 'text COLLATE "C" NOT NULL'

# Migration i (1-based) is recorded as version i. Append new ones; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # Fixed-width columns first (no alignment padding); resources are the entry's (type, name)
        # pairs flattened, so an event is read back from its one row.
        f"""CREATE TABLE events (seq bigint PRIMARY KEY, event_time_ms bigint NOT NULL,
            read_only boolean NOT NULL, management boolean NOT NULL, event_id {_T}, account_id {_T},
            region {_T}, event_name {_T}, event_source {_T}, username {_T}, access_key_id {_T},
            resources text[] NOT NULL, record bytea NOT NULL)""",
        "CREATE UNIQUE INDEX events_by_event_id ON events (event_id)",
        # Retention deletes the oldest first. In whole seconds, an expression no lookup can use:
        # a plain time index tempts the planner into a global newest-first scan that filters
        # its way to a small account's events (seconds, where the composite index takes a ms).
        "CREATE INDEX events_by_age ON events ((event_time_ms / 1000))",
        # Each LookupEvents shape is (account, region[, attribute]) equality plus a newest-first
        # keyset range on (time, seq). Event history shows management events only, so the indexes
        # are partial: data events cost no lookup index entries at all.
        "CREATE INDEX events_by_time ON events (account_id, region, event_time_ms, seq) WHERE management",
        """CREATE INDEX events_by_name ON events (account_id, region, event_name, event_time_ms, seq)
            WHERE management""",
        """CREATE INDEX events_by_source ON events (account_id, region, event_source, event_time_ms, seq)
            WHERE management""",
        """CREATE INDEX events_by_user ON events (account_id, region, username, event_time_ms, seq)
            WHERE management""",
        """CREATE INDEX events_by_key ON events (account_id, region, access_key_id, event_time_ms, seq)
            WHERE management""",
        """CREATE INDEX events_by_read_only ON events (account_id, region, read_only, event_time_ms, seq)
            WHERE management""",
        # One row per distinct (kind, value) of a management event: kind 1 = ResourceType,
        # 2 = ResourceName. Rows are deleted by their full key when retention removes the event.
        f"""CREATE TABLE event_resources (seq bigint NOT NULL, event_time_ms bigint NOT NULL,
            kind smallint NOT NULL, account_id {_T}, region {_T}, value {_T})""",
        """CREATE INDEX event_resources_lookup
            ON event_resources (account_id, region, kind, value, event_time_ms, seq)""",
        # node: the writer that made the reservation; it holds an advisory lock while alive, so
        # a starting node recovers only reservations whose writer is gone.
        f"""CREATE TABLE reservations (event_id {_T} PRIMARY KEY, node integer NOT NULL,
            ordinal bigint GENERATED ALWAYS AS IDENTITY, entry bytea NOT NULL, record bytea NOT NULL)""",
        f"CREATE TABLE secrets (name {_T} PRIMARY KEY, value bytea NOT NULL)",
        "CREATE TABLE heartbeat (node integer PRIMARY KEY, at timestamptz NOT NULL)",
        # The highest seq ever handed out: never reused after pruning, and its row lock is what
        # serialises seq allocation with commit across nodes (see _pg_writer).
        f"CREATE TABLE counters (name {_T} PRIMARY KEY, value bigint NOT NULL)",
        "INSERT INTO counters VALUES ('seq', 0)",
    ),
    # 2: lookup keys leave the acknowledgement path. Six partial indexes on events plus the
    # event_resources table put ~9 index tuples per event inside every durable commit, all in
    # one server process (measured: COPY of events alone ran 2.3x faster). Keys now go to one
    # table that the indexer (_pg_indexer) fills in its own transactions on its own connection,
    # so the server works on appends and keys at once; reads merge the events not keyed yet
    # (after counters 'indexed'). A key row is (bucket, time, seq): the bucket hashes (account,
    # region, kind, value) to 64 bits with hashtextextended, the hash PostgreSQL keeps stable
    # for hash partitioning. Three bigints made keying ~1.9x faster than the text columns, and
    # reads re-check every event's own columns, so two keys sharing a bucket cost a wasted row,
    # never a wrong answer. Keys are derived in SQL (KEYS_OF): indexing costs Python nothing.
    (
        # A body in quotes, not RETURN (PostgreSQL 14+): hashtextextended itself needs only 11.
        """CREATE FUNCTION lookup_bucket(account_id text, region text, kind integer, value text)
            RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS 'SELECT hashtextextended((account_id || chr(31) || region || chr(31) || kind || chr(31)
                || value) COLLATE "C", 0)'""",
        """CREATE TABLE lookup_keys (bucket bigint NOT NULL, event_time_ms bigint NOT NULL,
            seq bigint NOT NULL)""",
        # Frozen copy of KEYS_OF (over all events, run without parameters) as released with this migration.
        """INSERT INTO lookup_keys SELECT lookup_bucket(s.account_id, s.region, k.kind, k.value),
                s.event_time_ms, s.seq
            FROM events s, LATERAL (VALUES (0, ''), (1, s.event_name), (2, s.event_source),
                (3, s.username), (4, s.access_key_id),
                (5, CASE WHEN s.read_only THEN 'true' ELSE 'false' END)) AS k (kind, value)
            WHERE s.management
            UNION ALL SELECT DISTINCT lookup_bucket(s.account_id, s.region, (7 - r.i % 2)::integer, r.value),
                s.event_time_ms, s.seq
            FROM events s, unnest(s.resources) WITH ORDINALITY AS r (value, i) WHERE s.management""",
        "INSERT INTO counters SELECT 'indexed', coalesce(max(seq), 0) FROM events"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        "CREATE INDEX lookup_keys_range ON lookup_keys (bucket, event_time_ms, seq)",
        "DROP TABLE event_resources",
        "DROP INDEX events_by_time",
        "DROP INDEX events_by_name",
        "DROP INDEX events_by_source",
        "DROP INDEX events_by_user",
        "DROP INDEX events_by_key",
        "DROP INDEX events_by_read_only",
    ),
)

# The lookup keys (KEY_COLUMNS) of the management events in ``{source}`` (events, or a CTE of
# deleted ones) that pass ``{where}``: kinds as in _keys.KIND; resources are the flattened
# (type, name) pairs, types at odd positions and names at even ones, each distinct per event.
# A psycopg template: the modulo is written %%.
KEYS_OF = """SELECT lookup_bucket(s.account_id, s.region, k.kind, k.value), s.event_time_ms, s.seq
    FROM {source} s, LATERAL (VALUES (0, ''), (1, s.event_name), (2, s.event_source), (3, s.username),
        (4, s.access_key_id), (5, CASE WHEN s.read_only THEN 'true' ELSE 'false' END)) AS k (kind, value)
    WHERE s.management{where}
    UNION ALL SELECT DISTINCT lookup_bucket(s.account_id, s.region, (7 - r.i %% 2)::integer, r.value),
        s.event_time_ms, s.seq
    FROM {source} s, unnest(s.resources) WITH ORDINALITY AS r (value, i) WHERE s.management{where}"""

EVENT_COLUMNS = (
    "seq, event_time_ms, read_only, management, event_id, account_id, region, event_name,"
    " event_source, username, access_key_id, resources, record"
)
EVENT_TYPES = (
    "int8", "int8", "bool", "bool", "text", "text", "text", "text", "text", "text", "text", "text[]", "bytea"
)  # fmt: skip
KEY_COLUMNS = "bucket, event_time_ms, seq"
# Every event up to this seq has its lookup keys; the indexer's row lock on it is taken with
# FOR UPDATE (by a prune) or FOR UPDATE SKIP LOCKED (by an indexer).
INDEXED = "SELECT value FROM counters WHERE name = 'indexed'"


def migrate(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Bring the schema up to date in one transaction. Raises psycopg.Error or RuntimeError."""
    with conn.transaction():
        schema = conn.execute("SELECT current_schema()").fetchone()
        if schema is None or schema[0] is None:
            raise RuntimeError("no schema to create the journal in: search_path names no existing schema")
        # The session's 60 s statement timeout guards appends, not this: migration 2 keys every
        # stored event (minutes at 10 M), and other nodes wait on the lock below meanwhile.
        conn.execute("SET LOCAL statement_timeout = 0")
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", (_LOCK_SPACE,))
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise RuntimeError(f"schema version {version} is newer than this trailkeeper knows")
        for target in range(version + 1, len(MIGRATIONS) + 1):
            for statement in MIGRATIONS[target - 1]:
                conn.execute(statement.encode())  # bytes: a constant statement, not a psycopg template
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (target,))
