"""The SQLite journal's row layout: a JournalEntry in, its events row out (and back); the lookup keys' SQL.

Lookup keys live in one WITHOUT ROWID table clustered by (part, account, region, kind, value,
time, seq), where part is seq / PART_EVENTS: each LookupEvents shape is one newest-first range
per partition, and new keys only touch the newest partition (see migration 3 in
``_sqlite_schema``). They are written behind the acknowledgement path (``_sqlite_writer``),
many events per transaction; until then an event is in the "tail" (seq above counters
'indexed'), which reads filter directly.

The keys are derived by SQL from the stored rows, not in Python: SQLite runs a statement without
the GIL, so keying a chunk does not stall the event loop that acknowledges appends (deriving ~9
keys per event in Python cost ~45 µs of GIL time per event).
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
    "PART_EVENTS",
    "SAVE_PARTS",
    "decode_resources",
    "event_row",
    "stored",
]

# Events per lookup-key partition. Bigger partitions cost more pages per keying transaction
# (measured per event keyed in chunks of 2000: 35 µs at 20 000, 50 µs at 50 000, growing
# without bound unpartitioned); smaller ones more probes for a rare value (500 at 10 M events).
PART_EVENTS = 20_000

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
        f"SELECT e.seq / :part, e.account_id, e.region, {kind}, {value}, e.event_time_ms, e.seq"  # noqa: S608
        " FROM events e"
        " WHERE e.management = 1 AND {where}"
        for kind, value in (
            (0, "''"),
            (1, "e.event_name"),
            (2, "e.event_source"),
            (3, "e.username"),
            (4, "e.access_key_id"),
            (5, "CASE e.read_only WHEN 1 THEN 'true' ELSE 'false' END"),
            (8, "e.event_id"),
        )
    ]
    + [
        f"SELECT e.seq / :part, e.account_id, e.region, {kind}, j.value ->> {member}, e.event_time_ms, e.seq"  # noqa: S608
        " FROM events e, json_each(e.resources) j WHERE e.management = 1 AND {where}"
        for kind, member in ((6, 0), (7, 1))
    ]
)
# Keys every event after :after up to :upto into partitions of :part events, sorted in the
# table's key order so that the insert walks the tree once.
_CHUNK = "e.seq > :after AND e.seq <= :upto"
INSERT_KEYS = (
    f"INSERT OR IGNORE INTO lookup_keys {_KEYS_OF.format(where=_CHUNK)} ORDER BY 1, 2, 3, 4, 5, 6, 7"
)
# Widens the time spans of the partitions those keys went to (reads skip partitions by them).
SAVE_PARTS = (
    "INSERT INTO lookup_parts (part, min_time_ms, max_time_ms)"  # noqa: S608
    " SELECT e.seq / :part, min(e.event_time_ms), max(e.event_time_ms)"
    f" FROM events e WHERE e.management = 1 AND {_CHUNK} GROUP BY 1"
    " ON CONFLICT (part) DO UPDATE SET min_time_ms = min(min_time_ms, excluded.min_time_ms),"
    " max_time_ms = max(max_time_ms, excluded.max_time_ms)"
)
# A prune chunk: the :limit oldest events before :before.
OLDEST = "SELECT seq FROM events WHERE event_time_ms < :before ORDER BY event_time_ms LIMIT :limit"
# The keys of the events the chunk is about to delete (a tail event has none), for DELETE_KEY:
# one primary-key delete each, where a row-value IN (subquery) delete scans the whole table.
KEYS_OF_OLDEST = _KEYS_OF.format(where=f"e.seq IN ({OLDEST})")
DELETE_KEY = (
    "DELETE FROM lookup_keys WHERE part = ? AND account_id = ? AND region = ? AND kind = ? AND value = ?"
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
