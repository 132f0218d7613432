"""Shared by the delivery engine tests: the real journal, trail store, state and local bucket, and a clock.

The only stand-in is ``FlakyStore``, a wrapper around the real local store that fails puts on
demand (an outage or a crash between two objects of one batch).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.unit.journal.support import ACCOUNT, make_entry, opened
from trailkeeper.config import BucketConfig, DeliveryConfig, OrganizationConfig, Settings
from trailkeeper.control.model import Trail
from trailkeeper.control.selectors import entry_matches
from trailkeeper.control.sqlite_store import SqliteTrailStore
from trailkeeper.delivery.base import Notice
from trailkeeper.delivery.engine import DeliveryEngine
from trailkeeper.delivery.state import DeliveryState
from trailkeeper.journal.base import JournalEntry
from trailkeeper.journal.sqlite import SqliteJournal
from trailkeeper.storage.base import Listing, ObjectInfo, ObjectStore, StoredObject
from trailkeeper.storage.registry import BucketRegistry

BUCKET = "audit-logs"
T_DELIVERY = 1_767_312_000_000  # 2026-01-02T00:00:00Z


def trail(name: str = "main", **changes: Any) -> Trail:
    return dataclasses.replace(Trail(ACCOUNT, "us-east-1", name, BUCKET), **changes)


class FlakyStore:
    """The real store behind a switch: while ``failure`` is set, puts after ``fail_after`` more raise it."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.failure: Exception | None = None
        self.fail_after = 0
        self.puts = 0

    def describe(self) -> str:
        return f"flaky<{self.inner.describe()}>"

    async def put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        content_encoding: str | None = None,
        metadata: Mapping[str, str] | None = None,
        sse: str = "AES256",
        kms_key_id: str | None = None,
    ) -> ObjectInfo:
        if self.failure is not None and self.puts >= self.fail_after:
            raise self.failure
        self.puts += 1
        return await self.inner.put(
            bucket, key, body, content_type=content_type, content_encoding=content_encoding,
            metadata=metadata, sse=sse, kms_key_id=kms_key_id,
        )  # fmt: skip

    async def bucket_exists(self, bucket: str) -> bool:
        return await self.inner.bucket_exists(bucket)

    async def bucket_region(self, bucket: str) -> str:
        return await self.inner.bucket_region(bucket)

    async def get(self, bucket: str, key: str) -> StoredObject:
        return await self.inner.get(bucket, key)

    async def head(self, bucket: str, key: str) -> ObjectInfo:
        return await self.inner.head(bucket, key)

    async def list(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
    ) -> Listing:
        return await self.inner.list(
            bucket, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
        )

    async def delete(self, bucket: str, key: str) -> None:
        await self.inner.delete(bucket, key)

    async def close(self) -> None:
        await self.inner.close()


class FlakyBuckets:
    """The real registry, handing out the flaky wrapper of its local store."""

    def __init__(self, inner: BucketRegistry) -> None:
        self.inner, self.store = inner, FlakyStore(inner.local)

    def store_for(self, bucket: str) -> ObjectStore | None:
        return self.store if self.inner.store_for(bucket) is not None else None

    def owner_of(self, bucket: str) -> str | None:
        return self.inner.owner_of(bucket)

    def may_deliver(self, bucket: str, account_id: str) -> bool:
        return self.inner.may_deliver(bucket, account_id)

    async def close(self) -> None:
        await self.inner.close()


@dataclass
class RecordingSink:
    """A Sink that wants every trail with an SNS topic; delivery only enqueues, so send is never called."""

    name: str = "sns"

    def describe(self) -> str:
        return f"recording<{self.name}>"

    def wants(self, t: Trail) -> bool:
        return t.sns_topic_arn is not None

    async def send(self, t: Trail, notice: Notice) -> None:
        raise AssertionError("the engine must not send; sink runners do")

    async def close(self) -> None:
        return None


@dataclass
class Clock:
    now_ms: int = T_DELIVERY

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class World:
    journal: SqliteJournal
    state: DeliveryState
    trails: SqliteTrailStore
    buckets: FlakyBuckets
    clock: Clock
    engine: DeliveryEngine

    async def append(self, count: int = 1, **entry: Any) -> list[JournalEntry]:
        made = [make_entry(self.clock.now_ms, **entry) for _ in range(count)]
        for e in made:
            await self.journal.append(e)
        return made

    async def logging(self, t: Trail) -> None:
        """CreateTrail + StartLogging: events after the journal's current end are delivered."""
        await self.trails.create(t)
        await self.trails.update_status(
            t.arn, is_logging=True, logging_since_seq=await self.journal.last_seq()
        )

    async def objects(self) -> dict[str, StoredObject]:
        """Every object in the bucket, by key."""
        store, found, after = self.buckets.store, {}, ""
        while True:
            page = await store.list(BUCKET, after=after)
            for info in page.objects:
                found[info.key] = await store.get(BUCKET, info.key)
            if not page.truncated or page.next_marker is None:
                return found
            after = page.next_marker

    async def records(self) -> list[dict[str, Any]]:
        """Every record of every log file, decoded the way an outside reader would."""
        objects = (await self.objects()).values()
        return [r for o in objects for r in json.loads(gzip.decompress(o.body))["Records"]]


@asynccontextmanager
async def world(
    tmp: Path,
    *,
    max_file_bytes: int = 10 * 1024 * 1024,
    organization: OrganizationConfig | None = None,
    sinks: Sequence[RecordingSink] = (),
) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp, buckets=(BucketConfig(BUCKET, account=ACCOUNT),))
    async with opened(tmp / "journal.sqlite3") as journal:
        state, trails = DeliveryState(tmp / "state.sqlite3"), SqliteTrailStore(tmp / "state.sqlite3")
        await state.open()
        await trails.open()
        buckets, clock = FlakyBuckets(BucketRegistry.from_settings(settings)), Clock()
        engine = DeliveryEngine(
            journal=journal,
            trails=trails,
            buckets=buckets,
            state=state,
            config=DeliveryConfig(interval_seconds=1.0, max_file_bytes=max_file_bytes),
            selector=entry_matches,
            organization=organization,
            sinks=sinks,
            clock=clock,
        )
        try:
            yield World(journal, state, trails, buckets, clock, engine)
        finally:
            await buckets.close()
            await trails.close()
            await state.close()
