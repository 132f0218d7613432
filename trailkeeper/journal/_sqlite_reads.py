"""The SQLite journal's reads: a read connection and a LookupQuery or seqs in, StoredEvents out."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from trailkeeper.journal._sqlite_schema import COLUMNS
from trailkeeper.journal.base import JournalEntry, LookupAttribute, LookupPage, LookupQuery, StoredEvent

__all__ = ["lookup", "read_after", "read_seqs", "snapshot"]

_IN_CHUNK = 500  # seqs per IN (...) list
_BY_EVENT: dict[LookupAttribute, str] = {
    "EventId": "event_id",
    "EventName": "event_name",
    "EventSource": "event_source",
    "Username": "username",
    "AccessKeyId": "access_key_id",
    "ReadOnly": "read_only",
}
_BY_RESOURCE: dict[LookupAttribute, str] = {"ResourceType": "type", "ResourceName": "name"}

_T = TypeVar("_T")
_Row = tuple[Any, ...]


def snapshot(conn: sqlite3.Connection, read: Callable[[], _T]) -> _T:
    conn.execute("BEGIN")  # one read transaction: events and their resources from the same commit
    try:
        return read()
    finally:
        conn.execute("COMMIT")


def lookup(conn: sqlite3.Connection, query: LookupQuery) -> LookupPage:
    plan = _lookup_sql(query)
    if plan is None:
        return LookupPage([], False)
    rows: list[_Row] = []
    more = False
    with contextlib.closing(conn.execute(*plan)) as cursor:
        for row in cursor:  # streamed: the index range scan stops at limit + 1 events
            if rows and rows[-1][0] == row[0]:
                continue  # a resource lookup meets an event once per matching resource, adjacently
            if len(rows) == query.limit:
                more = True
                break
            rows.append(row)
    return LookupPage(_with_resources(conn, rows), more)


def read_after(conn: sqlite3.Connection, seq: int, limit: int) -> list[StoredEvent]:
    return _read_events(conn, "e.seq > ? ORDER BY e.seq LIMIT ?", [seq, limit])


def read_seqs(conn: sqlite3.Connection, seqs: list[int]) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    for i in range(0, len(seqs), _IN_CHUNK):  # bounded: SQLite limits the number of parameters
        chunk = seqs[i : i + _IN_CHUNK]
        found += _read_events(conn, f"e.seq IN ({','.join('?' * len(chunk))}) ORDER BY e.seq", chunk)
    return found


def _read_events(conn: sqlite3.Connection, condition: str, args: Sequence[object]) -> list[StoredEvent]:
    rows = conn.execute(f"SELECT {COLUMNS} FROM events e WHERE {condition}", args).fetchall()  # noqa: S608
    return _with_resources(conn, rows)


def _with_resources(conn: sqlite3.Connection, rows: list[_Row]) -> list[StoredEvent]:
    resources: dict[int, tuple[tuple[str, str], ...]] = {}
    seqs = [row[0] for row in rows]
    for i in range(0, len(seqs), _IN_CHUNK):
        chunk = seqs[i : i + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT seq, type, name FROM event_resources WHERE seq IN ({marks}) ORDER BY seq, ordinal"  # noqa: S608
        for seq, rtype, name in conn.execute(sql, chunk):
            resources[seq] = (*resources.get(seq, ()), (rtype, name))
    return [_stored(row, resources.get(row[0], ())) for row in rows]


def _lookup_sql(q: LookupQuery) -> tuple[str, list[object]] | None:
    key, value = q.attribute or (None, None)
    arg: object = value
    if key == "ReadOnly":
        if value not in ("true", "false"):
            return None  # exact match: no event has any other ReadOnly value
        arg = int(value == "true")
    upper = (q.end_ms + 1, 0)  # (time, seq) strictly below this means time <= end_ms
    if q.after is not None and q.after < upper:
        upper = q.after
    t, source = (
        ("r", "event_resources r JOIN events e ON e.seq = r.seq")
        if key in _BY_RESOURCE
        else ("e", "events e")
    )
    where = [f"{t}.account_id = ?", f"{t}.region = ?"]
    args: list[object] = [q.account_id, q.region]
    if key is not None:
        where.append(f"{t}.{_BY_RESOURCE.get(key) or _BY_EVENT[key]} = ?")
        args.append(arg)
    # Event history shows management events only; data events go to trails alone.
    where += [f"{t}.event_time_ms >= ?", f"({t}.event_time_ms, {t}.seq) < (?, ?)", "e.management = 1"]
    args += [q.start_ms, *upper]
    order = f"{t}.event_time_ms DESC, {t}.seq DESC"
    return f"SELECT {COLUMNS} FROM {source} WHERE {' AND '.join(where)} ORDER BY {order}", args  # noqa: S608


def _stored(row: _Row, resources: tuple[tuple[str, str], ...]) -> StoredEvent:
    seq, record, acct, region, time_ms, event_id, name, source, read_only, user, key, mgmt = row
    entry = JournalEntry(
        bytes(record), acct, region, time_ms, event_id, name, source, bool(read_only), user, key,
        resources, bool(mgmt),
    )  # fmt: skip
    return StoredEvent(seq, entry)
