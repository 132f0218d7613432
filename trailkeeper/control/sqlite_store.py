"""The SQLite TrailStore: Trail and TrailStatus values in, durable rows in ``<data_dir>/state.sqlite3`` out.

The file is shared with other components' tables (delivery state, …): this store owns the
``control_*`` tables and its own schema-version row (``control_schema``), so migrations never touch
another component's tables. One connection on one worker thread runs every statement, each method
one ``BEGIN IMMEDIATE`` transaction made durable (WAL, ``synchronous = FULL``) before it returns;
``busy_timeout`` waits out the other writers of the file. Values are stored as JSON bodies of the
dataclass fields, so adding a field needs no migration (missing keys take the field default).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any, TypeVar

import orjson

from trailkeeper.control import errors
from trailkeeper.control.model import Trail, TrailStatus
from trailkeeper.errors import TrailkeeperError
from trailkeeper.sqlite_state import SqliteStateFile

__all__ = ["SqliteTrailStore", "TrailStoreError"]

_T = TypeVar("_T")

# Migration i takes the control schema from version i to i + 1. Append; never edit a released one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE control_trails (arn TEXT PRIMARY KEY, account_id TEXT NOT NULL,
            home_region TEXT NOT NULL, name TEXT NOT NULL, body BLOB NOT NULL) STRICT""",
        "CREATE INDEX control_trails_by_account ON control_trails (account_id, name, home_region)",
        "CREATE TABLE control_trail_status (arn TEXT PRIMARY KEY, body BLOB NOT NULL) STRICT",
    ),
)
_TRAIL_FIELDS = frozenset(f.name for f in dataclasses.fields(Trail))
_STATUS_FIELDS = frozenset(f.name for f in dataclasses.fields(TrailStatus))


class TrailStoreError(TrailkeeperError):
    """The store cannot be used: a newer schema, or a call after close."""


def _encode_trail(trail: Trail) -> bytes:
    return orjson.dumps({f: getattr(trail, f) for f in sorted(_TRAIL_FIELDS)})


def _decode_trail(body: bytes) -> Trail:
    raw: dict[str, Any] = {k: v for k, v in orjson.loads(body).items() if k in _TRAIL_FIELDS}
    # JSON has no tuples: restore the dataclass's immutable containers.
    for name in ("event_selectors", "advanced_event_selectors"):
        if raw.get(name) is not None:
            raw[name] = tuple(raw[name])
    raw["tags"] = tuple((key, value) for key, value in raw.get("tags") or ())
    return Trail(**raw)


def _encode_status(status: TrailStatus) -> bytes:
    return orjson.dumps(dataclasses.asdict(status))


def _decode_status(body: bytes | None) -> TrailStatus:
    if body is None:
        return TrailStatus()
    fields = {k: v for k, v in orjson.loads(body).items() if k in _STATUS_FIELDS}
    fields["paused"] = tuple((int(a), int(b)) for a, b in fields.get("paused") or ())  # JSON lists back
    return TrailStatus(**fields)


class SqliteTrailStore:
    """TrailStore on one SQLite file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteStateFile(
            path,
            what="control",  # as in "control schema version 2 is newer than this trailkeeper knows"
            thread_name="trail-store",
            version_table="control_schema",
            migrations=_MIGRATIONS,
            error=TrailStoreError,
        )

    def describe(self) -> str:
        return f"sqlite-trails({self._file.path})"

    async def open(self) -> None:
        await self._file.open()

    async def close(self) -> None:
        await self._file.close()

    async def create(self, trail: Trail) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO control_trails VALUES (?, ?, ?, ?, ?)",
                    (trail.arn, trail.account_id, trail.home_region, trail.name, _encode_trail(trail)),
                )
            except sqlite3.IntegrityError as err:
                raise errors.trail_exists(trail.name, trail.account_id) from err
            conn.execute(
                "INSERT OR REPLACE INTO control_trail_status VALUES (?, ?)",
                (trail.arn, _encode_status(TrailStatus())),
            )

        await self._file.write(insert)

    async def replace(self, trail: Trail) -> None:
        def update(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE control_trails SET body = ? WHERE arn = ?", (_encode_trail(trail), trail.arn)
            )
            if cursor.rowcount == 0:
                raise errors.trail_not_found(trail.arn, trail.account_id)

        await self._file.write(update)

    async def delete(self, arn: str) -> bool:
        def remove(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM control_trail_status WHERE arn = ?", (arn,))
            return conn.execute("DELETE FROM control_trails WHERE arn = ?", (arn,)).rowcount > 0

        return await self._file.write(remove)

    async def get(self, arn: str) -> Trail | None:
        rows = await self._file.query("SELECT body FROM control_trails WHERE arn = ?", (arn,))
        return _decode_trail(rows[0][0]) if rows else None

    async def trails_of(self, account_id: str) -> list[Trail]:
        rows = await self._file.query(
            "SELECT body FROM control_trails WHERE account_id = ? ORDER BY name, home_region", (account_id,)
        )
        return [_decode_trail(body) for (body,) in rows]

    async def all(self) -> list[Trail]:
        return [
            _decode_trail(body)
            for (body,) in await self._file.query("SELECT body FROM control_trails ORDER BY arn")
        ]

    async def status(self, arn: str) -> TrailStatus:
        rows = await self._file.query("SELECT body FROM control_trail_status WHERE arn = ?", (arn,))
        return _decode_status(rows[0][0] if rows else None)

    async def update_status(self, arn: str, **changes: Any) -> TrailStatus:
        """Apply ``changes`` in one transaction (no lost update between concurrent writers).

        A trail deleted meanwhile is left deleted: the changed status is returned, not stored.
        """
        unknown = set(changes) - _STATUS_FIELDS
        if unknown:
            raise TypeError(f"TrailStatus has no field(s) {sorted(unknown)}")

        def apply(conn: sqlite3.Connection) -> TrailStatus:
            row = conn.execute("SELECT body FROM control_trail_status WHERE arn = ?", (arn,)).fetchone()
            status = dataclasses.replace(_decode_status(row[0] if row else None), **changes)
            if conn.execute("SELECT 1 FROM control_trails WHERE arn = ?", (arn,)).fetchone():
                conn.execute(
                    "INSERT OR REPLACE INTO control_trail_status VALUES (?, ?)", (arn, _encode_status(status))
                )
            return status

        return await self._file.write(apply)
