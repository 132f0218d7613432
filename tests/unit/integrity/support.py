"""Shared by the writer and validator tests: the delivery world (real journal, trail store, state, local
bucket, clock) plus the real chain state, key folder and digest writer on the same files."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.unit.delivery.support import BUCKET, World, world
from trailkeeper.config import DeliveryConfig, OrganizationConfig
from trailkeeper.control.model import Trail
from trailkeeper.integrity.chain import ChainState
from trailkeeper.integrity.key_store import FileKeyStore
from trailkeeper.integrity.keys import KeyStore
from trailkeeper.integrity.writer import DigestWriter

PERIOD_MS = 10_000


@dataclass(frozen=True)
class Found:
    """A digest as an outside reader sees it."""

    doc: dict[str, Any]
    metadata: dict[str, str]
    gzip_body: bytes
    body: bytes


@dataclass
class Digests:
    w: World
    chains: ChainState
    keys: KeyStore
    writer: DigestWriter

    async def start(self, t: Trail) -> None:
        """CreateTrail + StartLogging, as the control plane records them."""
        await self.w.logging(t)
        await self.w.trails.update_status(t.arn, start_logging_ms=self.w.clock.now_ms)

    async def stop(self, t: Trail) -> None:
        await self.w.trails.update_status(
            t.arn, is_logging=False, stop_logging_ms=self.w.clock.now_ms,
            stopped_at_seq=await self.w.journal.last_seq(),
        )  # fmt: skip

    async def restart_logging(self, t: Trail) -> None:
        await self.w.trails.update_status(
            t.arn, is_logging=True, start_logging_ms=self.w.clock.now_ms,
            logging_since_seq=await self.w.journal.last_seq(), stopped_at_seq=None,
        )  # fmt: skip

    async def tick(self, advance_ms: int = 0, *, events: int = 0, **entry: Any) -> int:
        """Move the clock, journal ``events`` and deliver them, run the writer; digests written."""
        self.w.clock.now_ms += advance_ms
        if events:
            await self.w.append(events, **entry)
            await self.w.engine.flush()
        return (await self.writer.run_once()).written

    async def digests(self) -> dict[str, Found]:
        """Every digest in the bucket by key, oldest first."""
        found = {}
        for key, stored in sorted((await self.w.objects()).items(), key=lambda kv: kv[0][-24:]):
            if "/CloudTrail-Digest/" in key:
                raw = gzip.decompress(stored.body)
                found[key] = Found(json.loads(raw), dict(stored.info.metadata), stored.body, raw)
        return found

    async def logs(self) -> list[str]:
        return sorted(k for k in await self.w.objects() if "/CloudTrail/" in k)


@asynccontextmanager
async def digests(
    tmp: Path,
    keys_in: Callable[[Path], KeyStore],
    *,
    organization: OrganizationConfig | None = None,
) -> AsyncIterator[Digests]:
    async with world(tmp, organization=organization) as w:
        chains = ChainState(tmp / "state.sqlite3")
        await chains.open()
        keys = keys_in(tmp)
        writer = DigestWriter(
            trails=w.trails, buckets=w.buckets, delivery=w.state, chains=chains, keys=FileKeyStore(keys),
            config=DeliveryConfig(interval_seconds=1.0, digest_interval_seconds=PERIOD_MS / 1000),
            organization=organization, clock=w.clock,
        )  # fmt: skip
        try:
            yield Digests(w, chains, keys, writer)
        finally:
            await chains.close()


__all__ = ["BUCKET", "PERIOD_MS", "Digests", "Found", "digests"]
