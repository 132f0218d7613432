"""The SQLite journal's checkpointer: committed WAL pages copied into the database off the write path.

Why a thread: the writer checkpoints every 1000 WAL pages (so the WAL file is reused, see
``_sqlite_schema.connect``), and that checkpoint stalls the appends waiting on its commit.
PASSIVE checkpoints every few milliseconds from this thread's own connection copy most pages
before then, so the writer's checkpoint has little left to do. They copy committed pages only
and fsync the database before the WAL is reused: durability is unchanged.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

from trailkeeper.journal._sqlite_schema import connect

__all__ = ["INTERVAL_SECONDS", "Checkpointer"]

INTERVAL_SECONDS = 0.01


class Checkpointer:
    """A daemon thread running PASSIVE checkpoints (they never block the writer) until ``stop``."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self._path, self._synchronous = path, synchronous
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
        try:
            while not self._stopping.wait(INTERVAL_SECONDS):
                # A failure (disk full, I/O error) leaves the pages in the WAL, still durable;
                # the writer's own autocheckpoint remains as the backstop.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()
