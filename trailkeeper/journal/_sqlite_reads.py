"""The SQLite journal's reads: a read connection and a LookupQuery or seqs in, StoredEvents out.

A lookup reads two parts of one snapshot and merges them newest first: the keyed events (one
range of lookup_keys, stopping at limit + 1) and the tail the writer has not keyed yet (events
after counters 'indexed': at most a few thousand rows, read by seq and filtered here).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from trailkeeper.journal._keys import KIND, matches
from trailkeeper.journal._sqlite_keys import stored
from trailkeeper.journal._sqlite_schema import COLUMNS, indexed_seq
from trailkeeper.journal.base import LookupPage, LookupQuery, StoredEvent

__all__ = ["lookup", "read_after", "read_seqs", "snapshot"]

_IN_CHUNK = 500  # seqs per IN (...) list

_T = TypeVar("_T")
_Row = tuple[Any, ...]

# The keyset condition (time, seq) < (?, ?) is a range of the same key the ORDER BY walks.
_KEYED = (
    f"SELECT {COLUMNS} FROM lookup_keys k JOIN events e ON e.seq = k.seq"  # noqa: S608 constant
    " WHERE k.account_id = ? AND k.region = ? AND k.kind = ? AND k.value = ?"
    " AND k.event_time_ms >= ? AND (k.event_time_ms, k.seq) < (?, ?)"
    " ORDER BY k.event_time_ms DESC, k.seq DESC LIMIT ?"
)
# NOT INDEXED: the tail is a short rowid range; the planner would otherwise pick the time
# index and walk the whole window (measured: 20 ms at 200 000 events).
_TAIL = (
    f"SELECT {COLUMNS} FROM events e NOT INDEXED WHERE e.seq > ? AND e.account_id = ? AND e.region = ?"  # noqa: S608
    " AND e.management = 1 AND e.event_time_ms >= ? AND (e.event_time_ms, e.seq) < (?, ?)"
)
# EventId: the events table's own UNIQUE index finds the one row, keyed or not.
_BY_ID = (
    f"SELECT {COLUMNS} FROM events e WHERE e.event_id = ? AND e.account_id = ? AND e.region = ?"  # noqa: S608
    " AND e.management = 1 AND e.event_time_ms >= ? AND (e.event_time_ms, e.seq) < (?, ?)"
)


def snapshot(conn: sqlite3.Connection, read: Callable[[], _T]) -> _T:
    conn.execute("BEGIN")  # one read transaction: keys, counters and events from the same commit
    try:
        return read()
    finally:
        conn.execute("COMMIT")


def lookup(conn: sqlite3.Connection, query: LookupQuery) -> LookupPage:
    key, value = query.attribute or (None, None)
    if key == "ReadOnly" and value not in ("true", "false"):
        return LookupPage([], False)  # exact match: no event has any other ReadOnly value
    upper = (query.end_ms + 1, 0)  # (time, seq) strictly below this means time <= end_ms
    if query.after is not None and query.after < upper:
        upper = query.after
    scope = [query.account_id, query.region]
    window = [query.start_ms, *upper]
    if key == "EventId":
        rows = conn.execute(_BY_ID, [value, *scope, *window]).fetchall()
        return _page([stored(row) for row in rows], query.limit)
    indexed = indexed_seq(conn)
    with contextlib.closing(
        conn.execute(_KEYED, [*scope, KIND[key], value or "", *window, query.limit + 1])
    ) as cur:
        events = [stored(row) for row in cur]
    tail = conn.execute(_TAIL, [indexed, *scope, *window])
    events += [event for event in map(stored, tail) if matches(event.entry, query.attribute)]
    events.sort(key=lambda s: (s.entry.event_time_ms, s.seq), reverse=True)
    return _page(events, query.limit)


def read_after(conn: sqlite3.Connection, seq: int, limit: int) -> list[StoredEvent]:
    return _read_events(conn, "e.seq > ? ORDER BY e.seq LIMIT ?", [seq, limit])


def read_seqs(conn: sqlite3.Connection, seqs: list[int]) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    for i in range(0, len(seqs), _IN_CHUNK):  # bounded: SQLite limits the number of parameters
        chunk = seqs[i : i + _IN_CHUNK]
        found += _read_events(conn, f"e.seq IN ({','.join('?' * len(chunk))}) ORDER BY e.seq", chunk)
    return found


def _page(events: list[StoredEvent], limit: int) -> LookupPage:
    return LookupPage(events[:limit], len(events) > limit)


def _read_events(conn: sqlite3.Connection, condition: str, args: Sequence[object]) -> list[StoredEvent]:
    rows = conn.execute(f"SELECT {COLUMNS} FROM events e WHERE {condition}", args).fetchall()  # noqa: S608
    return [stored(row) for row in rows]
