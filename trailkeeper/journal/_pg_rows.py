"""PostgreSQL journal rows: JournalEntry values in, COPY rows out; selected rows in, StoredEvents out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from trailkeeper.journal._pg_schema import EVENT_COLUMNS, EVENT_TYPES, RESOURCE_COLUMNS, RESOURCE_TYPES
from trailkeeper.journal.base import JournalEntry, StoredEvent

__all__ = ["SELECT_COLUMNS", "insert_events", "resource_keys", "stored_event"]

RESOURCE_TYPE, RESOURCE_NAME = 1, 2

SELECT_COLUMNS = (
    "e.seq, e.record, e.account_id, e.region, e.event_time_ms, e.event_id, e.event_name,"
    " e.event_source, e.read_only, e.username, e.access_key_id, e.resources, e.management"
)
_COPY_EVENTS = f"COPY events ({EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)".encode()
_COPY_RESOURCES = f"COPY event_resources ({RESOURCE_COLUMNS}) FROM STDIN (FORMAT BINARY)".encode()

_Cursor = psycopg.Cursor[tuple[Any, ...]]


def resource_keys(resources: Iterable[tuple[str, str]]) -> list[tuple[int, str]]:
    """The distinct (kind, value) lookup keys of an event's resources, in their first order.

    Distinct, so a resource lookup meets each event at most once (an ARN and its short name
    share a type) and the index range scan can stop at exactly limit + 1 rows.
    """
    keys: dict[tuple[int, str], None] = {}
    for rtype, name in resources:
        keys[(RESOURCE_TYPE, rtype)] = None
        keys[(RESOURCE_NAME, name)] = None
    return list(keys)


def insert_events(cur: _Cursor, rows: Sequence[tuple[int, JournalEntry]]) -> None:
    """COPY (seq, entry) pairs into events and their lookup keys into event_resources."""
    if not rows:
        return
    with cur.copy(_COPY_EVENTS) as copy:
        copy.set_types(list(EVENT_TYPES))
        for seq, e in rows:
            copy.write_row(
                (seq, e.event_time_ms, e.read_only, e.management, e.event_id, e.account_id, e.region,
                 e.event_name, e.event_source, e.username, e.access_key_id,
                 [part for pair in e.resources for part in pair], e.record)
            )  # fmt: skip
    keys = [
        (seq, e.event_time_ms, kind, e.account_id, e.region, value)
        for seq, e in rows
        if e.management  # event history never shows data events: nothing to look them up by
        for kind, value in resource_keys(e.resources)
    ]
    if keys:
        with cur.copy(_COPY_RESOURCES) as copy:
            copy.set_types(list(RESOURCE_TYPES))
            for key in keys:
                copy.write_row(key)


def stored_event(row: Sequence[Any]) -> StoredEvent:
    """A row of SELECT_COLUMNS as the StoredEvent it was appended as."""
    seq, record, acct, region, time_ms, event_id, name, source, read_only, user, key, flat, mgmt = row
    pairs = tuple(zip(flat[0::2], flat[1::2], strict=True))
    entry = JournalEntry(
        bytes(record), acct, region, time_ms, event_id, name, source, read_only, user, key, pairs, mgmt
    )
    return StoredEvent(seq, entry)
