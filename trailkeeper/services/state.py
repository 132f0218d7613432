"""Where control-plane state lives: Settings in; the trail store, delivery state, digest chains, digest
signing keys, console sessions and leases out.

The journal URL decides. With SQLite (one node) they are tables in ``<data_dir>/state.sqlite3``
(the signing keys: files in ``<data_dir>/keys``) and no leases are needed. With PostgreSQL they
live in the journal's database and schema, in tables of their own, so every gateway and delivery
worker sharing the journal shares them too; units of background work are then leased
(``pgstate/leases.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from trailkeeper.config import Settings
from trailkeeper.console.sessions import Sessions, SessionStore
from trailkeeper.control.store import TrailStore
from trailkeeper.delivery.store import DeliveryStore
from trailkeeper.integrity.chain_store import ChainStore
from trailkeeper.integrity.key_store import FileKeyStore, SigningKeyStore
from trailkeeper.pgstate.leases import NO_LEASES, Leases

__all__ = ["STATE_FILE", "StateBackend", "state_backend"]

STATE_FILE = "state.sqlite3"
_POSTGRES = ("postgresql://", "postgres://")
LEASE_SECONDS = 15.0  # a dead worker's trails are taken over this long after its last renewal


class StateBackend(Protocol):
    """Makes each component's store (not yet opened: each component opens and closes its own)."""

    shared: bool  # True when several nodes share the state (and must hold leases)
    leases: Leases

    def describe(self) -> str: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def trail_store(self) -> TrailStore: ...

    def delivery_state(self) -> DeliveryStore: ...

    def chain_state(self) -> ChainStore: ...

    def console_sessions(self) -> Sessions: ...

    def signing_keys(self) -> SigningKeyStore:
        """The backend's one key store: every caller opens and closes it, all share its key cache."""
        ...


def state_backend(settings: Settings) -> StateBackend:
    url = settings.journal_url
    if url is not None and url.startswith(_POSTGRES):
        return _Postgres(url)
    return _Sqlite(settings.data_dir)


class _Sqlite:
    shared = False
    leases: Leases = NO_LEASES

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / STATE_FILE
        self._keys = FileKeyStore.in_data_dir(data_dir)  # <data_dir>/keys, as ever

    def describe(self) -> str:
        return f"sqlite({self._path}), single node"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def trail_store(self) -> TrailStore:
        from trailkeeper.control.sqlite_store import SqliteTrailStore

        return SqliteTrailStore(self._path)

    def delivery_state(self) -> DeliveryStore:
        from trailkeeper.delivery.state import DeliveryState

        return DeliveryState(self._path)

    def chain_state(self) -> ChainStore:
        from trailkeeper.integrity.chain import ChainState

        return ChainState(self._path)

    def console_sessions(self) -> Sessions:
        return SessionStore(self._path)

    def signing_keys(self) -> SigningKeyStore:
        return self._keys


class _Postgres:
    shared = True

    def __init__(self, url: str) -> None:
        from trailkeeper.pgstate.db import PgDatabase
        from trailkeeper.pgstate.leases import PgLeases

        self._db = PgDatabase(url)
        self._pg_leases = PgLeases(self._db, LEASE_SECONDS)
        self.leases: Leases = self._pg_leases
        self._keys: SigningKeyStore | None = None

    def describe(self) -> str:
        return f"postgresql {self._db.describe()}, shared by every node ({self._pg_leases.describe()})"

    async def open(self) -> None:
        await self._pg_leases.open()

    async def close(self) -> None:
        await self._pg_leases.close()

    def trail_store(self) -> TrailStore:
        from trailkeeper.control.pg_store import PgTrailStore

        return PgTrailStore(self._db)

    def delivery_state(self) -> DeliveryStore:
        from trailkeeper.delivery.pg_state import PgDeliveryState

        return PgDeliveryState(self._db, self._pg_leases)

    def chain_state(self) -> ChainStore:
        from trailkeeper.integrity.pg_chain import PgChainState

        return PgChainState(self._db, self._pg_leases)

    def console_sessions(self) -> Sessions:
        from trailkeeper.console.pg_sessions import PgSessionStore

        return PgSessionStore(self._db)

    def signing_keys(self) -> SigningKeyStore:
        # One instance per process: it migrates once and caches unsealed private keys, and
        # ListPublicKeys opens it on every call.
        if self._keys is None:
            from trailkeeper.integrity.pg_keys import PgKeyStore

            self._keys = PgKeyStore(self._db)
        return self._keys
