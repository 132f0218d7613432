"""Digest chain state in SQLite: one row per (trail, account, region) in, durable chain links out.

It lives in ``<data_dir>/state.sqlite3`` beside the trail store and delivery tables, in a table of
its own (``digest_chains``) with its own schema-version row (``digest_schema``). A row says where
the chain stands: open or closed, the end of its last digest (the next one's start), the last
delivered-file id its digests cover, the link the next digest records (None: a starting digest),
and a digest written ahead (``pending``) whose object may or may not exist yet. ``commit`` makes a
pending digest the chain's head in one transaction, so a crash between the object write and the
commit is finished by writing the same bytes again: every digest lands exactly once.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from trailkeeper.errors import TrailkeeperError
from trailkeeper.integrity.digest import ChainLink, SignedDigest
from trailkeeper.sqlite_state import SqliteStateFile

__all__ = ["Chain", "ChainError", "ChainState", "PendingDigest"]

_T = TypeVar("_T")

# Migration i takes the digest schema from version i to i + 1. Append; never edit a released one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE digest_chains (trail_arn TEXT NOT NULL, account_id TEXT NOT NULL,
            region TEXT NOT NULL, is_open INTEGER NOT NULL, session_ms INTEGER NOT NULL,
            end_ms INTEGER NOT NULL, last_file_id INTEGER NOT NULL, previous BLOB, pending BLOB,
            PRIMARY KEY (trail_arn, account_id, region)) STRICT""",
    ),
)
_COLUMNS = "trail_arn, account_id, region, is_open, session_ms, end_ms, last_file_id, previous, pending"


class ChainError(TrailkeeperError):
    """The chain state disagrees with the caller (a second digest planned, an unknown chain)."""


@dataclass(frozen=True, slots=True)
class PendingDigest:
    """A signed digest stored before its object is written, and what committing it changes."""

    digest: SignedDigest
    end_ms: int
    upto_file_id: int  # the chain covers delivered files up to this id once committed
    closes: bool  # a final digest: the chain closes and the next digest is a starting one
    sse: str
    kms_key_id: str | None

    def encode(self) -> bytes:
        d = self.digest
        body = base64.b64encode(d.gzip_body).decode("ascii")
        head = [d.bucket, d.key, body, d.sha256, d.signature, self.end_ms, self.upto_file_id]
        return orjson.dumps([*head, self.closes, self.sse, self.kms_key_id])

    @classmethod
    def decode(cls, blob: bytes) -> PendingDigest:
        bucket, key, body, sha, signature, end_ms, upto, closes, sse, kms = orjson.loads(blob)
        # The uncompressed JSON is not kept: only the object bytes, its hash and signature are needed.
        digest = SignedDigest(bucket, key, b"", base64.b64decode(body), sha, signature)
        return cls(digest, end_ms, upto, bool(closes), sse, kms)


@dataclass(frozen=True, slots=True)
class Chain:
    trail_arn: str
    account_id: str
    region: str
    is_open: bool
    session_ms: int  # StartLogging time of the logging session the chain belongs to
    end_ms: int  # end of the last digest (the next digest's start)
    last_file_id: int  # delivered files with an id up to this one are covered (or predate the chain)
    previous: ChainLink | None  # what the next digest links to; None = a starting digest
    pending: PendingDigest | None

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.trail_arn, self.account_id, self.region)


def _link_blob(link: ChainLink | None) -> bytes | None:
    return None if link is None else orjson.dumps([link.bucket, link.key, link.sha256, link.signature])


def _chain_of(row: Sequence[Any]) -> Chain:
    arn, account, region, is_open, session_ms, end_ms, last_id, previous, pending = row
    link = ChainLink(*orjson.loads(previous)) if previous is not None else None
    planned = PendingDigest.decode(pending) if pending is not None else None
    return Chain(arn, account, region, bool(is_open), session_ms, end_ms, last_id, link, planned)


class ChainState:
    """The SQLite chain table (see the module docstring); every method is one durable transaction."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteStateFile(
            path,
            what="digest chain state",
            thread_name="digest-chains",
            version_table="digest_schema",
            migrations=_MIGRATIONS,
            error=ChainError,
        )

    def describe(self) -> str:
        return f"sqlite-digest-chains({self._file.path})"

    async def open(self) -> None:
        await self._file.open()

    async def close(self) -> None:
        await self._file.close()

    async def all(self) -> list[Chain]:
        sql = f"SELECT {_COLUMNS} FROM digest_chains ORDER BY trail_arn, account_id, region"  # noqa: S608
        return [
            _chain_of(row) for row in await self._file.run(lambda: self._file.db().execute(sql).fetchall())
        ]

    async def open_chain(
        self, ident: tuple[str, str, str], *, session_ms: int, start_ms: int, floor_file_id: int
    ) -> None:
        """(Re)open a chain: its next digest is a starting digest from ``start_ms`` covering the
        files after ``floor_file_id`` (never before what it already covered)."""

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO digest_chains VALUES (?, ?, ?, 1, ?, ?, ?, NULL, NULL)"
                " ON CONFLICT (trail_arn, account_id, region) DO UPDATE SET is_open = 1,"
                " session_ms = excluded.session_ms, end_ms = excluded.end_ms, previous = NULL,"
                " last_file_id = max(last_file_id, excluded.last_file_id) WHERE pending IS NULL",
                (*ident, session_ms, start_ms, floor_file_id),
            )

        await self._file.write(upsert)

    async def plan(self, ident: tuple[str, str, str], pending: PendingDigest) -> None:
        """Write ``pending`` ahead; refused if the chain already has a digest in flight."""

        def store(conn: sqlite3.Connection) -> None:
            sql = "UPDATE digest_chains SET pending = ? WHERE trail_arn = ? AND account_id = ? AND region = ?"
            if conn.execute(f"{sql} AND pending IS NULL", (pending.encode(), *ident)).rowcount != 1:
                raise ChainError(f"chain {ident} is unknown or already has a digest in flight")

        await self._file.write(store)

    async def commit(self, ident: tuple[str, str, str], pending: PendingDigest) -> None:
        """The pending digest is stored: make it the chain's head (or close the chain on a final one)."""
        link = None if pending.closes else pending.digest.link()

        def advance(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE digest_chains SET pending = NULL, end_ms = ?, last_file_id = max(last_file_id, ?),"
                " previous = ?, is_open = ? WHERE trail_arn = ? AND account_id = ? AND region = ?"
                " AND pending = ?",
                (pending.end_ms, pending.upto_file_id, _link_blob(link), int(not pending.closes),
                 *ident, pending.encode()),
            )  # fmt: skip
            if cursor.rowcount != 1:
                raise ChainError(f"chain {ident} has no such digest in flight")

        await self._file.write(advance)

    async def drop(self, trail_arn: str) -> None:
        """Forget a deleted trail's chains (a re-created trail of the same name starts afresh)."""
        await self._file.write(
            lambda c: c.execute("DELETE FROM digest_chains WHERE trail_arn = ?", (trail_arn,))
        )
