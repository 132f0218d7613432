"""The PostgreSQL TrailStore: Trail and TrailStatus values in, rows in the journal's database out.

Used whenever the journal is PostgreSQL, so every gateway sees the trails created on any other
and every delivery worker reads the same logging state. Rows hold the same JSON bodies as the
SQLite store (adding a field needs no migration). ``update_status`` locks the status row
(``FOR UPDATE``), so concurrent updates from several nodes never lose one another.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from trailkeeper.control import errors
from trailkeeper.control.model import Trail, TrailStatus
from trailkeeper.control.sqlite_store import (
    _STATUS_FIELDS,
    _decode_status,
    _decode_trail,
    _encode_status,
    _encode_trail,
)
from trailkeeper.pgstate.db import Cursor, PgDatabase

__all__ = ["PgTrailStore"]

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE control_trails (arn text COLLATE "C" PRIMARY KEY,
            account_id text COLLATE "C" NOT NULL, home_region text NOT NULL,
            name text COLLATE "C" NOT NULL, body bytea NOT NULL)""",
        "CREATE INDEX control_trails_by_account ON control_trails (account_id, name, home_region)",
        'CREATE TABLE control_trail_status (arn text COLLATE "C" PRIMARY KEY, body bytea NOT NULL)',
    ),
)


class PgTrailStore:
    """TrailStore on the shared PostgreSQL database (see the module docstring)."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def describe(self) -> str:
        return f"pg-trails({self._db.describe()})"

    async def open(self) -> None:
        await self._db.open()
        try:
            await self._db.migrate("control", _MIGRATIONS)
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        await self._db.close()

    async def create(self, trail: Trail) -> None:
        def insert(cur: Cursor) -> None:
            row = (trail.arn, trail.account_id, trail.home_region, trail.name, _encode_trail(trail))
            cur.execute("INSERT INTO control_trails VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", row)
            if cur.rowcount != 1:
                raise errors.trail_exists(trail.name, trail.account_id)
            cur.execute(
                "INSERT INTO control_trail_status VALUES (%s, %s)"
                " ON CONFLICT (arn) DO UPDATE SET body = excluded.body",
                (trail.arn, _encode_status(TrailStatus())),
            )

        await self._db.run(insert)

    async def replace(self, trail: Trail) -> None:
        def update(cur: Cursor) -> None:
            cur.execute(
                "UPDATE control_trails SET body = %s WHERE arn = %s", (_encode_trail(trail), trail.arn)
            )
            if cur.rowcount == 0:
                raise errors.trail_not_found(trail.arn, trail.account_id)

        await self._db.run(update)

    async def delete(self, arn: str) -> bool:
        def remove(cur: Cursor) -> bool:
            cur.execute("DELETE FROM control_trail_status WHERE arn = %s", (arn,))
            return cur.execute("DELETE FROM control_trails WHERE arn = %s", (arn,)).rowcount > 0

        return await self._db.run(remove)

    async def get(self, arn: str) -> Trail | None:
        rows = await self._select("SELECT body FROM control_trails WHERE arn = %s", (arn,))
        return _decode_trail(rows[0][0]) if rows else None

    async def trails_of(self, account_id: str) -> list[Trail]:
        sql = "SELECT body FROM control_trails WHERE account_id = %s ORDER BY name, home_region"
        return [_decode_trail(body) for (body,) in await self._select(sql, (account_id,))]

    async def all(self) -> list[Trail]:
        return [
            _decode_trail(body)
            for (body,) in await self._select("SELECT body FROM control_trails ORDER BY arn")
        ]

    async def status(self, arn: str) -> TrailStatus:
        rows = await self._select("SELECT body FROM control_trail_status WHERE arn = %s", (arn,))
        return _decode_status(rows[0][0] if rows else None)

    async def update_status(self, arn: str, **changes: Any) -> TrailStatus:
        """Apply ``changes`` under the trail's row lock; a trail deleted meanwhile stays deleted."""
        unknown = set(changes) - _STATUS_FIELDS
        if unknown:
            raise TypeError(f"TrailStatus has no field(s) {sorted(unknown)}")

        def apply(cur: Cursor) -> TrailStatus:
            # Lock the trail first: a concurrent delete or update of the same trail waits for us.
            exists = cur.execute("SELECT 1 FROM control_trails WHERE arn = %s FOR UPDATE", (arn,)).fetchone()
            row = cur.execute("SELECT body FROM control_trail_status WHERE arn = %s", (arn,)).fetchone()
            status = dataclasses.replace(_decode_status(row[0] if row else None), **changes)
            if exists:
                cur.execute(
                    "INSERT INTO control_trail_status VALUES (%s, %s)"
                    " ON CONFLICT (arn) DO UPDATE SET body = excluded.body",
                    (arn, _encode_status(status)),
                )
            return status

        return await self._db.run(apply)

    async def _select(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await self._db.run(lambda cur: cur.execute(sql.encode() if not args else sql, args).fetchall())
