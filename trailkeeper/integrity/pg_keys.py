"""Digest signing keys in PostgreSQL: every node sharing the journal signs and lists the same keys.

Table ``signing_keys`` (in the journal's database and schema): one row per key, numbered per
region by ``generation`` (1 = the region's first key), with its public half and validity window
in the clear and its private half sealed (``key_seal.py``) under a key derived from the
``digest-signing-key-seal`` secret in the journal's ``secrets`` table (made by the first node
that needs it; see docs/deploy.md for what that does and does not protect against).

Same rules as the key folder (``keys.py``): 30-day windows, the newest key whose window holds
``now`` signs, ``rotate`` ends the current window and starts a new key. Races between nodes are
settled by the primary key (region, generation): a node that finds no valid key inserts the next
generation with ``ON CONFLICT DO NOTHING`` and then re-reads, so two nodes making a region's first
key at once end with one key, the winner's, and both sign with it. Rotations of one region take
an advisory lock so they run one after the other.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, LiteralString

from cryptography.hazmat.primitives.asymmetric import rsa

from trailkeeper.integrity.key_seal import SECRET_BYTES, seal_private_key, unseal_private_key
from trailkeeper.integrity.keys import (
    KeyStoreError,
    PublicKey,
    SigningKey,
    check_region,
    current_of,
    new_key_pair,
)
from trailkeeper.pgstate.db import Cursor, PgDatabase

__all__ = ["SEAL_SECRET_NAME", "PgKeyStore"]

SEAL_SECRET_NAME = "digest-signing-key-seal"
_LOCK_SPACE = 0x746B6B79  # "tkky": pg_advisory_xact_lock(_LOCK_SPACE, hashtext(region)) while rotating
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE signing_keys (region text COLLATE "C" NOT NULL, generation integer NOT NULL,
            fingerprint text COLLATE "C" NOT NULL UNIQUE, start_ms bigint NOT NULL,
            end_ms bigint NOT NULL, public_der bytea NOT NULL, sealed_private bytea NOT NULL,
            PRIMARY KEY (region, generation))""",
    ),
)
_COLUMNS: LiteralString = "region, generation, fingerprint, start_ms, end_ms, public_der, sealed_private"
_INSERT: LiteralString = f"""INSERT INTO signing_keys ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (region, generation) DO NOTHING RETURNING generation"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class _Row:
    public: PublicKey
    generation: int
    sealed: bytes


def _row(values: Sequence[Any]) -> _Row:
    region, generation, fingerprint, start_ms, end_ms, der, sealed = values
    public = PublicKey(str(region), str(fingerprint), bytes(der), int(start_ms), int(end_ms))
    return _Row(public, int(generation), bytes(sealed))


def _region_rows(cur: Cursor, region: str) -> list[_Row]:
    sql: LiteralString = f"SELECT {_COLUMNS} FROM signing_keys WHERE region = %s ORDER BY generation"  # noqa: S608
    return [_row(values) for values in cur.execute(sql, (region,)).fetchall()]


def _insert(cur: Cursor, generation: int, public: PublicKey, sealed: bytes) -> bool:
    args = (public.region, generation, public.fingerprint, public.start_ms, public.end_ms, public.der, sealed)
    return cur.execute(_INSERT, args).fetchone() is not None


def _signer(rows: list[_Row], region: str, now_ms: int) -> _Row | None:
    """The row that signs at ``now_ms``. Failing that, the newest key not yet ended: one another node
    just made, whose window starts a little after ``now_ms`` by this node's clock (clock skew)."""
    by_fingerprint = {row.public.fingerprint: row for row in rows}
    found = current_of((row.public for row in rows), region, now_ms)
    if found is not None:
        return by_fingerprint[found.fingerprint]
    ahead = [row for row in rows if row.public.end_ms > now_ms]
    return max(ahead, key=lambda row: row.generation, default=None)


class PgKeyStore:
    """The ``signing_keys`` table of the shared database (see the module docstring)."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        self._migrated = False  # one migration per process, not per ListPublicKeys call
        self._secret: bytes | None = None  # a stored secret never changes (first insert wins)
        # fingerprint -> key; a sealed key never changes. Touched on the event loop's thread only.
        self._private: dict[str, rsa.RSAPrivateKey] = {}

    def describe(self) -> str:
        return f"pg-signing-keys({self._db.describe()})"

    async def open(self) -> None:
        await self._db.open()
        if self._migrated:
            return
        try:
            await self._db.migrate("signing_keys", _MIGRATIONS)
        except BaseException:
            await self._db.close()
            raise
        self._migrated = True

    async def close(self) -> None:
        await self._db.close()

    async def public_keys(self, region: str, start_ms: int, end_ms: int) -> list[PublicKey]:
        sql: LiteralString = (
            "SELECT region, fingerprint, public_der, start_ms, end_ms FROM signing_keys"
            " WHERE region = %s AND start_ms <= %s AND %s <= end_ms ORDER BY start_ms, generation"
        )
        rows = await self._db.run(lambda cur: cur.execute(sql, (region, end_ms, start_ms)).fetchall())
        return [PublicKey(str(r), str(f), bytes(d), int(s), int(e)) for r, f, d, s, e in rows]

    async def regions(self) -> list[str]:
        sql: LiteralString = "SELECT DISTINCT region FROM signing_keys ORDER BY region"
        return [str(row[0]) for row in await self._db.run(lambda cur: cur.execute(sql).fetchall())]

    async def current(self, region: str, now_ms: int) -> SigningKey:
        check_region(region)
        rows = await self._db.run(lambda cur: _region_rows(cur, region))
        found = _signer(rows, region, now_ms)
        if found is None:
            found = await self._create_first(region, now_ms, max((r.generation for r in rows), default=0) + 1)
        return SigningKey(found.public, await self._private_key(found))

    async def rotate(self, regions: Iterable[str], now_ms: int) -> list[PublicKey]:
        wanted = sorted(set(regions))
        for region in wanted:
            check_region(region)
        secret = await self._seal_secret()
        made: list[tuple[PublicKey, bytes]] = []
        for region in wanted:  # RSA generation is slow: before the transaction, not inside it
            public, private = await asyncio.to_thread(new_key_pair, region, now_ms)
            made.append((public, seal_private_key(secret, public, private)))
            self._private[public.fingerprint] = private

        def rotate_all(cur: Cursor) -> None:
            for public, sealed in made:
                _rotate_region(cur, public, sealed, now_ms)

        await self._db.run(rotate_all)  # every region or none
        return [public for public, _ in made]

    async def _create_first(self, region: str, now_ms: int, generation: int) -> _Row:
        """Insert the next generation unless another node got there first; the row that signs now."""
        public, private = await asyncio.to_thread(new_key_pair, region, now_ms)
        sealed = seal_private_key(await self._seal_secret(), public, private)

        def insert_then_reread(cur: Cursor) -> _Row | None:
            # READ COMMITTED: a conflicting insert in flight is waited for, and the SELECT after it
            # (a new snapshot) sees the winner's row.
            _insert(cur, generation, public, sealed)
            return _signer(_region_rows(cur, region), region, now_ms)

        found = await self._db.run(insert_then_reread)
        if found is None:  # only if every key of the region ended before now_ms and ours lost too
            raise KeyStoreError(f"no signing key of {region} is valid at {now_ms}: try again")
        if found.public.fingerprint == public.fingerprint:
            self._private[public.fingerprint] = private  # ours won: no need to unseal it again
        return found

    async def _private_key(self, row: _Row) -> rsa.RSAPrivateKey:
        cached = self._private.get(row.public.fingerprint)
        if cached is not None:
            return cached
        loaded = unseal_private_key(await self._seal_secret(), row.public, row.sealed)
        self._private[row.public.fingerprint] = loaded
        return loaded

    async def _seal_secret(self) -> bytes:
        if self._secret is None:
            self._secret = await self._db.run(_shared_secret)
        return self._secret


def _rotate_region(cur: Cursor, public: PublicKey, sealed: bytes, now_ms: int) -> None:
    """End the region's keys valid at ``now_ms`` there, then add ``public`` as the next generation."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_SPACE, public.region))
    end: LiteralString = (
        "UPDATE signing_keys SET end_ms = %s WHERE region = %s AND start_ms <= %s AND %s < end_ms"
    )
    for _ in range(3):
        # A first-use insert (current(), which takes no lock) may commit between our read and our
        # insert: the insert then does nothing, and the next attempt ends that key too.
        cur.execute(end, (now_ms, public.region, now_ms, now_ms))
        row = cur.execute(
            "SELECT coalesce(max(generation), 0) + 1 FROM signing_keys WHERE region = %s", (public.region,)
        ).fetchone()
        if _insert(cur, int(row[0]) if row else 1, public, sealed):
            return
    raise KeyStoreError(f"rotating the key of {public.region} kept losing to other nodes: try again")


def _shared_secret(cur: Cursor) -> bytes:
    """The sealing secret every node shares, from the journal's ``secrets`` table (the first insert wins)."""
    table = cur.execute("SELECT to_regclass('secrets')").fetchone()
    if table is None or table[0] is None:
        raise KeyStoreError(
            "the journal's tables are not in this database yet: start `trailkeeper serve --journal …` once"
        )
    cur.execute(
        "INSERT INTO secrets VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
        (SEAL_SECRET_NAME, secrets.token_bytes(SECRET_BYTES)),
    )
    row = cur.execute("SELECT value FROM secrets WHERE name = %s", (SEAL_SECRET_NAME,)).fetchone()
    if row is None:
        raise KeyStoreError(f"secret {SEAL_SECRET_NAME} vanished")
    return bytes(row[0])
