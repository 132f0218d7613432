"""Delivery state in SQLite: cursors, batch manifests, delivered files and notices in; durable rows out.

It lives in ``<data_dir>/state.sqlite3`` beside the trail store's tables, with tables of its own
(``delivery_*``) and its own schema-version row, so neither side's migrations touch the other's.
One connection on one thread serialises every statement; each method is one transaction, made
durable (``synchronous = FULL``) before it returns: a manifest exists on disk before any object
of its batch is written, and ``commit`` moves the cursor, records the files, queues the notices
and drops the manifest all at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from trailkeeper.delivery.base import DeliveredFile, Notice
from trailkeeper.errors import TrailkeeperError
from trailkeeper.sqlite_state import SqliteStateFile

__all__ = ["DeliveryState", "Manifest", "PlannedFile", "StateError"]

_T = TypeVar("_T")

# Migration i takes the delivery schema from version i to i + 1. Append; never edit a released one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE delivery_cursors (trail_arn TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT",
        "CREATE TABLE delivery_manifests (trail_arn TEXT PRIMARY KEY, body BLOB NOT NULL) STRICT",
        """CREATE TABLE delivery_files (id INTEGER PRIMARY KEY, trail_arn TEXT NOT NULL,
            bucket TEXT NOT NULL, key TEXT NOT NULL, account_id TEXT NOT NULL, region TEXT NOT NULL,
            sha256 TEXT NOT NULL, oldest_ms INTEGER NOT NULL, newest_ms INTEGER NOT NULL,
            delivered_ms INTEGER NOT NULL, seqs BLOB NOT NULL, UNIQUE (bucket, key)) STRICT""",
        "CREATE INDEX delivery_files_by_trail ON delivery_files (trail_arn, delivered_ms)",
        """CREATE TABLE delivery_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL,
            trail_arn TEXT NOT NULL, file_ids BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            not_before_ms INTEGER NOT NULL DEFAULT 0, last_error TEXT) STRICT""",
        "CREATE INDEX delivery_outbox_due ON delivery_outbox (sink, not_before_ms, id)",
    ),
)
_FILE_COLUMNS = "trail_arn, bucket, key, account_id, region, sha256, oldest_ms, newest_ms, delivered_ms, seqs"


class StateError(TrailkeeperError):
    """The delivery state disagrees with the caller (e.g. a manifest committed twice)."""


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One object a batch will write: its key and the journal events it holds."""

    key: str
    account_id: str
    region: str
    seqs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    """A batch, stored before its objects are written so a crash can redo exactly the same writes.

    ``after_seq`` is the trail's cursor when the batch was planned and ``to_seq`` its cursor once
    committed; events in between that are in none of ``files`` were outside the trail's scope.
    """

    trail_arn: str
    bucket: str
    after_seq: int
    to_seq: int
    delivered_ms: int
    sse: str
    kms_key_id: str | None
    files: tuple[PlannedFile, ...]

    def encode(self) -> bytes:
        files = [[f.key, f.account_id, f.region, list(f.seqs)] for f in self.files]
        head = [self.trail_arn, self.bucket, self.after_seq, self.to_seq, self.delivered_ms]
        return orjson.dumps([*head, self.sse, self.kms_key_id, files])

    @classmethod
    def decode(cls, blob: bytes) -> Manifest:
        arn, bucket, after_seq, to_seq, delivered_ms, sse, kms_key_id, files = orjson.loads(blob)
        planned = tuple(PlannedFile(key, acct, region, tuple(seqs)) for key, acct, region, seqs in files)
        return cls(arn, bucket, after_seq, to_seq, delivered_ms, sse, kms_key_id, planned)


class DeliveryState:
    """The SQLite delivery state; also the durable ``Outbox`` the sink runners read."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteStateFile(
            path,
            what="delivery state",
            thread_name="delivery-state",
            version_table="delivery_schema",
            migrations=_MIGRATIONS,
            error=StateError,
        )

    def describe(self) -> str:
        return f"sqlite({self._file.path})"

    async def open(self) -> None:
        await self._file.open()

    async def close(self) -> None:
        await self._file.close()

    # -- cursors and manifests ---------------------------------------------------------------------

    async def cursor(self, trail_arn: str) -> int:
        """The last journal seq this trail has dealt with (delivered or found out of scope)."""
        row = await self._file.query("SELECT seq FROM delivery_cursors WHERE trail_arn = ?", (trail_arn,))
        return int(row[0][0]) if row else 0

    async def manifest(self, trail_arn: str) -> Manifest | None:
        rows = await self._file.query("SELECT body FROM delivery_manifests WHERE trail_arn = ?", (trail_arn,))
        return Manifest.decode(rows[0][0]) if rows else None

    async def manifests(self) -> list[Manifest]:
        """Every batch planned and not committed (left by a crash, an outage or a deleted trail)."""
        rows = await self._file.query("SELECT body FROM delivery_manifests ORDER BY trail_arn", ())
        return [Manifest.decode(row[0]) for row in rows]

    async def save_manifest(self, manifest: Manifest) -> None:
        """Store a planned batch; refused if the trail still has one (one batch in flight per trail)."""
        await self._file.write(lambda c: _insert_manifest(c, manifest))

    async def advance(self, trail_arn: str, to_seq: int) -> None:
        """Move the cursor past events none of which belong in the trail's files (no manifest needed)."""
        await self._file.write(lambda c: _set_cursor(c, trail_arn, to_seq))

    async def commit(
        self, manifest: Manifest, files: Sequence[DeliveredFile], sinks: Sequence[str]
    ) -> list[int]:
        """In ONE transaction: cursor to ``manifest.to_seq``, index ``files``, queue one notice per sink,
        drop the manifest. Returns the notice ids. Raises StateError if the manifest is not pending."""
        return await self._file.write(lambda c: _commit(c, manifest, files, sinks))

    async def files(
        self, trail_arn: str, since_ms: int = 0, until_ms: int | None = None
    ) -> list[DeliveredFile]:
        """The trail's delivered files with ``since_ms <= delivered_ms < until_ms``, oldest first."""
        sql = f"SELECT {_FILE_COLUMNS} FROM delivery_files WHERE trail_arn = ? AND delivered_ms >= ?"  # noqa: S608
        args: list[object] = [trail_arn, since_ms]
        if until_ms is not None:
            sql, args = f"{sql} AND delivered_ms < ?", [*args, until_ms]
        return [_file_of(row) for row in await self._file.query(f"{sql} ORDER BY delivered_ms, id", args)]

    async def files_after(self, trail_arn: str, after_id: int) -> list[tuple[int, DeliveredFile]]:
        """The trail's files indexed after row ``after_id``, as (id, file), in commit order.

        Ids grow with every commit, so "after the last id seen" misses no file that a batch planned
        earlier commits later (the digest writer's need; a delivery time window could).
        """
        # "+trail_arn": walk the rowid range after ``after_id`` (recent rows), not the trail's index.
        sql = f"SELECT id, {_FILE_COLUMNS} FROM delivery_files WHERE id > ? AND +trail_arn = ? ORDER BY id"  # noqa: S608
        return [(row[0], _file_of(row[1:])) for row in await self._file.query(sql, (after_id, trail_arn))]

    async def last_file_id(self, trail_arn: str, before_ms: int) -> int:
        """The highest id among the trail's files delivered before ``before_ms`` (0 if none)."""
        sql = "SELECT max(id) FROM delivery_files WHERE trail_arn = ? AND delivered_ms < ?"
        rows = await self._file.query(sql, (trail_arn, before_ms))
        return int(rows[0][0] or 0)

    # -- outbox ------------------------------------------------------------------------------------

    async def enqueue(self, sink: str, trail_arn: str, files: Sequence[DeliveredFile]) -> int:
        """Queue a notice of already indexed ``files`` for ``sink``; returns its id."""
        return await self._file.write(lambda c: _enqueue_known(c, sink, trail_arn, files))

    async def due(self, sink: str, now_ms: int, limit: int) -> list[Notice]:
        return await self._file.run(lambda: _due(self._file.db(), sink, now_ms, limit))

    async def done(self, notice_id: int) -> None:
        await self._file.write(lambda c: c.execute("DELETE FROM delivery_outbox WHERE id = ?", (notice_id,)))

    async def retry(self, notice_id: int, *, not_before_ms: int, error: str) -> None:
        sql = "UPDATE delivery_outbox SET attempts = attempts + 1, not_before_ms = ?, last_error = ?"
        sql += " WHERE id = ?"
        await self._file.write(lambda c: c.execute(sql, (not_before_ms, error, notice_id)))

    async def pending(self, sink: str) -> int:
        rows = await self._file.query("SELECT count(*) FROM delivery_outbox WHERE sink = ?", (sink,))
        return int(rows[0][0])


def _set_cursor(conn: sqlite3.Connection, trail_arn: str, seq: int) -> None:
    # max(): a cursor never moves back, whatever order two writers would commit in.
    conn.execute(
        "INSERT INTO delivery_cursors VALUES (?, ?)"
        " ON CONFLICT (trail_arn) DO UPDATE SET seq = max(seq, excluded.seq)",
        (trail_arn, seq),
    )


def _insert_manifest(conn: sqlite3.Connection, manifest: Manifest) -> None:
    try:
        conn.execute("INSERT INTO delivery_manifests VALUES (?, ?)", (manifest.trail_arn, manifest.encode()))
    except sqlite3.IntegrityError as err:
        raise StateError(f"trail {manifest.trail_arn} already has a batch in flight") from err


def _commit(
    conn: sqlite3.Connection, manifest: Manifest, files: Sequence[DeliveredFile], sinks: Sequence[str]
) -> list[int]:
    # The manifest row is the batch's token: deleting exactly it makes a second commit impossible.
    token = (manifest.trail_arn, manifest.encode())
    gone = conn.execute("DELETE FROM delivery_manifests WHERE trail_arn = ? AND body = ?", token)
    if gone.rowcount != 1:
        raise StateError(f"no pending batch {manifest.after_seq}..{manifest.to_seq} of {manifest.trail_arn}")
    _set_cursor(conn, manifest.trail_arn, manifest.to_seq)
    ids = [_insert_file(conn, f) for f in files]
    if not ids:
        return []
    return [_enqueue_ids(conn, sink, manifest.trail_arn, ids) for sink in sinks]


def _insert_file(conn: sqlite3.Connection, f: DeliveredFile) -> int:
    row = (f.trail_arn, f.bucket, f.key, f.account_id, f.region, f.sha256, f.oldest_event_ms,
           f.newest_event_ms, f.delivered_ms, orjson.dumps(list(f.seqs)))  # fmt: skip
    cursor = conn.execute(f"INSERT INTO delivery_files ({_FILE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row)  # noqa: S608
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _enqueue_ids(conn: sqlite3.Connection, sink: str, trail_arn: str, file_ids: list[int]) -> int:
    sql = "INSERT INTO delivery_outbox (sink, trail_arn, file_ids) VALUES (?, ?, ?)"
    cursor = conn.execute(sql, (sink, trail_arn, orjson.dumps(file_ids)))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _enqueue_known(
    conn: sqlite3.Connection, sink: str, trail_arn: str, files: Sequence[DeliveredFile]
) -> int:
    ids: list[int] = []
    for f in files:
        sql = "SELECT id FROM delivery_files WHERE bucket = ? AND key = ?"
        row = conn.execute(sql, (f.bucket, f.key)).fetchone()
        ids.append(int(row[0]) if row else _insert_file(conn, f))
    return _enqueue_ids(conn, sink, trail_arn, ids)


def _due(conn: sqlite3.Connection, sink: str, now_ms: int, limit: int) -> list[Notice]:
    sql = """SELECT id, sink, trail_arn, file_ids, attempts, not_before_ms, last_error FROM delivery_outbox
             WHERE sink = ? AND not_before_ms <= ? ORDER BY not_before_ms, id LIMIT ?"""
    notices: list[Notice] = []
    for notice_id, name, arn, blob, attempts, not_before, error in conn.execute(sql, (sink, now_ms, limit)):
        ids: list[int] = orjson.loads(blob)
        marks = ",".join("?" * len(ids))
        rows = conn.execute(f"SELECT id, {_FILE_COLUMNS} FROM delivery_files WHERE id IN ({marks})", ids)  # noqa: S608
        by_id = {row[0]: _file_of(row[1:]) for row in rows}
        files = tuple(by_id[i] for i in ids if i in by_id)
        notices.append(Notice(notice_id, name, arn, files, attempts, not_before, error))
    return notices


def _file_of(row: Sequence[Any]) -> DeliveredFile:
    arn, bucket, key, account_id, region, sha256, oldest, newest, delivered, seqs = row
    return DeliveredFile(
        arn, bucket, key, account_id, region, sha256, oldest, newest, delivered, tuple(orjson.loads(seqs))
    )
