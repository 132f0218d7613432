"""The PostgreSQL journal's writer: batches of work in, one committed transaction (and results) out.

Seqs follow commit order across every node sharing the database: a batch with appends first
takes the row lock on ``counters('seq')`` (``UPDATE … RETURNING``), which both allocates its seqs
and is held until COMMIT has returned, so the next batch, from any node, allocates only after
this one is durable and visible. ``read_after(cursor)`` therefore never meets a later commit
with a lower seq. The cost: batches from different nodes commit one after another (their WAL
flushes cannot overlap); each node's group commit makes its batches larger to compensate.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from trailkeeper.journal._entries import decode_entry, encode_entry
from trailkeeper.journal._group_commit import BatchFailed, Outcome, Work
from trailkeeper.journal._pg_connect import Scrubber, connect
from trailkeeper.journal._pg_indexer import PgIndexer
from trailkeeper.journal._pg_rows import insert_events
from trailkeeper.journal._pg_schema import INDEXED, KEYS_OF, migrate
from trailkeeper.journal.base import JournalEntry

__all__ = ["MAX_TAIL", "NODE_SPACE", "PRUNE_CHUNK", "PgStore"]

PRUNE_CHUNK = 1000
MAX_TAIL = 20_000  # events not keyed yet at most before appends wait for the indexer
NODE_SPACE = 0x746B6E64  # "tknd": pg_advisory_lock(NODE_SPACE, node) is held while a writer lives

_Conn = psycopg.Connection[tuple[Any, ...]]
_Cursor = psycopg.Cursor[tuple[Any, ...]]
# What one work item did wrong, not what the database cannot do: only that caller gets the error.
_ITEM_ERRORS = (psycopg.IntegrityError, psycopg.DataError, TypeError, ValueError, AttributeError)

_TAKE_SEQS = "UPDATE counters SET value = value + %s WHERE name = 'seq' RETURNING value"
# Taken before a prune: it waits for a running indexer transaction and keeps the next one out,
# so every key of a deleted event is either deleted with it or never written.
_LOCK_INDEXER = f"{INDEXED} FOR UPDATE"
# One statement: the oldest events go, and the keys KEYS_OF derives from them go with them.
_PRUNE = f"""WITH gone AS (DELETE FROM events WHERE seq IN (
        SELECT seq FROM events WHERE event_time_ms / 1000 <= %(sec)s AND event_time_ms < %(ms)s
        ORDER BY event_time_ms / 1000 LIMIT %(limit)s)
        RETURNING seq, event_time_ms, management, account_id, region, event_name, event_source,
            username, access_key_id, read_only, resources),
    keys AS ({KEYS_OF.format(source="gone", where="")}),
    unkeyed AS (DELETE FROM lookup_keys k USING keys d (bucket, event_time_ms, seq)
        WHERE (k.bucket, k.event_time_ms, k.seq) = (d.bucket, d.event_time_ms, d.seq))
    SELECT count(*) FROM gone"""  # noqa: S608 constant
_UPSERT_RESERVATION = """INSERT INTO reservations (event_id, node, entry, record) VALUES (%s, %s, %s, %s)
    ON CONFLICT (event_id) DO UPDATE SET node = excluded.node, entry = excluded.entry,
        record = excluded.record"""


class _Reservations:
    """The net effect of a batch on the reservations table, written as two statements."""

    def __init__(self, stored: set[str]) -> None:
        self.stored = stored  # event ids this writer knows to have a stored reservation
        self.upserts: dict[str, JournalEntry] = {}
        self.deletes: set[str] = set()

    def reserve(self, entry: JournalEntry) -> None:
        self.upserts[entry.event_id] = entry
        self.deletes.discard(entry.event_id)

    def release(self, event_id: str) -> None:
        self.upserts.pop(event_id, None)
        self.deletes.add(event_id)

    def appended(self, event_id: str) -> None:
        if event_id in self.upserts or event_id in self.stored:  # most appends had no reservation
            self.release(event_id)

    def write(self, cur: _Cursor, node: int) -> None:
        if self.deletes:
            cur.execute("DELETE FROM reservations WHERE event_id = ANY(%s)", (list(self.deletes),))
        if self.upserts:
            rows = [(e.event_id, node, encode_entry(e), e.record) for e in self.upserts.values()]
            cur.executemany(_UPSERT_RESERVATION, rows)

    def after(self) -> set[str]:
        return (self.stored - self.deletes) | self.upserts.keys()


class PgStore:
    """The write connection, this writer's node id and the ids of its stored reservations."""

    prune_chunk = PRUNE_CHUNK
    max_backlog = MAX_TAIL

    def __init__(self, url: str, scrub: Scrubber, name: str) -> None:
        self._url, self._scrub = url, scrub
        self._conn: _Conn | None = None
        self.node = 0
        self._reserved: set[str] = set()
        self._committing = False
        self._last = 0  # the highest seq this writer committed
        self._indexer = PgIndexer(url, scrub, name)

    def start(self) -> None:
        try:
            self._conn = self._connect(new_node=True)
            migrate(self._conn)
            self._recover(self._conn)
            self._indexer.start(_indexed(self._conn))
        except psycopg.Error as err:  # the message may name the server, never the password
            self.stop()
            raise RuntimeError(self._scrub(err)) from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._indexer.stop()
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def transaction(self, batch: Sequence[Work]) -> list[Outcome]:
        for attempt in (1, 2):
            self._committing = False
            try:
                conn = self._usable()
                try:
                    return self._fast(conn, batch)
                except _ITEM_ERRORS:
                    _rollback(conn)
                    return self._one_by_one(conn, batch)
            except psycopg.Error as err:
                retry = attempt == 1 and not self._committing and self._conn is not None and self._conn.broken
                self._abandon()
                # A connection found dead before COMMIT was sent committed nothing (an idle
                # connection cut by a server restart): redo the batch once on a new one.
                if not retry:
                    raise BatchFailed(self._scrub(err)) from None
        raise AssertionError("unreachable")

    def probe(self) -> bool:
        try:
            conn = self._usable()
            conn.execute(
                "INSERT INTO heartbeat VALUES (%s, now()) ON CONFLICT (node) DO UPDATE SET at = now()",
                (self.node,),
            )
            conn.commit()
        except psycopg.Error:
            self._abandon()
            return False
        return True

    def backlog(self) -> int:
        """This writer's events not keyed yet, once they reach MAX_TAIL (below that the indexer keeps up)."""
        behind = self._last - self._indexer.indexed
        return behind if behind >= MAX_TAIL else 0

    def catch_up(self) -> None:
        """Hold appends back until the tail is half its bound again (or a second has passed)."""
        self._indexer.wait_below(self._last - MAX_TAIL // 2, timeout=1.0)

    # -- one batch -------------------------------------------------------------------------------

    def _fast(self, conn: _Conn, batch: Sequence[Work]) -> list[Outcome]:
        """The whole batch in one transaction: COPY for the events, two statements for reservations."""
        with conn.cursor() as cur:
            appends = sum(work.kind == "append" for work in batch)
            seq = self._take_seqs(cur, appends) - appends if appends else 0
            plan = _Reservations(self._reserved)
            values, seq = self._apply(cur, batch, seq, plan)
            plan.write(cur, self.node)
        self._commit(conn, plan.after(), seq)
        return [(work, value, None) for work, value in zip(batch, values, strict=True)]

    def _one_by_one(self, conn: _Conn, batch: Sequence[Work]) -> list[Outcome]:
        """The batch again, each item under its own savepoint: only the bad items fail."""
        outcomes: list[Outcome] = []
        reserved = self._reserved
        with conn.cursor() as cur:
            appends = any(work.kind == "append" for work in batch)
            seq = self._take_seqs(cur, 0) if appends else 0
            for work in batch:
                plan = _Reservations(reserved)
                try:
                    with conn.transaction():  # a savepoint inside the batch's transaction
                        (value,), after = self._apply(cur, [work], seq, plan)
                        plan.write(cur, self.node)
                except _ITEM_ERRORS as err:
                    outcomes.append((work, None, ValueError(f"journal refused {work.kind}: {err}")))
                    continue
                seq, reserved = after, plan.after()
                outcomes.append((work, value, None))
            if appends:
                cur.execute("UPDATE counters SET value = %s WHERE name = 'seq'", (seq,))
        self._commit(conn, reserved, seq)
        return outcomes

    def _apply(
        self, cur: _Cursor, batch: Sequence[Work], seq: int, plan: _Reservations
    ) -> tuple[list[object], int]:
        """Run ``batch`` in order after ``seq``: the value of each item and the last seq used."""
        values: list[object] = []
        rows: list[tuple[int, JournalEntry]] = []
        for work in batch:
            if work.kind == "append":
                seq += 1
                rows.append((seq, work.arg))
                plan.appended(work.arg.event_id)
                values.append(seq)
            elif work.kind in ("reserve", "release"):
                (plan.reserve if work.kind == "reserve" else plan.release)(work.arg)
                values.append(None)
            else:
                values.append(_OTHER[work.kind](cur, work.arg))
        insert_events(cur, rows)
        return values, seq

    def _take_seqs(self, cur: _Cursor, count: int) -> int:
        """Lock the counter row until COMMIT and move it on by ``count``: the new last seq."""
        row = cur.execute(_TAKE_SEQS, (count,)).fetchone()
        assert row is not None, "migration 1 inserts the counter row"
        return int(row[0])

    def _commit(self, conn: _Conn, reserved: set[str], last: int) -> None:
        self._committing = True  # from here on a failure leaves the outcome unknown: never redone
        try:
            conn.commit()
        except psycopg.Error:
            # Remember every reservation that may exist, so an append still deletes it
            # (deleting one that is not there costs nothing).
            self._reserved = self._reserved | reserved
            raise
        self._committing = False
        self._reserved = reserved
        if last > self._last:
            self._last = last
            self._indexer.wake()

    # -- connection --------------------------------------------------------------------------------

    def _connect(self, *, new_node: bool) -> _Conn:
        conn = connect(self._url, autocommit=False)
        try:
            if new_node:
                self.node = _free_node(conn)
            else:  # reconnecting: the same node again, once a recovery holding its id (if any) is done
                conn.execute("SELECT pg_advisory_lock(%s, %s)", (NODE_SPACE, self.node))
            conn.commit()  # a session-level lock: it outlives this transaction, until the connection ends
        except BaseException:
            conn.close()
            raise
        return conn

    def _usable(self) -> _Conn:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._abandon()
            self._conn = self._connect(new_node=False)
        return self._conn

    def _abandon(self) -> None:
        if self._conn is not None:
            if self._conn.broken or self._conn.closed:
                self._close()  # the next batch or probe connects again
            else:
                _rollback(self._conn)

    def _recover(self, conn: _Conn) -> None:
        """Turn reservations left by writers that died into events: the outcome of those calls is unknown."""
        with conn.cursor() as cur:
            others = cur.execute("SELECT DISTINCT node FROM reservations WHERE node <> %s", (self.node,))
            nodes = [node for (node,) in others.fetchall()]
            dead = [n for n in nodes if _try_lock(cur, n)]  # held until COMMIT: one recoverer per node
            rows = cur.execute(
                "SELECT entry, record FROM reservations WHERE node = ANY(%s) ORDER BY ordinal", (dead,)
            ).fetchall()
            entries = {e.event_id: e for e in (decode_entry(blob, record) for blob, record in rows)}
            found = cur.execute("SELECT event_id FROM events WHERE event_id = ANY(%s)", (list(entries),))
            for (event_id,) in found.fetchall():
                del entries[event_id]
            if entries:
                last = self._take_seqs(cur, len(entries))
                insert_events(cur, list(enumerate(entries.values(), last - len(entries) + 1)))
            cur.execute("DELETE FROM reservations WHERE node = ANY(%s)", (dead,))
            cur.execute("DELETE FROM heartbeat WHERE at < now() - interval '1 day'")
        conn.commit()


def _indexed(conn: _Conn) -> int:
    row = conn.execute(INDEXED).fetchone()
    conn.rollback()
    return int(row[0]) if row else 0


def _free_node(conn: _Conn) -> int:
    """A random node id, its advisory lock now held by ``conn``'s session."""
    while True:
        node = secrets.randbelow(2**31 - 1) + 1
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (NODE_SPACE, node)).fetchone()
        if row and row[0]:
            return node


def _try_lock(cur: _Cursor, node: int) -> bool:
    row = cur.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (NODE_SPACE, node)).fetchone()
    return bool(row and row[0])


def _prune(cur: _Cursor, before_ms: int) -> int:
    """Delete one chunk of the oldest events older than ``before_ms`` and their lookup keys."""
    cur.execute(_LOCK_INDEXER)
    row = cur.execute(_PRUNE.encode(), {"sec": before_ms // 1000, "ms": before_ms, "limit": PRUNE_CHUNK})
    counted = row.fetchone()
    return int(counted[0]) if counted else 0


def _secret(cur: _Cursor, arg: tuple[str, bytes]) -> bytes | None:
    # Every node shares one value: the first insert wins and later ones read it back.
    cur.execute("INSERT INTO secrets VALUES (%s, %s) ON CONFLICT (name) DO NOTHING", arg)
    row = cur.execute("SELECT value FROM secrets WHERE name = %s", (arg[0],)).fetchone()
    return None if row is None else bytes(row[0])


_OTHER: dict[str, Callable[[_Cursor, Any], object]] = {"prune": _prune, "secret": _secret}


def _rollback(conn: _Conn) -> None:
    with contextlib.suppress(psycopg.Error):
        conn.rollback()
