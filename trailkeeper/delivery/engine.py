"""Delivery engine: trails and journal events in; exactly-once log files, file index and notices out.

One flush visits every trail. A batch is planned from the events after the trail's cursor (never
at or below ``logging_since_seq``, never above ``stopped_at_seq`` once stopped, never inside a
``paused`` range journaled between a StopLogging and the next StartLogging) that are in the
trail's scope, stored as a manifest, written object by object (a replay rewrites the same keys
with the same bytes), then committed in one state transaction: cursor, file index, notices.
A crash at any point leaves either no manifest (nothing written that counts) or a manifest that
the next flush or start finishes; so every event lands in exactly one file per trail.
With several workers (PostgreSQL state) each trail is delivered under its lease: one worker at a
time, and a dead worker's manifest is finished by the next holder once the lease expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from trailkeeper.config import DeliveryConfig, OrganizationConfig
from trailkeeper.control.model import Trail, TrailStatus
from trailkeeper.control.store import TrailStore
from trailkeeper.delivery.base import DeliveredFile, Sink
from trailkeeper.delivery.logfile import (
    CONTENT_ENCODING,
    CONTENT_TYPE,
    EMPTY_BODY_BYTES,
    log_key,
    render,
    split_into_files,
    unique_id,
)
from trailkeeper.delivery.state import Manifest, PlannedFile
from trailkeeper.delivery.store import DeliveryStore
from trailkeeper.errors import AwsError, TrailkeeperError
from trailkeeper.journal.base import Journal, JournalEntry, StoredEvent
from trailkeeper.pgstate.leases import NO_LEASES, Leases, delivery_lease
from trailkeeper.storage.base import BucketRegistry, ObjectStore
from trailkeeper.storage.errors import StorageUnavailable

__all__ = ["DeliveryEngine", "DeliveryFailed", "FlushReport", "Selector", "delivery_error"]

log = logging.getLogger("trailkeeper.delivery")

Selector = Callable[[Trail, JournalEntry], bool]  # control/selectors.py `entry_matches`

_PAGE = 1000  # journal events per read: a few MB at most, whatever the trail keeps of them
_MAX_BACKOFF_INTERVALS = 8  # a failing trail is retried at least every 8 flush intervals


class DeliveryFailed(TrailkeeperError):
    """The bucket refused or could not be reached; ``error`` is what GetTrailStatus shows."""

    def __init__(self, error: str, detail: str = "") -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.error = error


@dataclass(slots=True)
class FlushReport:
    files: int = 0
    events: int = 0
    failed_trails: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Batch:
    events: list[StoredEvent]
    to_seq: int  # every seq up to here was looked at
    more: bool  # the budget ran out before the journal's end


@dataclass(slots=True)
class _Backoff:
    failures: int = 0
    next_ms: int = 0


def delivery_error(err: BaseException) -> str:
    """The S3-style error code GetTrailStatus shows for a failed write (AccessDenied, NoSuchBucket, …)."""
    if isinstance(err, DeliveryFailed):
        return err.error
    if isinstance(err, AwsError | StorageUnavailable):
        return err.code
    response = getattr(err, "response", None)  # botocore ClientError carries the S3 error code
    if isinstance(response, dict) and isinstance(code := response.get("Error", {}).get("Code"), str):
        return code
    return type(err).__name__  # e.g. EndpointConnectionError when the endpoint is down


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DeliveryEngine:
    """Delivers every logging trail's events to its bucket (see the module docstring)."""

    def __init__(
        self,
        *,
        journal: Journal,
        trails: TrailStore,
        buckets: BucketRegistry,
        state: DeliveryStore,
        config: DeliveryConfig,
        selector: Selector,
        organization: OrganizationConfig | None = None,
        sinks: Sequence[Sink] = (),
        clock: Callable[[], int] = _now_ms,
        concurrency: int = 4,
        leases: Leases = NO_LEASES,
    ) -> None:
        self._journal, self._trails, self._buckets, self._state = journal, trails, buckets, state
        self._config, self._selector, self._org, self._sinks = config, selector, organization, tuple(sinks)
        self._clock = clock
        self._gate = asyncio.Semaphore(concurrency)
        self._leases = leases  # several workers: each trail's delivery by one of them at a time
        self._backoff: dict[str, _Backoff] = {}

    def describe(self) -> str:
        sinks = ", ".join(s.describe() for s in self._sinks)
        every = f"{self._config.interval_seconds:g}s"
        return f"delivery<every {every}, state {self._state.describe()}, sinks [{sinks}]>"

    async def flush(self) -> FlushReport:
        """One delivery round: finish orphaned batches, then deliver every trail that is due."""
        report = FlushReport()
        trails = await self._trails.all()
        known = {trail.arn for trail in trails}
        for manifest in await self._state.manifests():
            if manifest.trail_arn not in known:  # deleted mid-batch: finish what the manifest says
                await self._guarded(manifest.trail_arn, report, self._finish(manifest, None))
        await asyncio.gather(*(self._guarded(t.arn, report, self._deliver(t, report)) for t in trails))
        return report

    async def _guarded(self, arn: str, report: FlushReport, work: Coroutine[Any, Any, None]) -> None:
        backoff = self._backoff.setdefault(arn, _Backoff())
        if self._clock() < backoff.next_ms:
            work.close()  # not due yet: the coroutine never ran
            return
        async with self._gate:
            try:
                # Another worker holding the trail's lease is delivering it: nothing to do here.
                await self._leases.run(delivery_lease(arn), work)
            except Exception as err:  # a worker loop: any failure becomes a retry, logged and counted
                await self._failed(arn, backoff, err)
                report.failed_trails.append(arn)
                return
        self._backoff.pop(arn, None)

    async def _failed(self, arn: str, backoff: _Backoff, err: Exception) -> None:
        now = self._clock()
        backoff.failures += 1
        steps = min(2 ** (backoff.failures - 1), _MAX_BACKOFF_INTERVALS)
        backoff.next_ms = now + int(steps * self._config.interval_seconds * 1000)
        if isinstance(err, DeliveryFailed):
            log.warning("delivery of %s failed (%s), retry #%d", arn, err, backoff.failures)
            await self._set_status(arn, latest_delivery_error=err.error, latest_delivery_attempt_ms=now)
        else:
            log.exception("delivery of %s failed, retry #%d", arn, backoff.failures)

    async def _deliver(self, trail: Trail, report: FlushReport) -> None:
        """Finish the trail's pending batch, then deliver its new events batch by batch."""
        if (pending := await self._state.manifest(trail.arn)) is not None:
            log.info("finishing batch %d..%d of %s: %d files", pending.after_seq, pending.to_seq,
                     trail.arn, len(pending.files))  # fmt: skip
            await self._finish(pending, trail, report=report)
        more = True
        while more:
            status, cursor = await self._trails.status(trail.arn), await self._state.cursor(trail.arn)
            lower, upper = _window(status, cursor)
            if upper is not None and lower >= upper:
                if cursor < upper:  # nothing to deliver up to the stop: record that (digests wait on it)
                    await self._state.advance(trail.arn, upper)
                return
            batch = await self._collect(trail, lower, upper, status.paused)
            # StopLogging may have landed while we read: never deliver past the stop once it shows.
            batch = _clamp(batch, await self._trails.status(trail.arn))
            more = batch.more
            if batch.to_seq <= lower:
                return
            if not batch.events:
                await self._state.advance(trail.arn, batch.to_seq)
                continue
            manifest = self._plan(trail, lower, batch)
            await self._state.save_manifest(manifest)
            await self._finish(manifest, trail, batch.events, report)

    async def _collect(
        self, trail: Trail, lower: int, upper: int | None, paused: tuple[tuple[int, int], ...] = ()
    ) -> _Batch:
        """Read pages after ``lower`` until one file's worth of in-scope records (memory stays bounded).

        Sized like a file body, so a batch of one account and region fills exactly one file.
        """
        budget, size, position = self._config.max_file_bytes, EMPTY_BODY_BYTES - 1, lower
        kept: list[StoredEvent] = []
        accounts = self._accounts(trail)
        while True:
            page = await self._journal.read_after(position, _PAGE)
            last_page = len(page) < _PAGE
            if upper is not None and page and page[-1].seq >= upper:
                page, last_page = [e for e in page if e.seq <= upper], True
            for event in page:
                if self._in_scope(trail, accounts, event.entry) and not _in_pause(event.seq, paused):
                    cost = len(event.entry.record) + 1  # the record and its comma
                    if kept and size + cost > budget:
                        return _Batch(kept, position, True)  # this event opens the next batch
                    kept.append(event)
                    size += cost
                position = event.seq
            if last_page:
                return _Batch(kept, position, False)

    def _organization(self, trail: Trail) -> OrganizationConfig | None:
        """The organization whose every account the trail covers (an organization trail of its management)."""
        org = self._org
        if trail.is_organization and org is not None and trail.account_id == org.management_account:
            return org
        return None

    def _accounts(self, trail: Trail) -> frozenset[str]:
        org = self._organization(trail)
        return frozenset((org.management_account, *org.members) if org else (trail.account_id,))

    def _in_scope(self, trail: Trail, accounts: frozenset[str], entry: JournalEntry) -> bool:
        return (
            entry.account_id in accounts
            and (trail.is_multi_region or entry.region == trail.home_region)
            and self._selector(trail, entry)
        )

    def _plan(self, trail: Trail, lower: int, batch: _Batch) -> Manifest:
        delivered_ms = self._clock()
        org = self._organization(trail)
        org_id = org.id if org is not None else None
        files = tuple(
            PlannedFile(
                log_key(
                    prefix=trail.s3_key_prefix,
                    org_id=org_id,
                    account_id=group.account_id,
                    region=group.region,
                    delivered_ms=delivered_ms,
                    unique=unique_id(),
                ),
                group.account_id,
                group.region,
                group.seqs,
            )
            for group in split_into_files(batch.events, self._config.max_file_bytes)
        )
        sse = "aws:kms" if trail.kms_key_id else "AES256"
        bucket, kms = trail.s3_bucket, trail.kms_key_id
        return Manifest(trail.arn, bucket, lower, batch.to_seq, delivered_ms, sse, kms, files)

    async def _finish(
        self,
        manifest: Manifest,
        trail: Trail | None,
        events: Sequence[StoredEvent] = (),
        report: FlushReport | None = None,
    ) -> None:
        """Write every object the manifest names (same keys, same bytes), then commit the batch."""
        store = self._store_for(manifest)
        in_memory = {event.seq: event for event in events}
        written: list[DeliveredFile] = []
        for planned in manifest.files:
            if all(seq in in_memory for seq in planned.seqs):
                file_events = [in_memory[seq] for seq in planned.seqs]
            else:  # a replay: read back just this file's events (bounded memory)
                file_events = await self._journal.read_seqs(planned.seqs)
            written.append(await self._write(store, manifest, planned, file_events))
        sinks = [sink.name for sink in self._sinks if trail is not None and sink.wants(trail)]
        await self._state.commit(manifest, written, sinks)
        if report is not None:
            report.files += len(written)
            report.events += sum(len(f.seqs) for f in written)
        if trail is not None and written:
            now = self._clock()
            await self._set_status(
                manifest.trail_arn,
                latest_delivery_ms=now,
                latest_delivery_error=None,
                latest_delivery_attempt_ms=now,
                latest_delivery_attempt_succeeded_ms=now,
            )

    def _store_for(self, manifest: Manifest) -> ObjectStore:
        store = self._buckets.store_for(manifest.bucket)
        if store is None:
            raise DeliveryFailed("NoSuchBucket", f"bucket {manifest.bucket} does not exist")
        owner = manifest.trail_arn.split(":")[4]
        if not self._buckets.may_deliver(manifest.bucket, owner):
            raise DeliveryFailed("AccessDenied", f"account {owner} may not write to bucket {manifest.bucket}")
        return store

    async def _write(
        self, store: ObjectStore, manifest: Manifest, planned: PlannedFile, events: Sequence[StoredEvent]
    ) -> DeliveredFile:
        rendered = await asyncio.to_thread(render, events)  # gzip of up to max_file_bytes: off the loop
        try:
            await store.put(
                manifest.bucket,
                planned.key,
                rendered.gzip_body,
                content_type=CONTENT_TYPE,
                content_encoding=CONTENT_ENCODING,
                sse=manifest.sse,
                kms_key_id=manifest.kms_key_id,
            )
        except Exception as err:  # whatever the store raises, the batch stays pending and is retried
            raise DeliveryFailed(delivery_error(err), str(err)) from err
        return DeliveredFile(
            manifest.trail_arn, manifest.bucket, planned.key, planned.account_id, planned.region,
            rendered.sha256, rendered.oldest_event_ms, rendered.newest_event_ms, manifest.delivered_ms,
            tuple(event.seq for event in events),
        )  # fmt: skip

    async def _set_status(self, arn: str, **changes: object) -> None:
        try:
            await self._trails.update_status(arn, **changes)
        except AwsError as err:  # the trail was deleted meanwhile: nobody can ask for its status
            log.info("status of %s not updated: %s", arn, err)


def _in_pause(seq: int, paused: tuple[tuple[int, int], ...]) -> bool:
    """Whether the event was journaled while the trail was stopped (after, upto]: never delivered."""
    return any(after < seq <= upto for after, upto in paused)


def _window(status: TrailStatus, cursor: int) -> tuple[int, int | None]:
    """(deliver after this seq, up to this seq or None = no bound) from the trail's logging state."""
    lower = max(cursor, status.logging_since_seq)
    if status.is_logging:
        return lower, None
    # Stopped: only the events journaled before StopLogging, if any are still undelivered.
    return lower, status.stopped_at_seq if status.stopped_at_seq is not None else lower


def _clamp(batch: _Batch, status: TrailStatus) -> _Batch:
    if status.is_logging:
        return batch
    upper = status.stopped_at_seq if status.stopped_at_seq is not None else 0
    if batch.to_seq <= upper:
        return batch
    return _Batch([e for e in batch.events if e.seq <= upper], max(upper, 0), False)
