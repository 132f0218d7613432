"""Control-plane state in PostgreSQL (real server, a fresh schema per test): trail store, delivery state,
leases with fencing, digest chains, console sessions; two "nodes" are two pools on one schema."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.unit.delivery.test_delivery_state import ARN, _delivered, _manifest
from tests.unit.journal.support import Backend, backend_of
from trailkeeper.capture.identity.principal import Principal
from trailkeeper.console.pg_sessions import PgSessionStore
from trailkeeper.console.sessions import ConsoleSession
from trailkeeper.control.model import Trail
from trailkeeper.control.pg_store import PgTrailStore
from trailkeeper.delivery.base import Outbox
from trailkeeper.delivery.pg_state import CLAIM_MS, PgDeliveryState
from trailkeeper.delivery.state import StateError
from trailkeeper.delivery.store import DeliveryStore
from trailkeeper.errors import AwsError
from trailkeeper.integrity.chain import ChainError, PendingDigest
from trailkeeper.integrity.digest import SignedDigest
from trailkeeper.integrity.pg_chain import PgChainState
from trailkeeper.pgstate.db import PgDatabase
from trailkeeper.pgstate.leases import LeaseLost, PgLeases, delivery_lease, digest_lease

A = "111122223333"


@pytest.fixture
def schema(tmp_path: Path) -> Iterator[Backend]:
    with backend_of("postgres", tmp_path) as store:
        yield store


@dataclasses.dataclass
class Node:
    db: PgDatabase
    leases: PgLeases
    trails: PgTrailStore
    delivery: PgDeliveryState
    chains: PgChainState
    sessions: PgSessionStore


@asynccontextmanager
async def node(url: str, ttl: float = 30.0) -> AsyncIterator[Node]:
    db = PgDatabase(url, size=2)
    leases = PgLeases(db, ttl)
    n = Node(
        db,
        leases,
        PgTrailStore(db),
        PgDeliveryState(db, leases),
        PgChainState(db, leases),
        PgSessionStore(db),
    )
    parts = (n.leases, n.trails, n.delivery, n.chains, n.sessions)
    for part in parts:
        await part.open()
    try:
        yield n
    finally:
        for part in reversed(parts):
            await part.close()


def _trail(name: str = "main") -> Trail:
    return Trail(account_id=A, home_region="us-east-1", name=name, s3_bucket="logs")


def test_protocols_hold() -> None:
    db = PgDatabase("postgresql://127.0.0.1/x")
    store: DeliveryStore = PgDeliveryState(db)  # mypy checks the protocols here
    outbox: Outbox = PgDeliveryState(db)
    assert store.describe() == f"pg-delivery({db.describe()})"
    assert outbox is not None


def test_trails_created_on_one_node_are_seen_and_updated_on_another(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location) as one, node(schema.location) as two:
            trail = _trail()
            await one.trails.create(trail)
            with pytest.raises(AwsError, match="already exists"):
                await two.trails.create(trail)
            assert await two.trails.get(trail.arn) == trail
            assert await two.trails.trails_of(A) == [trail]
            await two.trails.replace(dataclasses.replace(trail, s3_key_prefix="p"))
            assert (await one.trails.all())[0].s3_key_prefix == "p"
            # concurrent status updates from both nodes: none is lost
            await asyncio.gather(
                *(
                    n.trails.update_status(trail.arn, is_logging=True, logging_since_seq=7)
                    for n in (one, two)
                ),
                one.trails.update_status(trail.arn, latest_delivery_ms=5),
                two.trails.update_status(trail.arn, latest_digest_delivery_ms=6),
            )
            status = await one.trails.status(trail.arn)
            assert (status.is_logging, status.logging_since_seq, status.latest_delivery_ms) == (True, 7, 5)
            assert status.latest_digest_delivery_ms == 6
            assert await two.trails.delete(trail.arn)
            assert await one.trails.get(trail.arn) is None
            assert not await one.trails.delete(trail.arn)

    asyncio.run(scenario())


def test_leases_exclude_a_second_worker_until_expiry_and_fence_the_loser(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location, ttl=1.0) as one, node(schema.location, ttl=1.0) as two:
            name = delivery_lease(ARN)
            assert await one.leases.acquire(name)
            assert not await two.leases.acquire(name)  # held and not expired
            manifest = _manifest()
            await one.delivery.save_manifest(manifest)  # the holder may write
            with pytest.raises(Exception, match="no longer held"):
                await two.delivery.commit(manifest, _delivered(manifest), [])
            await asyncio.sleep(1.3)  # one "dies": its lease expires and two takes over
            assert await two.leases.acquire(name)
            with pytest.raises(Exception, match="no longer held"):  # one wakes up: fenced off
                await one.delivery.commit(manifest, _delivered(manifest), [])
            pending = await two.delivery.manifest(ARN)
            assert pending == manifest  # two finishes exactly the batch one planned
            await two.delivery.commit(manifest, _delivered(manifest), ["sns"])
            assert await one.delivery.cursor(ARN) == 10

    asyncio.run(scenario())


def test_run_skips_work_held_elsewhere_and_cancels_work_whose_lease_is_lost(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location, ttl=0.6) as one, node(schema.location, ttl=0.6) as two:
            ran: list[str] = []

            async def work(tag: str, seconds: float) -> None:
                ran.append(tag)
                await asyncio.sleep(seconds)
                ran.append(f"{tag}-done")

            name = delivery_lease(ARN)
            long = asyncio.create_task(one.leases.run(name, work("one", 1.5)))  # renewed while it runs
            await asyncio.sleep(0.9)  # past the lease time: renewals keep it
            assert not await two.leases.run(name, work("two", 0))
            assert await long
            assert ran == ["one", "one-done"]
            assert await two.leases.run(name, work("two", 0))  # released at the end

            # a lease stolen mid-work (as if renewals could not reach the database): the work stops
            async def steal() -> None:
                await asyncio.sleep(0.1)
                await one.db.run(lambda cur: cur.execute("UPDATE state_leases SET holder = 'someone-else'"))

            stolen = asyncio.create_task(steal())
            with pytest.raises(LeaseLost):
                await one.leases.run(name, work("three", 5))
            await stolen
            assert "three-done" not in ran

    asyncio.run(scenario())


def test_save_manifest_refuses_a_batch_planned_from_a_stale_cursor(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location) as one:
            assert await one.leases.acquire(delivery_lease(ARN))
            first = _manifest(after=0, to=10)
            await one.delivery.save_manifest(first)
            with pytest.raises(StateError, match="in flight"):
                await one.delivery.save_manifest(_manifest(after=0, to=12))
            await one.delivery.commit(first, _delivered(first), [])
            with pytest.raises(StateError, match="moved past"):  # planned from cursor 0, now at 10
                await one.delivery.save_manifest(_manifest(after=0, to=12))
            await one.delivery.save_manifest(_manifest(after=10, to=20))

    asyncio.run(scenario())


def test_outbox_hands_each_due_notice_to_one_worker_until_its_claim_runs_out(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location) as one, node(schema.location) as two:
            assert await one.leases.acquire(delivery_lease(ARN))
            manifest = _manifest()
            await one.delivery.save_manifest(manifest)
            [notice_id] = await one.delivery.commit(manifest, _delivered(manifest), ["sns"])
            [notice] = await one.delivery.due("sns", now_ms=1000, limit=10)
            assert notice.id == notice_id
            assert notice.files == tuple(_delivered(manifest))
            assert await two.delivery.due("sns", now_ms=1000, limit=10) == []  # claimed by one
            [again] = await two.delivery.due("sns", now_ms=1000 + CLAIM_MS, limit=10)  # one died
            await two.delivery.retry(again.id, not_before_ms=0, error="boom")
            [retried] = await one.delivery.due("sns", now_ms=1, limit=10)
            assert (retried.attempts, retried.last_error) == (1, "boom")
            await one.delivery.done(retried.id)
            assert await two.delivery.pending("sns") == 0
            assert [f.key for _, f in await two.delivery.files_after(ARN, 0)] == [
                f.key for f in _delivered(manifest)
            ]

    asyncio.run(scenario())


def test_digest_chain_transitions_are_fenced_by_the_digest_lease(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location) as one, node(schema.location) as two:
            ident = (ARN, A, "us-east-1")
            assert await one.leases.acquire(digest_lease(ARN))
            await one.chains.open_chain(ident, session_ms=1, start_ms=1000, floor_file_id=0)
            digest = SignedDigest("logs", "k1", b"", b"gz", "ab" * 32, "cd" * 32)
            pending = PendingDigest(digest, 2000, 5, False, "AES256", None)
            with pytest.raises(LeaseLost):
                await two.chains.plan(ident, pending)
            await one.chains.plan(ident, pending)
            with pytest.raises(ChainError, match="in flight"):
                await one.chains.plan(ident, pending)
            await one.chains.commit(ident, pending)
            [chain] = await two.chains.all()
            assert (chain.end_ms, chain.last_file_id, chain.pending, chain.is_open) == (2000, 5, None, True)
            assert chain.previous is not None
            assert chain.previous.key == "k1"

    asyncio.run(scenario())


def test_console_sessions_are_shared_between_nodes(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location) as one, node(schema.location) as two:
            principal = Principal(
                "IAMUser", A, f"arn:aws:iam::{A}:user/alice", "AIDA1", "ASIA1", "alice", None
            )
            session = ConsoleSession(principal, "us-east-1", 1000, 5000)
            sid = await one.sessions.create(session)
            assert await two.sessions.get(sid, 2000) == session
            assert await two.sessions.get(sid, 5000) is None  # expired
            await two.sessions.delete(sid)
            assert await one.sessions.get(sid, 2000) is None

    asyncio.run(scenario())
