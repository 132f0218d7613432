"""The PostgreSQL journal's reads: a LookupQuery or seqs in, StoredEvents out, on self-healing connections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

from trailkeeper.errors import JournalUnavailable
from trailkeeper.journal._keys import KIND
from trailkeeper.journal._pg_connect import Scrubber, connect
from trailkeeper.journal._pg_rows import SELECT_COLUMNS, stored_event
from trailkeeper.journal._pg_schema import INDEXED
from trailkeeper.journal.base import LookupAttribute, LookupPage, LookupQuery, StoredEvent

__all__ = ["PgReader", "last_seq", "lookup", "read_after", "read_seqs", "select_secret"]

_Conn = psycopg.Connection[tuple[Any, ...]]
_T = TypeVar("_T")

# An event's own columns, checked for keyed and tail events alike: a bucket may (rarely) be
# shared by two keys, and the tail has no keys at all. Exact in SQL, so LIMIT stays exact.
_ATTRIBUTE: dict[LookupAttribute, str] = {
    "EventName": " AND e.event_name = %s",
    "EventSource": " AND e.event_source = %s",
    "Username": " AND e.username = %s",
    "AccessKeyId": " AND e.access_key_id = %s",
    "ReadOnly": " AND e.read_only = %s",
    "ResourceType": " AND EXISTS (SELECT FROM unnest(e.resources) WITH ORDINALITY r (v, i)"
    " WHERE r.v = %s AND r.i %% 2 = 1)",
    "ResourceName": " AND EXISTS (SELECT FROM unnest(e.resources) WITH ORDINALITY r (v, i)"
    " WHERE r.v = %s AND r.i %% 2 = 0)",
}
_OWN = " AND e.account_id = %s AND e.region = %s AND e.management"
# Event history shows management events only (the indexer keys nothing else), and the keyset
# condition on (time, seq) is a range of the same index the ORDER BY walks. Keys above the
# 'indexed' value read first are skipped: those events come from the tail query instead.
_KEYED = (
    f"(SELECT {SELECT_COLUMNS} FROM lookup_keys k JOIN events e ON e.seq = k.seq"  # noqa: S608 constant
    " WHERE k.bucket = lookup_bucket(%s, %s, %s::integer, %s) AND k.seq <= %s"
    " AND k.event_time_ms >= %s AND (k.event_time_ms, k.seq) < (%s, %s)" + _OWN + "{attribute}"
    " ORDER BY k.event_time_ms DESC, k.seq DESC LIMIT %s)"
)
_TAIL = (
    f"(SELECT {SELECT_COLUMNS} FROM events e WHERE e.seq > %s"  # noqa: S608 constant
    " AND e.event_time_ms >= %s AND (e.event_time_ms, e.seq) < (%s, %s)" + _OWN + "{attribute}"
    " ORDER BY e.event_time_ms DESC, e.seq DESC LIMIT %s)"
)
_BY_ID = (
    f"SELECT {SELECT_COLUMNS} FROM events e WHERE e.event_id = %s AND e.account_id = %s"  # noqa: S608
    " AND e.region = %s AND e.management AND e.event_time_ms >= %s AND (e.event_time_ms, e.seq) < (%s, %s)"
)
_READ_AFTER = f"SELECT {SELECT_COLUMNS} FROM events e WHERE e.seq > %s ORDER BY e.seq LIMIT %s"  # noqa: S608
_READ_SEQS = f"SELECT {SELECT_COLUMNS} FROM events e WHERE e.seq = ANY(%s::bigint[]) ORDER BY e.seq"  # noqa: S608


class PgReader:
    """One autocommit read connection, opened on first use and reopened when it broke.

    Every read is one statement, so it sees one consistent snapshot. A read that fails because
    the connection died (server restart) is retried once on a new one: reads are idempotent.
    """

    def __init__(self, url: str, scrub: Scrubber, name: str) -> None:
        self._url, self._scrub, self._name = url, scrub, name
        self._conn: _Conn | None = None

    def run(self, fn: Callable[[_Conn], _T]) -> _T:
        for attempt in (1, 2):
            try:
                if self._conn is None or self._conn.closed or self._conn.broken:
                    self.close()
                    self._conn = connect(self._url, autocommit=True, prepare=False)
                return fn(self._conn)
            except psycopg.Error as err:
                if attempt == 1 and self._conn is not None and self._conn.broken:
                    continue
                raise JournalUnavailable(f"journal {self._name} cannot read: {self._scrub(err)}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def lookup(conn: _Conn, q: LookupQuery) -> LookupPage:
    key, value = q.attribute or (None, None)
    if key == "ReadOnly" and value not in ("true", "false"):
        return LookupPage([], False)  # exact match: no event has any other ReadOnly value
    upper = (q.end_ms + 1, 0)  # (time, seq) strictly below this means time <= end_ms
    if q.after is not None and q.after < upper:
        upper = q.after
    scope, window = [q.account_id, q.region], [q.start_ms, *upper]
    if key == "EventId":  # the unique index finds the one row, keyed or not
        rows = _fetch(conn, _BY_ID, [value, *scope, *window])
        return _page([stored_event(row) for row in rows], q.limit)
    indexed = _indexed(conn)
    attribute, matching = "", []
    if key is not None:
        attribute = _ATTRIBUTE[key]
        matching.append(value == "true" if key == "ReadOnly" else value)
    keyed = [*scope, KIND[key], value or "", indexed, *window, *scope, *matching, q.limit + 1]
    tail = [indexed, *window, *scope, *matching, q.limit + 1]
    sql = f"{_KEYED} UNION ALL {_TAIL}".format(attribute=attribute)
    events = [stored_event(row) for row in _fetch(conn, sql, [*keyed, *tail])]
    events.sort(key=lambda s: (s.entry.event_time_ms, s.seq), reverse=True)
    return _page(events, q.limit)


def read_after(conn: _Conn, seq: int, limit: int) -> list[StoredEvent]:
    return [stored_event(row) for row in _fetch(conn, _READ_AFTER, [seq, limit])]


def read_seqs(conn: _Conn, seqs: list[int]) -> list[StoredEvent]:
    return [stored_event(row) for row in _fetch(conn, _READ_SEQS, [seqs])]


def last_seq(conn: _Conn) -> int:
    row = conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
    return int(row[0]) if row else 0


def select_secret(conn: _Conn, name: str) -> bytes | None:
    row = conn.execute("SELECT value FROM secrets WHERE name = %s", (name,)).fetchone()
    return None if row is None else bytes(row[0])


def _indexed(conn: _Conn) -> int:
    row = conn.execute(INDEXED).fetchone()
    return int(row[0]) if row else 0


def _page(events: list[StoredEvent], limit: int) -> LookupPage:
    return LookupPage(events[:limit], len(events) > limit)


def _fetch(conn: _Conn, sql: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
    # Binary results: bytea and bigint arrive as they are stored, with no text decoding.
    with conn.cursor(binary=True) as cur:
        return cur.execute(sql.encode(), args).fetchall()
