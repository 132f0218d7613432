"""Console sessions in PostgreSQL: the SQLite store's rows, shared by every gateway behind the load balancer.

Same contract as ``sessions.py`` (only a SHA-256 of the cookie id is stored): a browser signed in
through one node stays signed in on every other, and a sign-out on one ends it everywhere.
"""

from __future__ import annotations

import orjson

from trailkeeper.console.sessions import (
    ConsoleSession,
    _digest,
    _principal_from,
    new_session_id,
    session_row,
)
from trailkeeper.pgstate.db import Cursor, PgDatabase

__all__ = ["PgSessionStore"]

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE console_sessions (id_hash bytea PRIMARY KEY, principal bytea NOT NULL,
            region text NOT NULL, created_ms bigint NOT NULL, expires_ms bigint NOT NULL)""",
        "CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_ms)",
    ),
)


class PgSessionStore:
    """Durable console sessions in the shared database."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def describe(self) -> str:
        return f"console sessions in {self._db.describe()}"

    async def open(self) -> None:
        await self._db.open()
        try:
            await self._db.migrate("console", _MIGRATIONS)
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        await self._db.close()

    async def create(self, session: ConsoleSession) -> str:
        session_id = new_session_id()
        row = session_row(session_id, session)

        def insert(cur: Cursor) -> None:
            cur.execute("DELETE FROM console_sessions WHERE expires_ms <= %s", (session.created_ms,))
            cur.execute("INSERT INTO console_sessions VALUES (%s, %s, %s, %s, %s)", row)

        await self._db.run(insert)
        return session_id

    async def get(self, session_id: str, now_ms: int) -> ConsoleSession | None:
        def read(cur: Cursor) -> tuple[bytes, str, int, int] | None:
            found = cur.execute(
                "SELECT principal, region, created_ms, expires_ms FROM console_sessions"
                " WHERE id_hash = %s AND expires_ms > %s",
                (_digest(session_id), now_ms),
            ).fetchone()
            return None if found is None else (bytes(found[0]), found[1], found[2], found[3])

        row = await self._db.run(read)
        if row is None:
            return None
        return ConsoleSession(_principal_from(orjson.loads(row[0])), row[1], row[2], row[3])

    async def delete(self, session_id: str) -> None:
        digest = _digest(session_id)
        await self._db.run(
            lambda cur: cur.execute("DELETE FROM console_sessions WHERE id_hash = %s", (digest,))
        )
