"""A small PostgreSQL pool for control-plane state: a function of a cursor in, its result out.

Each call runs on a worker thread with its own connection, inside one transaction (READ
COMMITTED, ``synchronous_commit = on`` from the journal's session settings): the function's
writes are durable when ``run`` returns. Components migrate their own tables with ``migrate``,
each with its own row in ``state_migrations`` and under an advisory lock, so two nodes starting
at once apply each migration exactly once. One ``PgDatabase`` is shared by every component of a
process; ``open``/``close`` are counted, and the connections close with the last user.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg

from trailkeeper.errors import TrailkeeperError
from trailkeeper.journal._pg_connect import Scrubber, connect, redact_url

__all__ = ["Cursor", "PgDatabase", "StateDbError"]

_T = TypeVar("_T")
_Conn = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]

_LOCK_SPACE = 0x746B7374  # "tkst": pg_advisory_xact_lock(_LOCK_SPACE, hashtext(schema)) while migrating
_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS state_migrations (component text PRIMARY KEY,
    version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""


class StateDbError(TrailkeeperError):
    """The state database cannot be used (unreachable, a newer schema, closed)."""


class PgDatabase:
    """``size`` connections to the journal's database; see the module docstring."""

    def __init__(self, url: str, *, size: int = 4) -> None:
        self._url, self._name, self._size = url, redact_url(url), size
        self._scrub = Scrubber(url)
        self._idle: queue.SimpleQueue[_Conn | None] = queue.SimpleQueue()
        self._executor: ThreadPoolExecutor | None = None
        self._users = 0
        self._lock = threading.Lock()

    def describe(self) -> str:
        return self._name

    async def open(self) -> None:
        with self._lock:
            self._users += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._size, thread_name_prefix="pg-state")
                for _ in range(self._size):
                    self._idle.put(None)  # connected on first use

    async def close(self) -> None:
        with self._lock:
            self._users -= 1
            executor = self._executor if self._users <= 0 else None
            if executor is not None:
                self._executor = None
        if executor is None:
            return
        await asyncio.to_thread(executor.shutdown, wait=True)
        while not self._idle.empty():
            conn = self._idle.get()
            if conn is not None:
                conn.close()

    async def run(self, fn: Callable[[Cursor], _T]) -> _T:
        """``fn`` in one transaction on a pooled connection. Raises StateDbError if the database fails."""
        executor = self._executor
        if executor is None:
            raise StateDbError(f"state database {self._name} is not open")
        return await asyncio.get_running_loop().run_in_executor(executor, self._call, fn)

    async def migrate(self, component: str, migrations: Sequence[Sequence[str]]) -> None:
        """Apply ``component``'s migrations not yet applied (version i = the first i of them)."""
        await self.run(lambda cur: _migrate(cur, component, migrations))

    def _call(self, fn: Callable[[Cursor], _T]) -> _T:
        conn = self._idle.get()
        try:
            if conn is None or conn.closed or conn.broken:
                if conn is not None:
                    conn.close()
                conn = None
                conn = connect(self._url, autocommit=True)
            with conn.transaction(), conn.cursor() as cur:
                return fn(cur)
        except psycopg.Error as err:
            if conn is not None and (conn.broken or conn.closed):
                with contextlib.suppress(psycopg.Error):
                    conn.close()
                conn = None
            # The message may quote the URL; never the password.
            raise StateDbError(f"state database {self._name}: {self._scrub(err)}") from None
        finally:
            self._idle.put(conn)


def _migrate(cur: Cursor, component: str, migrations: Sequence[Sequence[str]]) -> None:
    schema = cur.execute("SELECT current_schema()").fetchone()
    if schema is None or schema[0] is None:
        raise StateDbError("no schema for the state tables: search_path names no existing schema")
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", (_LOCK_SPACE,))
    cur.execute(_MIGRATIONS_TABLE)
    row = cur.execute("SELECT version FROM state_migrations WHERE component = %s", (component,)).fetchone()
    version = int(row[0]) if row else 0
    if version > len(migrations):
        raise StateDbError(f"{component} schema version {version} is newer than this trailkeeper knows")
    for statements in migrations[version:]:
        for statement in statements:
            cur.execute(statement.encode())  # bytes: a constant statement, not a psycopg template
    cur.execute(
        "INSERT INTO state_migrations (component, version) VALUES (%s, %s)"
        " ON CONFLICT (component) DO UPDATE SET version = excluded.version, applied_at = now()",
        (component, len(migrations)),
    )
