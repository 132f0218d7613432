"""The PostgreSQL journal's indexer: committed events in, their lookup_keys rows out, off the append path.

Why a thread with its own connection: the keys are most of the server's work per event, and
in their own transactions they run in a second server process while the writer's next commit
runs in the first (see migration 2 in ``_pg_schema``). The keys are derived by one INSERT …
SELECT (``KEYS_OF``): building them in Python held the GIL long enough to stall the writer
thread (measured: durable appends 12 900/s → 8 200/s at c=64). One indexer at a time across every node:
the one whose transaction holds the row lock on counters('indexed') (``FOR UPDATE SKIP
LOCKED``; the others skip). Keys and the new 'indexed' value commit together, so a crash loses
no key and repeats none. Seqs become visible in order (``_pg_writer``), so "seq > indexed" is
exactly the events not keyed yet: the tail that reads merge in.

The local writer wakes the indexer after each commit; other nodes' events are picked up within
POLL_SECONDS even when this node is idle. ``wait_below`` lets the writer hold back while the
tail is long (backpressure), so a lookup never filters an unbounded tail.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg

from trailkeeper.journal._pg_connect import Scrubber, connect
from trailkeeper.journal._pg_schema import INDEXED, KEY_COLUMNS, KEYS_OF

__all__ = ["CHUNK", "GATHER_SECONDS", "POLL_SECONDS", "PgIndexer"]

CHUNK = 2000  # events keyed per transaction
GATHER_SECONDS = 0.01  # after a wake-up: lets back-to-back commits be keyed in one transaction
POLL_SECONDS = 0.5
_RETRY_SECONDS = 1.0

_log = logging.getLogger("trailkeeper.journal.indexer")
_Conn = psycopg.Connection[tuple[Any, ...]]

_LOCK = f"{INDEXED} FOR UPDATE SKIP LOCKED"
_UPPER = "SELECT max(seq), count(*) FROM (SELECT seq FROM events WHERE seq > %s ORDER BY seq LIMIT %s) t"
_INSERT = f"INSERT INTO lookup_keys ({KEY_COLUMNS}) " + KEYS_OF.format(
    source="events", where=" AND s.seq > %(after)s AND s.seq <= %(upto)s"
)
_SAVE = "UPDATE counters SET value = %s WHERE name = 'indexed'"


class PgIndexer:
    """A daemon thread keying committed events until ``stop`` (see the module docstring)."""

    def __init__(self, url: str, scrub: Scrubber, name: str) -> None:
        self._url, self._scrub, self._name = url, scrub, name
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._progress = threading.Condition()
        self._thread: threading.Thread | None = None
        self.indexed = 0  # the highest 'indexed' value seen (ours or another node's)

    def start(self, indexed: int) -> None:
        self.indexed = indexed
        self._thread = threading.Thread(target=self._run, name="journal-indexer", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def wait_below(self, seq: int, timeout: float) -> None:
        """Block until every event up to ``seq`` is keyed, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        self.wake()
        with self._progress:
            while self.indexed < seq and not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._progress.wait(left)

    # -- indexer thread --------------------------------------------------------------------------

    def _run(self) -> None:
        conn: _Conn | None = None
        try:
            while not self._stopping.is_set():
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                if self._stopping.wait(GATHER_SECONDS):
                    break
                try:
                    if conn is None or conn.closed or conn.broken:
                        conn = _connect(self._url)
                    while self._chunk(conn) == CHUNK and not self._stopping.is_set():
                        pass  # behind: keep going without waiting for a wake-up
                except Exception as err:  # whatever it is (a bug too), indexing must resume
                    # The writer fails closed on its own; keys only wait, and reads merge the tail.
                    _log.warning("journal %s: indexing paused: %s", self._name, self._scrub(err))
                    _discard(conn)
                    conn = None
                    self._stopping.wait(_RETRY_SECONDS)
        finally:
            _discard(conn)

    def _chunk(self, conn: _Conn) -> int:
        """Key up to CHUNK events after 'indexed' in one transaction; how many were read."""
        with conn.cursor() as cur:
            locked = cur.execute(_LOCK).fetchone()
            if locked is None:  # another node is indexing: just learn how far it got
                peeked = cur.execute(INDEXED).fetchone()
                conn.rollback()
                self._advance(int(peeked[0]) if peeked else 0)
                return 0
            after = int(locked[0])
            upper = cur.execute(_UPPER, (after, CHUNK)).fetchone()
            upto, count = (int(upper[0]), int(upper[1])) if upper and upper[1] else (after, 0)
            if count:
                cur.execute(_INSERT.encode(), {"after": after, "upto": upto})
                cur.execute(_SAVE, (upto,))
        conn.commit()
        self._advance(upto)
        return count

    def _advance(self, indexed: int) -> None:
        with self._progress:
            self.indexed = max(self.indexed, indexed)
            self._progress.notify_all()


def _connect(url: str) -> _Conn:
    conn = connect(url, autocommit=False)
    # Keys need no WAL flush of their own: a crash that loses a keying transaction loses its
    # 'indexed' value with it, so those events are keyed again, and the next append's
    # synchronous commit flushes the WAL past these records anyway.
    conn.execute("SET synchronous_commit = off")
    conn.commit()
    return conn


def _discard(conn: _Conn | None) -> None:
    if conn is not None:
        conn.close()
