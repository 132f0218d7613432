"""The SQLite journal's reads: a read connection and a LookupQuery or seqs in, StoredEvents out.

A lookup reads one snapshot and merges newest first: the keyed events, one range of lookup_keys
per partition (stopping at limit + 1), and the tail the writer has not keyed yet (events after
counters 'indexed': at most a few thousand rows, read by seq with the attribute checked in
SQL). Partitions are visited by their newest event time, and the walk stops once limit + 1
events are found that are newer than anything in the partitions left (lookup_parts).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from trailkeeper.journal._keys import KIND
from trailkeeper.journal._sqlite_ids import IdFilters
from trailkeeper.journal._sqlite_keys import stored
from trailkeeper.journal._sqlite_schema import COLUMNS, indexed_seq
from trailkeeper.journal.base import LookupPage, LookupQuery, StoredEvent

__all__ = ["lookup", "read_after", "read_seqs", "snapshot"]

_IN_CHUNK = 500  # seqs per IN (...) list

_T = TypeVar("_T")
_Row = tuple[Any, ...]

# The partitions whose time span meets the window [start, end], newest first.
_PARTS = (
    "SELECT part, max_time_ms, ids_upto FROM lookup_parts WHERE max_time_ms >= ? AND min_time_ms <= ?"
    " ORDER BY max_time_ms DESC, part"
)
_OLDEST_PART = "SELECT coalesce(min(part), 0) FROM lookup_parts"
# The keyset condition (time, seq) < (?, ?) is a range of the same key the ORDER BY walks.
# Keys only (the primary key covers them): the page's events are read once the walk is done.
_KEYED = (
    "SELECT event_time_ms, seq FROM lookup_keys"
    " WHERE part = ? AND account_id = ? AND region = ? AND kind = ? AND value = ?"
    " AND event_time_ms >= ? AND (event_time_ms, seq) < (?, ?)"
    " ORDER BY event_time_ms DESC, seq DESC LIMIT ?"
)
# NOT INDEXED: the tail is a short rowid range; the planner would otherwise pick the time
# index and walk the whole window (measured: 20 ms at 200 000 events). {attribute} is one of
# _TAIL_ATTRIBUTE: the same match the tail's keys will have.
_TAIL = (
    f"SELECT {COLUMNS} FROM events e NOT INDEXED WHERE e.seq > ? AND e.account_id = ? AND e.region = ?"  # noqa: S608
    " AND e.management = 1 AND e.event_time_ms >= ? AND (e.event_time_ms, e.seq) < (?, ?){attribute}"
)
_RESOURCE = " AND EXISTS (SELECT 1 FROM json_each(e.resources) j WHERE j.value ->> {member} = ?)"
_TAIL_ATTRIBUTE = {
    None: _TAIL.format(attribute=""),
    "EventId": _TAIL.format(attribute=" AND e.event_id = ?"),
    "EventName": _TAIL.format(attribute=" AND e.event_name = ?"),
    "EventSource": _TAIL.format(attribute=" AND e.event_source = ?"),
    "Username": _TAIL.format(attribute=" AND e.username = ?"),
    "AccessKeyId": _TAIL.format(attribute=" AND e.access_key_id = ?"),
    "ReadOnly": _TAIL.format(attribute=" AND CASE e.read_only WHEN 1 THEN 'true' ELSE 'false' END = ?"),
    "ResourceType": _TAIL.format(attribute=_RESOURCE.format(member=0)),
    "ResourceName": _TAIL.format(attribute=_RESOURCE.format(member=1)),
}


def snapshot(conn: sqlite3.Connection, read: Callable[[], _T]) -> _T:
    conn.execute("BEGIN")  # one read transaction: keys, counters and events from the same commit
    try:
        return read()
    finally:
        conn.execute("COMMIT")


def lookup(conn: sqlite3.Connection, query: LookupQuery, filters: IdFilters) -> LookupPage:
    key, value = query.attribute or (None, None)
    if key == "ReadOnly" and value not in ("true", "false"):
        return LookupPage([], False)  # exact match: no event has any other ReadOnly value
    upper = (query.end_ms + 1, 0)  # (time, seq) strictly below this means time <= end_ms
    if query.after is not None and query.after < upper:
        upper = query.after
    scope = [query.account_id, query.region]
    window = [query.start_ms, *upper]
    indexed = indexed_seq(conn)
    parts = conn.execute(_PARTS, (query.start_ms, window[1])).fetchall()
    if key == "EventId" and value is not None:  # one event: only the partitions whose filter may hold it
        oldest = conn.execute(_OLDEST_PART).fetchone()[0]
        maybe = set(filters.candidates(conn, parts, oldest, value))
        parts = [row for row in parts if row[0] in maybe]
    keyed = _keyed(conn, query, KIND[key], value or "", window, parts)
    events = read_seqs(conn, [seq for _, seq in keyed])
    tail_args = [indexed, *scope, *window] + ([] if value is None else [value])
    events += map(stored, conn.execute(_TAIL_ATTRIBUTE[key], tail_args))
    events.sort(key=_newest_first, reverse=True)
    return _page(events, query.limit)


def _keyed(
    conn: sqlite3.Connection,
    query: LookupQuery,
    kind: int,
    value: str,
    window: list[int],
    parts: list[tuple[int, int, int | None]],
) -> list[tuple[int, int]]:
    """(time, seq) of the newest limit + 1 keyed events in the window, walking ``parts`` (newest first)."""
    wanted = query.limit + 1
    found: list[tuple[int, int]] = []
    for part, max_time_ms, _ in parts:
        if len(found) == wanted and found[-1][0] > max_time_ms:
            break  # every partition left is older than all of the page (and its "more" event)
        found += conn.execute(_KEYED, [part, query.account_id, query.region, kind, value, *window, wanted])
        found.sort(reverse=True)
        del found[wanted:]
    return found


def _newest_first(event: StoredEvent) -> tuple[int, int]:
    return (event.entry.event_time_ms, event.seq)


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
