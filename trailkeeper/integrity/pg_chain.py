"""Digest chain state in PostgreSQL: the SQLite chain table's rows and transitions, shared by every worker.

Same contract as ``chain.py``. The digest writer runs a trail's round under the trail's digest
lease (``pgstate/leases.py``); ``open_chain``, ``plan``, ``commit`` and ``drop`` check that lease
inside their transaction, so a worker that lost it (paused, then woken after another took over)
cannot fork the chain with a stale link.
"""

from __future__ import annotations

from typing import LiteralString

from trailkeeper.integrity.chain import _COLUMNS, Chain, ChainError, PendingDigest, _chain_of, _link_blob
from trailkeeper.pgstate.db import Cursor, PgDatabase
from trailkeeper.pgstate.leases import PgLeases, digest_lease

__all__ = ["PgChainState"]

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE digest_chains (trail_arn text COLLATE "C" NOT NULL, account_id text NOT NULL,
            region text NOT NULL, is_open boolean NOT NULL, session_ms bigint NOT NULL,
            end_ms bigint NOT NULL, last_file_id bigint NOT NULL, previous bytea, pending bytea,
            PRIMARY KEY (trail_arn, account_id, region))""",
    ),
)
_WHERE: LiteralString = "trail_arn = %s AND account_id = %s AND region = %s"


class PgChainState:
    """The chain table in the shared database (see the module docstring)."""

    def __init__(self, db: PgDatabase, leases: PgLeases | None = None) -> None:
        self._db, self._leases = db, leases

    def describe(self) -> str:
        return f"pg-digest-chains({self._db.describe()})"

    async def open(self) -> None:
        await self._db.open()
        try:
            await self._db.migrate("digests", _MIGRATIONS)
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        await self._db.close()

    async def all(self) -> list[Chain]:
        sql: LiteralString = f"SELECT {_COLUMNS} FROM digest_chains ORDER BY trail_arn, account_id, region"  # noqa: S608
        return [_chain_of(row) for row in await self._db.run(lambda cur: cur.execute(sql).fetchall())]

    async def open_chain(
        self, ident: tuple[str, str, str], *, session_ms: int, start_ms: int, floor_file_id: int
    ) -> None:
        def upsert(cur: Cursor) -> None:
            self._fence(cur, ident[0])
            cur.execute(
                "INSERT INTO digest_chains VALUES (%s, %s, %s, true, %s, %s, %s, NULL, NULL)"
                " ON CONFLICT (trail_arn, account_id, region) DO UPDATE SET is_open = true,"
                " session_ms = excluded.session_ms, end_ms = excluded.end_ms, previous = NULL,"
                " last_file_id = GREATEST(digest_chains.last_file_id, excluded.last_file_id)"
                " WHERE digest_chains.pending IS NULL",
                (*ident, session_ms, start_ms, floor_file_id),
            )

        await self._db.run(upsert)

    async def plan(self, ident: tuple[str, str, str], pending: PendingDigest) -> None:
        def store(cur: Cursor) -> None:
            self._fence(cur, ident[0])
            sql: LiteralString = f"UPDATE digest_chains SET pending = %s WHERE {_WHERE} AND pending IS NULL"  # noqa: S608
            if cur.execute(sql, (pending.encode(), *ident)).rowcount != 1:
                raise ChainError(f"chain {ident} is unknown or already has a digest in flight")

        await self._db.run(store)

    async def commit(self, ident: tuple[str, str, str], pending: PendingDigest) -> None:
        link = None if pending.closes else pending.digest.link()

        def advance(cur: Cursor) -> None:
            self._fence(cur, ident[0])
            sql: LiteralString = (
                "UPDATE digest_chains SET pending = NULL, end_ms = %s,"
                " last_file_id = GREATEST(last_file_id, %s), previous = %s, is_open = %s"
                " WHERE trail_arn = %s AND account_id = %s AND region = %s AND pending = %s"
            )
            args = (pending.end_ms, pending.upto_file_id, _link_blob(link), not pending.closes,
                    *ident, pending.encode())  # fmt: skip
            if cur.execute(sql, args).rowcount != 1:
                raise ChainError(f"chain {ident} has no such digest in flight")

        await self._db.run(advance)

    async def drop(self, trail_arn: str) -> None:
        def remove(cur: Cursor) -> None:
            self._fence(cur, trail_arn)
            cur.execute("DELETE FROM digest_chains WHERE trail_arn = %s", (trail_arn,))

        await self._db.run(remove)

    def _fence(self, cur: Cursor, trail_arn: str) -> None:
        if self._leases is not None:
            self._leases.held(cur, digest_lease(trail_arn))
