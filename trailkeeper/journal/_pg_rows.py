"""PostgreSQL journal rows: JournalEntry values in, COPY rows out; selected rows in, StoredEvents out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from trailkeeper.journal._pg_schema import EVENT_COLUMNS, EVENT_TYPES
from trailkeeper.journal.base import JournalEntry, StoredEvent

__all__ = ["SELECT_COLUMNS", "insert_events", "stored_event"]

SELECT_COLUMNS = (
    "e.seq, e.record, e.account_id, e.region, e.event_time_ms, e.event_id, e.event_name,"
    " e.event_source, e.read_only, e.username, e.access_key_id, e.resources, e.management"
)
_COPY_EVENTS = f"COPY events ({EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)".encode()

_Cursor = psycopg.Cursor[tuple[Any, ...]]


def insert_events(cur: _Cursor, rows: Sequence[tuple[int, JournalEntry]]) -> None:
    """COPY (seq, entry) pairs into events; their lookup keys come later (_pg_indexer)."""
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


def stored_event(row: Sequence[Any]) -> StoredEvent:
    """A row of SELECT_COLUMNS as the StoredEvent it was appended as."""
    seq, record, acct, region, time_ms, event_id, name, source, read_only, user, key, flat, mgmt = row
    pairs = tuple(zip(flat[0::2], flat[1::2], strict=True))
    entry = JournalEntry(
        bytes(record), acct, region, time_ms, event_id, name, source, read_only, user, key, pairs, mgmt
    )
    return StoredEvent(seq, entry)
