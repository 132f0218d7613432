"""The SQLite journal's row layout: a JournalEntry in, its events row and lookup_keys rows out (and back).

Lookup keys live in one WITHOUT ROWID table clustered by (account, region, kind, value, time,
seq), so each LookupEvents shape is one newest-first range of it. They are written behind the
acknowledgement path (``_sqlite_writer``), many events per transaction: each event's keys land
in different parts of the tree, and writing them in the durable commit cost one 4 KB WAL page
per key. Until then an event is in the "tail" (seq above counters 'indexed'), which reads match
with ``_keys.matches``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from trailkeeper.journal._keys import event_keys
from trailkeeper.journal.base import JournalEntry, StoredEvent

__all__ = [
    "INSERT_EVENT",
    "INSERT_KEY",
    "KEY_SOURCE",
    "decode_resources",
    "event_row",
    "key_rows",
    "stored",
]

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
    """The lookup_keys rows of events given as KEY_SOURCE rows; data events have none."""
    rows: list[_Row] = []
    for seq, acct, region, time_ms, name, source, user, key, read_only, management, resources in sources:
        if management:  # event history never shows data events: nothing to look them up by
            keys = event_keys(name, source, user, key, read_only, decode_resources(resources))
            rows += [(acct, region, kind, value, time_ms, seq) for kind, value in keys]
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
