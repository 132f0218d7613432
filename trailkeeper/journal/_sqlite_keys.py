"""The SQLite journal's row layout: a JournalEntry in, its events row and lookup_keys rows out (and back).

Lookup keys live in one WITHOUT ROWID table clustered by (account, region, kind, value, time,
seq), so each LookupEvents shape is one newest-first range of it. They are written behind the
acknowledgement path (``_sqlite_writer``), many events per transaction: each event's keys land
in different parts of the tree, and writing them in the durable commit cost one 4 KB WAL page
per key. Until then an event is in the "tail" (seq above counters 'indexed'), which reads match
with ``matches``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from trailkeeper.journal.base import JournalEntry, LookupAttribute, StoredEvent

__all__ = [
    "INSERT_EVENT",
    "INSERT_KEY",
    "KEY_SOURCE",
    "KIND",
    "decode_resources",
    "event_row",
    "key_rows",
    "matches",
    "stored",
]

# The kind column; EventId is served by the events table's own UNIQUE index instead.
KIND: dict[LookupAttribute | None, int] = {
    None: 0,
    "EventName": 1,
    "EventSource": 2,
    "Username": 3,
    "AccessKeyId": 4,
    "ReadOnly": 5,
    "ResourceType": 6,
    "ResourceName": 7,
}
# The columns of the key source query below, in order.
KEY_SOURCE = (
    "seq, account_id, region, event_time_ms, event_name, event_source, username, access_key_id,"
    " read_only, management, resources"
)
INSERT_EVENT = (
    "INSERT INTO events (seq, record, account_id, region, event_time_ms, event_id, event_name,"
    " event_source, read_only, username, access_key_id, management, resources)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_KEY = "INSERT OR IGNORE INTO lookup_keys VALUES (?, ?, ?, ?, ?, ?)"

_Row = tuple[Any, ...]


def event_row(seq: int, e: JournalEntry) -> _Row:
    resources = orjson.dumps(e.resources) if e.resources else None
    return (seq, e.record, e.account_id, e.region, e.event_time_ms, e.event_id, e.event_name,
            e.event_source, int(e.read_only), e.username, e.access_key_id, int(e.management),
            resources)  # fmt: skip


def key_rows(sources: Iterable[_Row]) -> list[_Row]:
    """The lookup_keys rows of events given as KEY_SOURCE rows; data events have none.

    Resource keys are distinct per event (an ARN and its short name share a type), so a
    range scan meets each event at most once and can stop at exactly limit + 1 rows.
    """
    rows: list[_Row] = []
    for seq, acct, region, time_ms, name, source, user, key, read_only, management, resources in sources:
        if not management:
            continue  # event history never shows data events: nothing to look them up by
        rows += [
            (acct, region, 0, "", time_ms, seq),
            (acct, region, 1, name, time_ms, seq),
            (acct, region, 2, source, time_ms, seq),
            (acct, region, 3, user, time_ms, seq),
            (acct, region, 4, key, time_ms, seq),
            (acct, region, 5, "true" if read_only else "false", time_ms, seq),
        ]
        if resources:
            pairs = decode_resources(resources)
            rows += [(acct, region, 6, t, time_ms, seq) for t in dict.fromkeys(t for t, _ in pairs)]
            rows += [(acct, region, 7, n, time_ms, seq) for n in dict.fromkeys(n for _, n in pairs)]
    return rows


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


def matches(e: JournalEntry, attribute: tuple[LookupAttribute, str] | None) -> bool:
    """Whether a tail event has the key ``attribute`` (account, region and time checked by SQL)."""
    if attribute is None:
        return True
    key, value = attribute
    if key == "ResourceType":
        return any(t == value for t, _ in e.resources)
    if key == "ResourceName":
        return any(n == value for _, n in e.resources)
    own = {
        "EventId": e.event_id,
        "EventName": e.event_name,
        "EventSource": e.event_source,
        "Username": e.username,
        "AccessKeyId": e.access_key_id,
        "ReadOnly": "true" if e.read_only else "false",
    }
    return own[key] == value
