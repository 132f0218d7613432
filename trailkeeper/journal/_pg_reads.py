"""The PostgreSQL journal's reads: a LookupQuery or seqs in, StoredEvents out, on self-healing connections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

from trailkeeper.errors import JournalUnavailable
from trailkeeper.journal._pg_connect import Scrubber, connect
from trailkeeper.journal._pg_rows import RESOURCE_NAME, RESOURCE_TYPE, SELECT_COLUMNS, stored_event
from trailkeeper.journal.base import LookupAttribute, LookupPage, LookupQuery, StoredEvent

__all__ = ["PgReader", "last_seq", "lookup", "read_after", "read_seqs", "select_secret"]

_Conn = psycopg.Connection[tuple[Any, ...]]
_T = TypeVar("_T")

_BY_EVENT: dict[LookupAttribute, str] = {
    "EventId": "event_id",
    "EventName": "event_name",
    "EventSource": "event_source",
    "Username": "username",
    "AccessKeyId": "access_key_id",
    "ReadOnly": "read_only",
}
_BY_RESOURCE: dict[LookupAttribute, int] = {"ResourceType": RESOURCE_TYPE, "ResourceName": RESOURCE_NAME}
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
    arg: object = value
    if key == "ReadOnly":
        if value not in ("true", "false"):
            return LookupPage([], False)  # exact match: no event has any other ReadOnly value
        arg = value == "true"
    upper = (q.end_ms + 1, 0)  # (time, seq) strictly below this means time <= end_ms
    if q.after is not None and q.after < upper:
        upper = q.after
    if key in _BY_RESOURCE:
        t, source = "r", "event_resources r JOIN events e ON e.seq = r.seq"
        where, args = ["r.kind = %s", "r.value = %s"], [_BY_RESOURCE[key], arg]
    else:
        t, source = "e", "events e"
        where, args = ([f"e.{_BY_EVENT[key]} = %s"], [arg]) if key is not None else ([], [])
    # Event history shows management events only (the lookup indexes hold nothing else), and
    # the keyset condition on (time, seq) is a range of the same index the ORDER BY walks.
    where += [f"{t}.account_id = %s", f"{t}.region = %s", "e.management", f"{t}.event_time_ms >= %s"]
    where.append(f"({t}.event_time_ms, {t}.seq) < (%s, %s)")
    args += [q.account_id, q.region, q.start_ms, *upper, q.limit + 1]
    sql = (
        f"SELECT {SELECT_COLUMNS} FROM {source} WHERE {' AND '.join(where)}"  # noqa: S608 constant parts
        f" ORDER BY {t}.event_time_ms DESC, {t}.seq DESC LIMIT %s"
    )
    rows = _fetch(conn, sql, args)
    return LookupPage([stored_event(row) for row in rows[: q.limit]], len(rows) > q.limit)


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


def _fetch(conn: _Conn, sql: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
    # Binary results: bytea and bigint arrive as they are stored, with no text decoding.
    with conn.cursor(binary=True) as cur:
        return cur.execute(sql.encode(), args).fetchall()
