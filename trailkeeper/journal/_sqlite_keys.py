"""The SQLite journal's row layout: a JournalEntry in, its events row out (and back); lookup keys in SQL.

Lookup keys live in one WITHOUT ROWID table clustered by (account, region, kind, value, time,
seq), so each LookupEvents shape is one newest-first range of it. They are written behind the
acknowledgement path (``_sqlite_writer``), many events per transaction: each event's keys land
in different parts of the tree, and writing them in the durable commit cost one 4 KB WAL page
per key. Until then an event is in the "tail" (seq above counters 'indexed'), which reads match
with ``_keys.matches``.

The keys are derived by SQL (``INSERT_KEYS``, ``KEYS_OF_OLDEST``) from the stored rows, not in
Python: SQLite runs a statement without the GIL, so keying a chunk no longer stalls the event
loop that acknowledges appends (deriving ~9 keys per event in Python cost ~45 µs of GIL time).
"""

from __future__ import annotations

from typing import Any

import orjson

from trailkeeper.journal.base import JournalEntry, StoredEvent

__all__ = [
    "DELETE_KEY",
    "INSERT_EVENT",
    "INSERT_KEYS",
    "KEYS_OF_OLDEST",
    "OLDEST",
    "decode_resources",
    "event_row",
    "stored",
]

INSERT_EVENT = (
    "INSERT INTO events (seq, record, account_id, region, event_time_ms, event_id, event_name,"
    " event_source, read_only, username, access_key_id, management, resources)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The lookup_keys rows of the management events that {where} picks (data events have none:
# history never shows them). The kinds are _keys.KIND; INSERT OR IGNORE drops an event's repeated
# resource type or name, so a range scan meets each event at most once.
_KEYS_OF = " UNION ALL ".join(
    [
        f"SELECT e.account_id, e.region, {kind}, {value}, e.event_time_ms, e.seq FROM events e"  # noqa: S608
        " WHERE e.management = 1 AND {where}"
        for kind, value in (
            (0, "''"),
            (1, "e.event_name"),
            (2, "e.event_source"),
            (3, "e.username"),
            (4, "e.access_key_id"),
            (5, "CASE e.read_only WHEN 1 THEN 'true' ELSE 'false' END"),
        )
    ]
    + [
        f"SELECT e.account_id, e.region, {kind}, j.value ->> {member}, e.event_time_ms, e.seq"  # noqa: S608
        " FROM events e, json_each(e.resources) j WHERE e.management = 1 AND {where}"
        for kind, member in ((6, 0), (7, 1))
    ]
)
# Keys every event after :after up to :upto, sorted in the table's key order so that the insert
# walks the tree once.
INSERT_KEYS = (
    "INSERT OR IGNORE INTO lookup_keys "
    + _KEYS_OF.format(where="e.seq > :after AND e.seq <= :upto")
    + " ORDER BY 1, 2, 3, 4, 5, 6"
)
# A prune chunk: the :limit oldest events before :before.
OLDEST = "SELECT seq FROM events WHERE event_time_ms < :before ORDER BY event_time_ms LIMIT :limit"
# The keys of the events the chunk is about to delete (a tail event has none), for DELETE_KEY:
# one primary-key delete each, where a row-value IN (subquery) delete scans the whole table.
KEYS_OF_OLDEST = _KEYS_OF.format(where=f"e.seq IN ({OLDEST})")
DELETE_KEY = (
    "DELETE FROM lookup_keys WHERE account_id = ? AND region = ? AND kind = ? AND value = ?"
    " AND event_time_ms = ? AND seq = ?"
)

_Row = tuple[Any, ...]


def event_row(seq: int, e: JournalEntry) -> _Row:
    resources = orjson.dumps(e.resources) if e.resources else None
    return (seq, e.record, e.account_id, e.region, e.event_time_ms, e.event_id, e.event_name,
            e.event_source, int(e.read_only), e.username, e.access_key_id, int(e.management),
            resources)  # fmt: skip


def decode_resources(blob: bytes | None) -> tuple[tuple[str, str], ...]:
    return tuple((t, n) for t, n in orjson.loads(blob)) if blob else ()


def stored(row: _Row) -> StoredEvent:
    """A row of _sqlite_schema.COLUMNS as the StoredEvent it was appended as."""
    seq, record, acct, region, time_ms, event_id, name, source, read_only, user, key, mgmt, res = row
    entry = JournalEntry(
        bytes(record), acct, region, time_ms, event_id, name, source, bool(read_only), user, key,
        decode_resources(res), bool(mgmt),
    )  # fmt: skip
    return StoredEvent(seq, entry)
