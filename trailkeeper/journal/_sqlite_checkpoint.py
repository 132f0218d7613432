"""The SQLite journal's checkpointer: committed WAL pages copied into the database off the write path.

Why a thread: the writer checkpoints every 1000 WAL pages (so the WAL file is reused, see
``_sqlite_schema.connect``), and that checkpoint stalls the appends waiting on its commit.
PASSIVE checkpoints from this thread's own connection copy most pages before then, so the
writer's checkpoint has little left to do. They copy committed pages only and fsync the database
before the WAL is reused: durability is unchanged.

When: once the writer has written EVENTS_PER_CHECKPOINT events since the last one (about a
third of the writer's 1000-page threshold, so this thread stays ahead of it), and at the latest
MAX_DELAY_SECONDS after a write. Not on a fixed short tick: every checkpoint fsyncs the
database file, and at one call at a time a 10 ms tick put a database fsync beside every few
WAL fsyncs, so each durable append waited longer (measured below, see bench/README.md).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from trailkeeper.journal._sqlite_schema import connect

__all__ = ["EVENTS_PER_CHECKPOINT", "MAX_DELAY_SECONDS", "TICK_SECONDS", "Checkpointer"]

TICK_SECONDS = 0.01  # how often the writer's progress is looked at (no I/O)
EVENTS_PER_CHECKPOINT = 128  # each event writes ~2.3 WAL pages, its lookup keys a few more
MAX_DELAY_SECONDS = 1.0


class Checkpointer:
    """A daemon thread running PASSIVE checkpoints (they never block the writer) until ``stop``.

    ``written`` is the writer's running count of events written (appended or keyed).
    """

    def __init__(self, path: Path, synchronous: str, written: Callable[[], int]) -> None:
        self._path, self._synchronous, self._written = path, synchronous, written
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        conn = connect(self._path, self._synchronous, read_only=False)
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name="journal-checkpoint", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self, conn: sqlite3.Connection) -> None:
        done = self._written()  # the count at the last checkpoint
        pending_since: float | None = None  # when a write after it was first seen
        try:
            while not self._stopping.wait(TICK_SECONDS):
                written, now = self._written(), time.monotonic()
                if written == done:
                    continue
                pending_since = pending_since if pending_since is not None else now
                if written - done < EVENTS_PER_CHECKPOINT and now - pending_since < MAX_DELAY_SECONDS:
                    continue
                # A failure (disk full, I/O error) leaves the pages in the WAL, still durable;
                # the writer's own autocheckpoint remains as the backstop.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                done, pending_since = written, None
        finally:
            conn.close()
