"""Leases: a unit of background work (one trail's delivery, one trail's digests) run by one worker at a time.

``run(name, work)`` takes the lease ``name`` (or skips the work when another live worker holds
it), renews it every third of its time while ``work`` runs, cancels ``work`` if a renewal finds
the lease gone, and releases it at the end. Expiry is judged by the database's clock, never a
node's. A worker killed mid-work keeps its lease until it expires; then any worker takes over
and finishes what the dead one left (the delivery manifest, the digest written ahead).

A lease alone does not fence a paused worker that wakes up after losing it: the PostgreSQL state
stores also check ``held(cur, name)`` inside the transactions that move a trail's delivery or
digest chain forward, under ``FOR SHARE`` so the lease cannot change hands before they commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from trailkeeper.errors import TrailkeeperError

if TYPE_CHECKING:
    from trailkeeper.pgstate.db import Cursor, PgDatabase

__all__ = [
    "LEASE_MIGRATIONS",
    "NO_LEASES",
    "LeaseLost",
    "Leases",
    "PgLeases",
    "delivery_lease",
    "digest_lease",
]

log = logging.getLogger("trailkeeper.leases")

LEASE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE state_leases (name text COLLATE "C" PRIMARY KEY, holder text NOT NULL,
            expires_at timestamptz NOT NULL)""",
    ),
)
_ACQUIRE = """INSERT INTO state_leases
    VALUES (%(name)s, %(holder)s, clock_timestamp() + %(ttl)s * interval '1 second')
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE state_leases.holder = excluded.holder OR state_leases.expires_at < clock_timestamp()
    RETURNING holder"""
_RENEW = """UPDATE state_leases SET expires_at = clock_timestamp() + %s * interval '1 second'
    WHERE name = %s AND holder = %s"""


def delivery_lease(trail_arn: str) -> str:
    """The lease of one trail's log file delivery (the engine's unit: one batch in flight per trail)."""
    return f"delivery:{trail_arn}"


def digest_lease(trail_arn: str) -> str:
    """The lease of one trail's digest chains."""
    return f"digest:{trail_arn}"


class LeaseLost(TrailkeeperError):
    """This worker no longer holds the lease its work needs (it expired and another worker took it)."""


class Leases(Protocol):
    def describe(self) -> str: ...

    async def run(self, name: str, work: Coroutine[Any, Any, None]) -> bool:
        """Run ``work`` under lease ``name``: False (``work`` closed unrun) if another worker holds it."""
        ...


class _NoLeases:
    """One process owns every unit (SQLite state): work always runs."""

    def describe(self) -> str:
        return "single node (no leases)"

    async def run(self, name: str, work: Coroutine[Any, Any, None]) -> bool:
        await work
        return True


NO_LEASES: Leases = _NoLeases()


class PgLeases:
    """Leases in the ``state_leases`` table; ``holder`` names this worker (host, pid, random)."""

    def __init__(self, db: PgDatabase, ttl_seconds: float) -> None:
        self._db, self.ttl = db, ttl_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def describe(self) -> str:
        return f"leases of {self.ttl:g}s in {self._db.describe()} as {self.holder}"

    async def open(self) -> None:
        await self._db.open()
        await self._db.migrate("leases", LEASE_MIGRATIONS)

    async def close(self) -> None:
        await self._db.close()

    async def acquire(self, name: str) -> bool:
        args = {"name": name, "holder": self.holder, "ttl": self.ttl}
        row = await self._db.run(lambda cur: cur.execute(_ACQUIRE, args).fetchone())
        return row is not None

    async def renew(self, name: str) -> bool:
        return await self._db.run(
            lambda cur: cur.execute(_RENEW, (self.ttl, name, self.holder)).rowcount == 1
        )

    async def release(self, name: str) -> None:
        sql = "DELETE FROM state_leases WHERE name = %s AND holder = %s"
        await self._db.run(lambda cur: cur.execute(sql, (name, self.holder)))

    def held(self, cur: Cursor, name: str) -> None:
        """Inside a state transaction: raise LeaseLost unless this worker holds ``name``.

        ``FOR SHARE`` keeps another worker from taking the lease until the transaction ends, so
        what the transaction writes is written by the lease's holder. Expiry is not checked: an
        expired lease nobody took over is still this worker's.
        """
        sql = "SELECT 1 FROM state_leases WHERE name = %s AND holder = %s FOR SHARE"
        if cur.execute(sql, (name, self.holder)).fetchone() is None:
            raise LeaseLost(f"lease {name} is no longer held by {self.holder}")

    async def run(self, name: str, work: Coroutine[Any, Any, None]) -> bool:
        if not await self.acquire(name):
            work.close()  # another worker has it: the coroutine never ran
            return False
        task = asyncio.ensure_future(work)
        lost = asyncio.Event()
        renewer = asyncio.create_task(self._renew_until_done(name, task, lost))
        try:
            await task  # cancelling us cancels the work too
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lost.is_set() and (current is None or not current.cancelling()):
                raise LeaseLost(f"lease {name} was lost mid-work") from None
            raise
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewer
            with contextlib.suppress(Exception):  # an unreleased lease simply expires
                await self.release(name)
        return True

    async def _renew_until_done(self, name: str, task: asyncio.Future[None], lost: asyncio.Event) -> None:
        """Renew every third of the lease time; set ``lost`` and cancel ``task`` once it is gone."""
        while not task.done():
            await asyncio.sleep(self.ttl / 3)
            try:
                ok = await self.renew(name)
            except Exception as err:  # the database is unreachable: keep trying until the lease runs out
                log.warning("renewing lease %s failed: %s", name, err)
                continue
            if not ok:
                log.warning("lease %s was taken over by another worker: stopping its work", name)
                lost.set()
                task.cancel()
                return
