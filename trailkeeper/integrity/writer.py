"""The digest writer: trails, their delivered files and the chain state in; signed, chained digest files out.

For every trail with log file validation that is logging, each period ends with one digest per
(account, region) the trail covers — its home region for each account (every organization account
for an organization trail), plus every region its files were delivered for — even when no file
was delivered (``logFiles: []``). A digest covers the files indexed since the chain's last one
(by delivered-file id, so a batch that commits late is never skipped), starts where the previous
one ended and links to it. A chain opens with a starting digest (every previous* null) when
logging starts or validation is enabled, and closes with a final digest once logging stops (after
delivery has written the files of the events before the stop) or validation is disabled; nothing
is written while it is closed. Each digest is written ahead in the chain state, then stored, then
committed (see chain.py), so it lands exactly once whatever crashes in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trailkeeper.config import DeliveryConfig, OrganizationConfig
from trailkeeper.control.model import Trail, TrailStatus
from trailkeeper.control.store import TrailStore
from trailkeeper.delivery.base import DeliveredFile
from trailkeeper.delivery.engine import DeliveryFailed, delivery_error
from trailkeeper.delivery.logfile import CONTENT_ENCODING, CONTENT_TYPE
from trailkeeper.delivery.store import DeliveryStore
from trailkeeper.errors import AwsError
from trailkeeper.integrity.chain import Chain, ChainState, PendingDigest
from trailkeeper.integrity.chain_store import ChainStore
from trailkeeper.integrity.digest import DigestContent, LogFileEntry, digest_key, sign_digest
from trailkeeper.integrity.key_store import FileKeyStore, SigningKeyStore
from trailkeeper.integrity.keys import is_region_name
from trailkeeper.pgstate.leases import NO_LEASES, Leases, digest_lease
from trailkeeper.storage.base import BucketRegistry

if TYPE_CHECKING:
    from trailkeeper.delivery.service import DeliveryService
    from trailkeeper.services.registry import AppServices

__all__ = ["DigestReport", "DigestService", "DigestWriter", "start_digests"]

log = logging.getLogger("trailkeeper.integrity")

_MAX_BACKOFF_S = 300.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _second(ms: int) -> int:
    return ms // 1000 * 1000  # digest times are whole seconds


@dataclass(slots=True)
class DigestReport:
    written: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Backoff:
    failures: int = 0
    next_ms: int = 0


class DigestWriter:
    """One ``run_once`` writes every digest that is due (see the module docstring)."""

    def __init__(
        self,
        *,
        trails: TrailStore,
        buckets: BucketRegistry,
        delivery: DeliveryStore,
        chains: ChainStore,
        keys: SigningKeyStore,
        config: DeliveryConfig,
        organization: OrganizationConfig | None = None,
        clock: Callable[[], int] = _now_ms,
        leases: Leases = NO_LEASES,
    ) -> None:
        self._trails, self._buckets, self._delivery, self._chains = trails, buckets, delivery, chains
        self._leases = leases  # several workers: each trail's chains are advanced by one at a time
        self._keys, self._org, self._clock = keys, organization, clock
        self._interval_ms = int(config.digest_interval_seconds * 1000)
        self._backoff: dict[str, _Backoff] = {}

    def describe(self) -> str:
        every = f"{self._interval_ms / 1000:g}s"
        return f"digests<every {every}, chains {self._chains.describe()}, {self._keys.describe()}>"

    async def run_once(self) -> DigestReport:
        report = DigestReport()
        trails = {trail.arn: trail for trail in await self._trails.all()}
        for chain in await self._chains.all():  # digests written ahead, then a crash or a failed write
            if chain.pending is not None:
                work = self._store(chain, chain.pending, report)
                await self._guarded(chain.trail_arn, report, work)
        by_trail: dict[str, list[Chain]] = {}
        for chain in await self._chains.all():
            by_trail.setdefault(chain.trail_arn, []).append(chain)
        for arn in by_trail.keys() - trails.keys():  # deleted: its chain ends without a final digest
            if all(chain.pending is None for chain in by_trail[arn]):
                await self._leases.run(digest_lease(arn), self._chains.drop(arn))
        for trail in trails.values():
            mine = by_trail.get(trail.arn, [])
            if trail.log_file_validation or any(chain.is_open for chain in mine):
                await self._guarded(trail.arn, report, self._trail_round(trail, mine, report))
        return report

    async def _guarded(self, arn: str, report: DigestReport, work: Coroutine[Any, Any, None]) -> None:
        backoff = self._backoff.setdefault(arn, _Backoff())
        if self._clock() < backoff.next_ms:
            work.close()  # not due yet: the coroutine never ran
            return
        try:
            await self._leases.run(digest_lease(arn), work)  # skipped while another worker holds it
        except Exception as err:  # a worker loop: a failure becomes a retry, logged and shown in the status
            backoff.failures += 1
            delay = min(2 ** (backoff.failures - 1), _MAX_BACKOFF_S, self._interval_ms / 1000)
            backoff.next_ms = self._clock() + int(delay * 1000)
            report.failed.append(arn)
            log.warning("digest of %s failed (%s), retry #%d", arn, err, backoff.failures)
            await self._set_status(arn, latest_digest_delivery_error=delivery_error(err))
            return
        self._backoff.pop(arn, None)

    async def _trail_round(self, trail: Trail, chains: list[Chain], report: DigestReport) -> None:
        if self._leases is not NO_LEASES:  # read before the lease was ours: another worker may have moved on
            chains = [chain for chain in await self._chains.all() if chain.trail_arn == trail.arn]
        if any(chain.pending is not None for chain in chains):
            return  # a stored-ahead digest has not been written yet: it goes first
        now = self._clock()
        status = await self._trails.status(trail.arn)
        active = trail.log_file_validation and status.is_logging
        session = status.start_logging_ms or 0
        live = [chain for chain in chains if chain.is_open]
        # A session started and stopped between two rounds still gets its (starting, final) digest.
        missed = trail.log_file_validation and session > 0 and all(c.session_ms != session for c in chains)
        if not live and (active or missed):
            await self._open(trail, chains, status, now)
            live = [c for c in await self._chains.all() if c.trail_arn == trail.arn and c.is_open]
        if live and (not active or any(chain.session_ms != session for chain in live)):
            # Stopped, validation disabled, or stopped and started again between two rounds.
            if active or not trail.log_file_validation or await self._delivered_to_stop(trail, status, now):
                await self._write(trail, live, live, now, closes=True, report=report)
            return  # the next round opens the new chain, if any
        due = [chain for chain in live if now >= chain.end_ms + self._interval_ms]
        if active and due:
            await self._write(trail, live, due, now, closes=False, report=report)

    async def _delivered_to_stop(self, trail: Trail, status: TrailStatus, now: int) -> bool:
        """Whether the final digest may be written: the events before StopLogging are in files
        (or a period has passed since the stop, e.g. while the bucket refuses writes)."""
        if status.stop_logging_ms is not None and now - status.stop_logging_ms >= self._interval_ms:
            return True
        if await self._delivery.manifest(trail.arn) is not None:
            return False
        return await self._delivery.cursor(trail.arn) >= (status.stopped_at_seq or 0)

    async def _open(self, trail: Trail, chains: list[Chain], status: TrailStatus, now: int) -> None:
        """Open the trail's chains; their first digests are starting digests one period from now.

        The first digest covers the files delivered since logging started, or since one period ago
        when validation was enabled later on (never any a closed chain already covered).
        """
        start = max(status.start_logging_ms or 0, now - self._interval_ms, *(c.end_ms for c in chains))
        start = _second(start)
        floor = await self._delivery.last_file_id(trail.arn, start)
        idents = {chain.ident for chain in chains}
        idents |= {(trail.arn, account, trail.home_region) for account in self._accounts(trail)}
        for ident in sorted(idents):
            await self._chains.open_chain(
                ident, session_ms=status.start_logging_ms or 0, start_ms=start, floor_file_id=floor
            )

    async def _write(
        self,
        trail: Trail,
        live: list[Chain],
        targets: list[Chain],
        now: int,
        *,
        closes: bool,
        report: DigestReport,
    ) -> None:
        """One digest for each chain of ``targets``, covering its files up to one id snapshot."""
        floor = min(chain.last_file_id for chain in live)
        rows = await self._delivery.files_after(trail.arn, floor)
        upto = max((file_id for file_id, _ in rows), default=floor)
        groups: dict[tuple[str, str], list[tuple[int, DeliveredFile]]] = {}
        for file_id, delivered in rows:
            groups.setdefault((delivered.account_id, delivered.region), []).append((file_id, delivered))
        if not closes:
            await self._open_new_regions(trail, live, groups.keys(), floor, now)
        for chain in targets:
            files = [
                f
                for file_id, f in groups.get((chain.account_id, chain.region), [])
                if file_id > chain.last_file_id
            ]
            pending = await self._plan(trail, chain, files, upto, now, closes=closes)
            await self._chains.plan(chain.ident, pending)
            await self._store(chain, pending, report)

    async def _open_new_regions(
        self, trail: Trail, live: list[Chain], seen: Iterable[tuple[str, str]], floor: int, now: int
    ) -> None:
        """A region (or account) the trail's files show for the first time gets a chain of its own."""
        known = {(chain.account_id, chain.region) for chain in live}
        for account, region in sorted(set(seen) - known):
            if not is_region_name(region):
                log.warning("trail %s: no digest chain for region %r", trail.arn, region)
                continue
            ident = (trail.arn, account, region)
            await self._chains.open_chain(
                ident, session_ms=live[0].session_ms, start_ms=_second(now), floor_file_id=floor
            )

    async def _plan(
        self, trail: Trail, chain: Chain, files: Sequence[DeliveredFile], upto: int, now: int, *, closes: bool
    ) -> PendingDigest:
        end = max(_second(now), chain.end_ms + 1000)  # never the previous digest's key again
        org = self._organization(trail)
        key = digest_key(
            prefix=trail.s3_key_prefix,
            org_id=org.id if org is not None else None,
            account_id=chain.account_id,
            region=chain.region,
            trail_name=trail.name,
            home_region=trail.home_region,
            end_ms=end,
        )
        signing = await self._keys.current(chain.region, now)  # may make a key
        entries = tuple(
            LogFileEntry(f.bucket, f.key, f.sha256, f.oldest_event_ms, f.newest_event_ms)
            for f in reversed(files)
        )  # newest first, as AWS lists them
        content = DigestContent(
            chain.account_id, chain.end_ms, end, trail.s3_bucket, key, signing.public.fingerprint,
            chain.previous, entries,
        )  # fmt: skip
        signed = await asyncio.to_thread(sign_digest, content, signing)
        sse = "aws:kms" if trail.kms_key_id else "AES256"  # as the trail's log files
        return PendingDigest(signed, end, upto, closes, sse, trail.kms_key_id)

    async def _store(self, chain: Chain, pending: PendingDigest, report: DigestReport) -> None:
        """Write the object (the same bytes on a replay), then make it the chain's head."""
        digest = pending.digest
        store = self._buckets.store_for(digest.bucket)
        if store is None:
            raise DeliveryFailed("NoSuchBucket", f"bucket {digest.bucket} does not exist")
        if not self._buckets.may_deliver(digest.bucket, chain.trail_arn.split(":")[4]):
            raise DeliveryFailed(
                "AccessDenied", f"the trail's account may not write to bucket {digest.bucket}"
            )
        try:
            await store.put(
                digest.bucket,
                digest.key,
                digest.gzip_body,
                content_type=CONTENT_TYPE,
                content_encoding=CONTENT_ENCODING,
                metadata=digest.metadata,
                sse=pending.sse,
                kms_key_id=pending.kms_key_id,
            )
        except Exception as err:  # whatever the store raises, the digest stays pending and is retried
            raise DeliveryFailed(delivery_error(err), str(err)) from err
        await self._chains.commit(chain.ident, pending)
        report.written += 1
        await self._set_status(
            chain.trail_arn, latest_digest_delivery_ms=self._clock(), latest_digest_delivery_error=None
        )

    def _organization(self, trail: Trail) -> OrganizationConfig | None:
        """The organization an organization trail of its management account covers (as delivery)."""
        org = self._org
        if trail.is_organization and org is not None and trail.account_id == org.management_account:
            return org
        return None

    def _accounts(self, trail: Trail) -> tuple[str, ...]:
        org = self._organization(trail)
        return (org.management_account, *org.members) if org else (trail.account_id,)

    async def _set_status(self, arn: str, **changes: object) -> None:
        try:
            await self._trails.update_status(arn, **changes)
        except AwsError as err:  # the trail was deleted meanwhile: nobody can ask for its status
            log.info("digest status of %s not updated: %s", arn, err)


class DigestService:
    """Runs ``writer.run_once`` about every second: digests are due on their own schedule."""

    def __init__(
        self, writer: DigestWriter, chains: ChainStore, keys: SigningKeyStore, tick_seconds: float
    ) -> None:
        self.writer, self.chains, self.keys, self._tick = writer, chains, keys, tick_seconds
        self._task: asyncio.Task[None] | None = None
        self.last_report: DigestReport | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="trailkeeper-digests")

    async def stop(self) -> None:
        """Stop between two steps; a digest written ahead is finished on the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.chains.close()
        await self.keys.close()

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.last_report = await self.writer.run_once()
            except Exception:  # the worker loop: log, try again next tick, never die
                log.exception("digest round failed")
            await asyncio.sleep(max(0.0, self._tick - (time.monotonic() - started)))


async def start_digests(app: AppServices, delivery: DeliveryService | None) -> DigestService | None:
    """Open the chain state, build the writer from ``app`` and start its loop (None: no delivery)."""
    if delivery is None or app.trails is None or app.buckets is None:
        return None
    from trailkeeper.delivery.service import STATE_FILE

    settings = app.settings
    backend = app.state
    chains = backend.chain_state() if backend is not None else ChainState(settings.data_dir / STATE_FILE)
    # The keys every node lists (ListPublicKeys): the data dir's folder, or the shared database's.
    keys = backend.signing_keys() if backend is not None else FileKeyStore.in_data_dir(settings.data_dir)
    await chains.open()
    try:
        await keys.open()
    except BaseException:
        await chains.close()
        raise
    writer = DigestWriter(
        trails=app.trails,
        buckets=app.buckets,
        delivery=delivery.state,
        chains=chains,
        keys=keys,
        config=settings.delivery,
        organization=settings.organization,
        leases=backend.leases if backend is not None else NO_LEASES,
    )
    # A tenth of the period, at most a second: a digest is written within a second of being due.
    service = DigestService(writer, chains, keys, min(1.0, settings.delivery.digest_interval_seconds / 10))
    service.start()
    log.info("%s", writer.describe())
    return service
