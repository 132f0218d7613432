"""One SQLite file of control-plane state on one worker thread: a path and migrations in, transactions out.

The delivery state and the digest chains share ``state.sqlite3`` (with the trail store), each
owning its tables and a one-row schema-version table. They use the file the same way: one
connection used from one thread (sqlite3 connections are not for concurrent use), WAL so readers
never block the writer, ``synchronous = FULL`` so a committed cursor, manifest or chain link
survives power loss, explicit ``BEGIN IMMEDIATE`` transactions, and numbered migrations that are
appended, never edited.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["SqliteStateFile"]

_T = TypeVar("_T")


class SqliteStateFile:
    """One component's view of a state file (see the module docstring).

    ``version_table`` names the component's schema-version table; ``migrations[i]`` takes the
    schema from version i to i + 1; failures raise ``error`` naming ``what``.
    """

    def __init__(
        self,
        path: Path,
        *,
        what: str,
        thread_name: str,
        version_table: str,
        migrations: Sequence[Sequence[str]],
        error: type[Exception],
    ) -> None:
        self.path = path
        self._what, self._thread_name = what, thread_name
        self._version_table, self._migrations, self._error = version_table, migrations, error
        self._conn: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix=self._thread_name)
            try:
                await self.run(self._connect)
            except BaseException:  # unopenable (newer schema, unwritable): leave no thread behind
                self._thread.shutdown(wait=False)
                self._thread = None
                raise

    async def close(self) -> None:
        if self._thread is None:
            return
        await self.run(self._disconnect)
        self._thread.shutdown(wait=True)
        self._thread = None

    def db(self) -> sqlite3.Connection:
        """The connection; only for functions running on the state thread (``run``/``write``)."""
        if self._conn is None:
            raise self._error(f"{self._what} {self.path} is not open")
        return self._conn

    async def run(self, fn: Callable[[], _T]) -> _T:
        if self._thread is None:
            raise self._error(f"{self._what} {self.path} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    async def query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return await self.run(lambda: self.db().execute(sql, args).fetchall())

    async def write(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """``fn`` in one durable transaction: committed, or rolled back and raised."""
        return await self.run(lambda: _in_transaction(self.db(), fn))

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE … COMMIT), never implicit.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA busy_timeout = 10000")  # other components write the same file
        _in_transaction(conn, self._migrate)
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _migrate(self, conn: sqlite3.Connection) -> None:
        table, migrations = self._version_table, self._migrations
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table}"
            " (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL) STRICT"
        )
        # The table name is the component's own constant, never input.
        row = conn.execute(f"SELECT version FROM {table} WHERE id = 1").fetchone()  # noqa: S608
        version = int(row[0]) if row else 0
        if version > len(migrations):
            raise self._error(f"{self._what} schema version {version} is newer than this trailkeeper knows")
        for statements in migrations[version:]:
            for statement in statements:
                conn.execute(statement)
        if version < len(migrations):
            conn.execute(f"INSERT OR REPLACE INTO {table} VALUES (1, ?)", (len(migrations),))  # noqa: S608


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], _T]) -> _T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT (busy, I/O) leaves it open
            conn.execute("ROLLBACK")
        raise
    return result
