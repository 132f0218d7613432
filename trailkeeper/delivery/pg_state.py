"""Delivery state in PostgreSQL: the same cursors, manifests, delivered files and outbox as the SQLite
state, shared by every delivery worker.

Every method is one transaction, durable when it returns. What moves a trail's delivery forward
(``save_manifest``, ``advance``, ``commit``) first checks, under ``FOR SHARE``, that this worker
holds the trail's delivery lease (``pgstate/leases.py``): a worker that paused past its lease and
wakes up after another took over cannot write. ``save_manifest`` also refuses a batch planned
from a cursor that has moved on since (compare-and-set), so two plans of the same events never
both land. The outbox hands each due notice to one worker at a time: ``due`` claims the rows it
returns (``FOR UPDATE SKIP LOCKED``, not due again for ``CLAIM_MS``), so a worker that dies while
sending leaves its notices to the others once the claim runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, LiteralString

import orjson

from trailkeeper.delivery.base import DeliveredFile, Notice
from trailkeeper.delivery.state import _FILE_COLUMNS, Manifest, StateError, _file_of
from trailkeeper.pgstate.db import Cursor, PgDatabase
from trailkeeper.pgstate.leases import PgLeases, delivery_lease

__all__ = ["CLAIM_MS", "PgDeliveryState"]

CLAIM_MS = 30_000  # a claimed notice is due again after this: three sink timeouts (10 s each)

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        'CREATE TABLE delivery_cursors (trail_arn text COLLATE "C" PRIMARY KEY, seq bigint NOT NULL)',
        'CREATE TABLE delivery_manifests (trail_arn text COLLATE "C" PRIMARY KEY, body bytea NOT NULL)',
        """CREATE TABLE delivery_files (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            trail_arn text COLLATE "C" NOT NULL, bucket text NOT NULL, key text NOT NULL,
            account_id text NOT NULL, region text NOT NULL, sha256 text NOT NULL, oldest_ms bigint NOT NULL,
            newest_ms bigint NOT NULL, delivered_ms bigint NOT NULL, seqs bytea NOT NULL,
            UNIQUE (bucket, key))""",
        "CREATE INDEX delivery_files_by_trail ON delivery_files (trail_arn, delivered_ms)",
        "CREATE INDEX delivery_files_by_trail_id ON delivery_files (trail_arn, id)",
        """CREATE TABLE delivery_outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            sink text NOT NULL, trail_arn text NOT NULL, file_ids bytea NOT NULL,
            attempts integer NOT NULL DEFAULT 0, not_before_ms bigint NOT NULL DEFAULT 0, last_error text)""",
        "CREATE INDEX delivery_outbox_due ON delivery_outbox (sink, not_before_ms, id)",
    ),
)
_INSERT_FILE = (
    f"INSERT INTO delivery_files ({_FILE_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id"  # noqa: S608
)
_CLAIM = """UPDATE delivery_outbox o SET not_before_ms = %(until)s FROM (
        SELECT id, not_before_ms FROM delivery_outbox WHERE sink = %(sink)s AND not_before_ms <= %(now)s
        ORDER BY not_before_ms, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) due
    WHERE o.id = due.id
    RETURNING o.id, o.sink, o.trail_arn, o.file_ids, o.attempts, due.not_before_ms, o.last_error"""


class PgDeliveryState:
    """The delivery state in the shared database; also the ``Outbox`` the sink runners read."""

    def __init__(self, db: PgDatabase, leases: PgLeases | None = None) -> None:
        self._db, self._leases = db, leases

    def describe(self) -> str:
        return f"pg-delivery({self._db.describe()})"

    async def open(self) -> None:
        await self._db.open()
        try:
            await self._db.migrate("delivery", _MIGRATIONS)
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        await self._db.close()

    # -- cursors and manifests ---------------------------------------------------------------------

    async def cursor(self, trail_arn: str) -> int:
        rows = await self._query("SELECT seq FROM delivery_cursors WHERE trail_arn = %s", (trail_arn,))
        return int(rows[0][0]) if rows else 0

    async def manifest(self, trail_arn: str) -> Manifest | None:
        rows = await self._query("SELECT body FROM delivery_manifests WHERE trail_arn = %s", (trail_arn,))
        return Manifest.decode(rows[0][0]) if rows else None

    async def manifests(self) -> list[Manifest]:
        rows = await self._query("SELECT body FROM delivery_manifests ORDER BY trail_arn", ())
        return [Manifest.decode(row[0]) for row in rows]

    async def save_manifest(self, manifest: Manifest) -> None:
        def insert(cur: Cursor) -> None:
            self._fence(cur, manifest.trail_arn)
            row = cur.execute(
                "SELECT seq FROM delivery_cursors WHERE trail_arn = %s", (manifest.trail_arn,)
            ).fetchone()
            if row is not None and int(row[0]) > manifest.after_seq:
                raise StateError(
                    f"trail {manifest.trail_arn} moved past {manifest.after_seq} since the batch was planned"
                )
            cur.execute(
                "INSERT INTO delivery_manifests VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (manifest.trail_arn, manifest.encode()),
            )
            if cur.rowcount != 1:
                raise StateError(f"trail {manifest.trail_arn} already has a batch in flight")

        await self._db.run(insert)

    async def advance(self, trail_arn: str, to_seq: int) -> None:
        def move(cur: Cursor) -> None:
            self._fence(cur, trail_arn)
            _set_cursor(cur, trail_arn, to_seq)

        await self._db.run(move)

    async def commit(
        self, manifest: Manifest, files: Sequence[DeliveredFile], sinks: Sequence[str]
    ) -> list[int]:
        def run(cur: Cursor) -> list[int]:
            self._fence(cur, manifest.trail_arn)
            # The manifest row is the batch's token: deleting exactly it makes a second commit impossible.
            cur.execute(
                "DELETE FROM delivery_manifests WHERE trail_arn = %s AND body = %s",
                (manifest.trail_arn, manifest.encode()),
            )
            if cur.rowcount != 1:
                raise StateError(
                    f"no pending batch {manifest.after_seq}..{manifest.to_seq} of {manifest.trail_arn}"
                )
            _set_cursor(cur, manifest.trail_arn, manifest.to_seq)
            ids = [_insert_file(cur, f) for f in files]
            if not ids:
                return []
            return [_enqueue_ids(cur, sink, manifest.trail_arn, ids) for sink in sinks]

        return await self._db.run(run)

    async def files(
        self, trail_arn: str, since_ms: int = 0, until_ms: int | None = None
    ) -> list[DeliveredFile]:
        sql: LiteralString = (
            f"SELECT {_FILE_COLUMNS} FROM delivery_files WHERE trail_arn = %s AND delivered_ms >= %s"  # noqa: S608
        )
        args: list[object] = [trail_arn, since_ms]
        if until_ms is not None:
            sql, args = f"{sql} AND delivered_ms < %s", [*args, until_ms]
        return [_file_of(row) for row in await self._query(f"{sql} ORDER BY delivered_ms, id", args)]

    async def files_after(self, trail_arn: str, after_id: int) -> list[tuple[int, DeliveredFile]]:
        """The trail's files indexed after row ``after_id``, in id order.

        A trail's batches commit one at a time (one manifest in flight, under its lease), so within
        one trail ids grow in commit order, as the digest writer needs.
        """
        sql: LiteralString = (
            f"SELECT id, {_FILE_COLUMNS} FROM delivery_files WHERE trail_arn = %s AND id > %s ORDER BY id"  # noqa: S608
        )
        return [(row[0], _file_of(row[1:])) for row in await self._query(sql, (trail_arn, after_id))]

    async def last_file_id(self, trail_arn: str, before_ms: int) -> int:
        sql: LiteralString = "SELECT max(id) FROM delivery_files WHERE trail_arn = %s AND delivered_ms < %s"
        rows = await self._query(sql, (trail_arn, before_ms))
        return int(rows[0][0] or 0)

    # -- outbox ------------------------------------------------------------------------------------

    async def enqueue(self, sink: str, trail_arn: str, files: Sequence[DeliveredFile]) -> int:
        def run(cur: Cursor) -> int:
            ids: list[int] = []
            for f in files:
                row = cur.execute(
                    "SELECT id FROM delivery_files WHERE bucket = %s AND key = %s", (f.bucket, f.key)
                ).fetchone()
                ids.append(int(row[0]) if row else _insert_file(cur, f))
            return _enqueue_ids(cur, sink, trail_arn, ids)

        return await self._db.run(run)

    async def due(self, sink: str, now_ms: int, limit: int) -> list[Notice]:
        def claim(cur: Cursor) -> list[Notice]:
            args = {"sink": sink, "now": now_ms, "limit": limit, "until": now_ms + CLAIM_MS}
            rows = sorted(cur.execute(_CLAIM, args).fetchall(), key=lambda r: (r[5], r[0]))
            notices: list[Notice] = []
            for notice_id, name, arn, blob, attempts, not_before, error in rows:
                ids: list[int] = orjson.loads(blob)
                found = cur.execute(
                    f"SELECT id, {_FILE_COLUMNS} FROM delivery_files WHERE id = ANY(%s)",  # noqa: S608
                    (ids,),
                ).fetchall()
                by_id = {row[0]: _file_of(row[1:]) for row in found}
                files = tuple(by_id[i] for i in ids if i in by_id)
                notices.append(Notice(notice_id, name, arn, files, attempts, not_before, error))
            return notices

        return await self._db.run(claim)

    async def done(self, notice_id: int) -> None:
        await self._db.run(lambda cur: cur.execute("DELETE FROM delivery_outbox WHERE id = %s", (notice_id,)))

    async def retry(self, notice_id: int, *, not_before_ms: int, error: str) -> None:
        sql: LiteralString = (
            "UPDATE delivery_outbox SET attempts = attempts + 1, not_before_ms = %s, last_error = %s"
            " WHERE id = %s"
        )
        await self._db.run(lambda cur: cur.execute(sql, (not_before_ms, error, notice_id)))

    async def pending(self, sink: str) -> int:
        rows = await self._query("SELECT count(*) FROM delivery_outbox WHERE sink = %s", (sink,))
        return int(rows[0][0])

    # -- plumbing ----------------------------------------------------------------------------------

    def _fence(self, cur: Cursor, trail_arn: str) -> None:
        if self._leases is not None:
            self._leases.held(cur, delivery_lease(trail_arn))

    async def _query(self, sql: LiteralString, args: Sequence[object]) -> list[tuple[Any, ...]]:
        return await self._db.run(lambda cur: cur.execute(sql, args).fetchall())


def _set_cursor(cur: Cursor, trail_arn: str, seq: int) -> None:
    # GREATEST: a cursor never moves back, whatever order two writers would commit in.
    cur.execute(
        "INSERT INTO delivery_cursors VALUES (%s, %s)"
        " ON CONFLICT (trail_arn) DO UPDATE SET seq = GREATEST(delivery_cursors.seq, excluded.seq)",
        (trail_arn, seq),
    )


def _insert_file(cur: Cursor, f: DeliveredFile) -> int:
    row = (f.trail_arn, f.bucket, f.key, f.account_id, f.region, f.sha256, f.oldest_event_ms,
           f.newest_event_ms, f.delivered_ms, orjson.dumps(list(f.seqs)))  # fmt: skip
    found = cur.execute(_INSERT_FILE, row).fetchone()
    assert found is not None
    return int(found[0])


def _enqueue_ids(cur: Cursor, sink: str, trail_arn: str, file_ids: list[int]) -> int:
    sql: LiteralString = (
        "INSERT INTO delivery_outbox (sink, trail_arn, file_ids) VALUES (%s, %s, %s) RETURNING id"
    )
    row = cur.execute(sql, (sink, trail_arn, orjson.dumps(file_ids))).fetchone()
    assert row is not None
    return int(row[0])
