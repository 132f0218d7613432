"""Log file validation: a trail's bucket, a time range and public keys in; the AWS CLI's verdicts out.

The walk, its order and every message are those of ``aws cloudtrail validate-logs``
(awscli/customizations/cloudtrail/validation.py, cloudtrail-spec.md §4): list the region's digest
keys once, walk the chain backwards from the newest digest (following previousDigestS3Object,
else the next older listed key, reporting a gap), check each digest, then each valid digest's log
files (checks.py holds the per-file checks).

Faster than the CLI, same verdicts: every listed digest is fetched at once and every log file is
fetched and hashed concurrently (bounded), each object once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from trailkeeper.errors import AwsError, TrailkeeperError
from trailkeeper.integrity.checks import (
    DigestInvalid,
    PublicKeys,
    check_digest,
    check_log,
    display_time,
    where,
)
from trailkeeper.integrity.digest import digest_key, digest_prefix
from trailkeeper.storage.base import Listing, StoredObject

__all__ = [
    "KeySource",
    "ObjectSource",
    "Outcome",
    "Progress",
    "Status",
    "Target",
    "ValidationError",
    "Validator",
]

_ARN = re.compile(r"arn:.+:cloudtrail:.+:\d{12}:trail/.+")
_KEY_STAMP = "%Y%m%dT%H%M%SZ"
_HOUR_MS = 3_600_000


class ValidationError(TrailkeeperError):
    """Validation cannot run at all (bad ARN, unknown trail, no public keys): nothing was judged."""


class ObjectSource(Protocol):
    """What the validator reads buckets with; every ObjectStore is one. Raises AwsError NoSuchKey."""

    async def get(self, bucket: str, key: str) -> StoredObject: ...

    async def list(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
    ) -> Listing: ...


class KeySource(Protocol):
    async def public_keys(self, start_ms: int, end_ms: int) -> dict[str, bytes]:
        """Fingerprint -> DER PKCS#1 public key, for every key valid in the range."""
        ...


class Progress(Protocol):
    def expect(self, what: str, count: int) -> None: ...

    def advance(self, what: str) -> None: ...


def _parse_ms(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def _key_ms(key: str) -> int:
    return int(datetime.strptime(key[-24:-8], _KEY_STAMP).replace(tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Target:
    """Which digests to walk: the trail's bucket and prefix, one account and one (source) region."""

    trail_arn: str
    bucket: str
    prefix: str | None
    start_ms: int
    end_ms: int
    account_id: str
    region: str  # the digests' region folder (the CLI's --region); defaults to the home region
    org_id: str | None = None

    def __post_init__(self) -> None:
        if not _ARN.match(self.trail_arn):
            raise ValidationError(f"Invalid trail ARN provided: {self.trail_arn}")
        if self.start_ms > self.end_ms:
            raise ValidationError("Invalid time range specified: start-time must occur before end-time")

    @property
    def home_region(self) -> str:
        return self.trail_arn.split(":")[3]

    @property
    def trail_name(self) -> str:
        return self.trail_arn.split("/")[-1]

    def digest_key(self, end_ms: int) -> str:
        return digest_key(
            prefix=self.prefix,
            org_id=self.org_id,
            account_id=self.account_id,
            region=self.region,
            trail_name=self.trail_name,
            home_region=self.home_region,
            end_ms=end_ms,
        )


@dataclass(frozen=True, slots=True)
class Status:
    text: str
    error: bool  # the CLI writes errors and gaps to stderr, verbose "valid" lines to stdout


@dataclass(slots=True)
class Outcome:
    statuses: list[Status] = field(default_factory=list)
    valid_digests: int = 0
    invalid_digests: int = 0
    valid_logs: int = 0
    invalid_logs: int = 0
    found_start_ms: int | None = None
    found_end_ms: int | None = None

    @property
    def ok(self) -> bool:
        return self.invalid_digests == 0 and self.invalid_logs == 0


@dataclass(slots=True)
class _Walk:
    """The chain walk: where it stands, and its events in the CLI's order (valid digests, statuses)."""

    stack: list[str]  # listed keys not yet passed, oldest first
    bucket: str
    key: str | None = None
    last_start_ms: int | None = None  # digestStartTime of the last valid digest (first: the key's time)
    recorded: dict[str, Any] | None = None  # the valid digest that links to ``key``
    events: list[dict[str, Any] | Status] = field(default_factory=list)
    invalid: int = 0


class Validator:
    """Walks one target's digests and checks their log files (see the module docstring)."""

    def __init__(
        self,
        objects: ObjectSource,
        keys: KeySource,
        *,
        concurrency: int = 32,
        progress: Progress | None = None,
    ) -> None:
        self._objects, self._keys, self._progress = objects, keys, progress
        self._gate = asyncio.Semaphore(concurrency)
        self._fetched: dict[tuple[str, str], asyncio.Task[StoredObject | None]] = {}

    async def run(self, target: Target) -> Outcome:
        try:
            return await self._run(target)
        finally:  # a run cut short (a storage failure) leaves no fetch behind
            pending = [task for task in self._fetched.values() if not task.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._fetched.values(), return_exceptions=True)

    async def _run(self, target: Target) -> Outcome:
        keys = await self._list(target, target.bucket, target.end_ms)
        public = await self._keys.public_keys(target.start_ms, target.end_ms + 2 * _HOUR_MS)
        if not public:
            start, end = display_time(target.start_ms), display_time(target.end_ms + 2 * _HOUR_MS)
            raise ValidationError(f"No public keys found between {start} and {end}")
        self._expect("digest", len(keys))
        for key in keys:  # every listed digest at once; the walk then reads them from memory
            self._fetch(target.bucket, key)
        walk = await self._walk(target, keys, PublicKeys(public))
        return await self._check_logs(target, walk)

    # -- listing and fetching ----------------------------------------------------------------------

    async def _list(self, target: Target, bucket: str, end_ms: int) -> list[str]:
        """One listing, as the CLI's: from the key of (start - 1 min), the trail's keys up to end + 1 h."""
        folder = digest_prefix(target.prefix, target.org_id, target.account_id, target.region)
        marker = target.digest_key(target.start_ms - 60_000)
        name = (
            f"{target.account_id}_CloudTrail-Digest_{target.region}_{target.trail_name}_{target.home_region}_"
        )
        pattern = re.compile(re.escape(folder) + r"\d+/\d+/\d+/" + re.escape(name) + r".+\.json\.gz")
        first = datetime.fromtimestamp(target.start_ms // 1000, tz=UTC).strftime(_KEY_STAMP)
        last = datetime.fromtimestamp((end_ms + _HOUR_MS) // 1000, tz=UTC).strftime(_KEY_STAMP)
        keys: list[str] = []
        after, more = marker, True
        while more:
            page = await self._objects.list(bucket, prefix=folder, after=after)
            for obj in page.objects:
                # Backfill digests (…_backfill.json.gz) are AWS's alone: we never write them.
                if not pattern.fullmatch(obj.key) or obj.key.endswith("_backfill.json.gz"):
                    continue
                stamp = obj.key[-24:-8]
                if stamp > last:
                    return keys
                if stamp >= first:
                    keys.append(obj.key)
            more, after = (
                page.truncated,
                page.next_marker or (page.objects[-1].key if page.objects else after),
            )
        return keys

    def _fetch(self, bucket: str, key: str) -> asyncio.Task[StoredObject | None]:
        """The object (None if there is no such key), fetched once whoever asks for it."""
        task = self._fetched.get((bucket, key))
        if task is None:
            task = asyncio.ensure_future(self._get(bucket, key))
            self._fetched[(bucket, key)] = task
        return task

    async def _get(self, bucket: str, key: str) -> StoredObject | None:
        async with self._gate:
            try:
                return await self._objects.get(bucket, key)
            except AwsError as err:
                if err.code == "NoSuchKey":
                    return None
                raise

    # -- the digest chain --------------------------------------------------------------------------

    async def _walk(self, target: Target, listed: list[str], public: PublicKeys) -> _Walk:
        """The CLI's DigestTraverser: newest digest first, then backwards through the chain."""
        walk = _Walk(list(listed), target.bucket)
        walk.key, walk.last_start_ms = _pop_last(walk.stack, None)
        while (
            walk.key is not None and walk.last_start_ms is not None and target.start_ms <= walk.last_start_ms
        ):
            digest = await self._load(target, walk, walk.key, public)
            if digest is not None:
                await self._follow(target, walk, walk.key, digest)
        return walk

    async def _load(self, target: Target, walk: _Walk, key: str, public: PublicKeys) -> dict[str, Any] | None:
        """The digest if valid; else its INVALID status is recorded and the walk moves to an older key."""
        bucket = walk.bucket
        try:
            stored = await self._fetch(bucket, key)
            if stored is None:
                raise DigestInvalid(f"Digest file\t{where(bucket, key)}\tINVALID: not found")
            metadata, home = stored.info.metadata, target.home_region
            return await asyncio.to_thread(
                check_digest, bucket, key, stored.body, metadata, public, home, walk.recorded
            )
        except DigestInvalid as err:
            walk.events.append(Status(str(err), True))
            walk.invalid += 1
            walk.key, _ = _pop_last(walk.stack, key)  # the start of the last valid digest still bounds
            walk.recorded = None
            return None
        finally:
            self._advance("digest")

    async def _follow(self, target: Target, walk: _Walk, key: str, digest: dict[str, Any]) -> None:
        """Record a valid digest, then go to the one it links to, else to the next older listed key."""
        walk.last_start_ms = _parse_ms(digest["digestStartTime"])
        walk.events.append(digest)
        previous_bucket, previous_key = (
            digest.get("previousDigestS3Bucket"),
            digest.get("previousDigestS3Object"),
        )
        if previous_bucket is None or previous_key is None:  # a starting digest
            walk.key, end_ms = _pop_last(walk.stack, key)
            walk.recorded = None
            if walk.key is not None and end_ms is not None:
                between = f"{display_time(end_ms)} and {display_time(walk.last_start_ms)}"
                walk.events.append(
                    Status(f"No log files were delivered by CloudTrail between {between}", True)
                )
            return
        walk.key, walk.recorded = previous_key, digest
        if previous_bucket != walk.bucket:  # the trail moved buckets: list the old one as well
            walk.bucket = previous_bucket
            walk.stack = await self._list(target, previous_bucket, _parse_ms(digest["digestEndTime"]))
        if (walk.bucket, walk.key) not in self._fetched:
            self._expect("digest", 1)

    # -- log files ---------------------------------------------------------------------------------

    async def _check_logs(self, target: Target, walk: _Walk) -> Outcome:
        out = Outcome(invalid_digests=walk.invalid)
        digests = [event for event in walk.events if isinstance(event, dict)]
        entries = [entry for digest in digests for entry in _log_files(digest)]
        self._expect("log", len(entries))
        verdicts = iter(await asyncio.gather(*(self._check_log(entry) for entry in entries)))
        for event in walk.events:
            if isinstance(event, Status):
                out.statuses.append(event)
                continue
            out.valid_digests += 1
            _track_found(out, target, event)
            location = where(event["digestS3Bucket"], event["digestS3Object"])
            out.statuses.append(Status(f"Digest file\t{location}\tvalid", False))
            for entry in _log_files(event):
                reason = next(verdicts)
                line = f"Log file\t{where(str(entry.get('s3Bucket')), str(entry.get('s3Object')))}\t"
                if reason is None:
                    out.valid_logs += 1
                    out.statuses.append(Status(f"{line}valid", False))
                else:
                    out.invalid_logs += 1
                    out.statuses.append(Status(f"{line}INVALID: {reason}", True))
        return out

    async def _check_log(self, entry: Mapping[str, Any]) -> str | None:
        """A storage failure other than NoSuchKey stops the run, as it stops the CLI."""
        try:
            bucket, key, expected = entry["s3Bucket"], entry["s3Object"], entry["hashValue"]
        except KeyError:
            self._advance("log")
            return "invalid format"
        try:
            stored = await self._fetch(str(bucket), str(key))
            if stored is None:
                return "not found"
            if len(stored.body) <= _INLINE_CHECK_BYTES:
                # A thread hop costs more than gunzip + SHA-256 of a small file (most log files).
                return check_log(stored.body, str(expected))
            async with self._gate:
                return await asyncio.to_thread(check_log, stored.body, str(expected))
        finally:
            self._advance("log")

    def _expect(self, what: str, count: int) -> None:
        if self._progress is not None and count:
            self._progress.expect(what, count)

    def _advance(self, what: str) -> None:
        if self._progress is not None:
            self._progress.advance(what)


_INLINE_CHECK_BYTES = 256 * 1024


def _pop_last(stack: list[str], before: str | None) -> tuple[str | None, int | None]:
    """The CLI's ``_get_last_digest``: the newest listed key, or the newest older than ``before``."""
    limit = _key_ms(before) if before is not None else None
    while stack:
        key = stack.pop()
        key_ms = _key_ms(key)
        if limit is None or key_ms < limit:
            return key, key_ms
    return None, None


def _log_files(digest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    files = digest.get("logFiles") or []
    return [entry if isinstance(entry, dict) else {} for entry in files] if isinstance(files, list) else []


def _track_found(out: Outcome, target: Target, digest: Mapping[str, Any]) -> None:
    """The CLI's "Results found for" range: valid digests only, clipped to the requested range."""
    start = max(_parse_ms(digest["digestStartTime"]), target.start_ms)
    end = min(_parse_ms(digest["digestEndTime"]), target.end_ms)
    out.found_start_ms = start if out.found_start_ms is None else min(out.found_start_ms, start)
    out.found_end_ms = end if out.found_end_ms is None else max(out.found_end_ms, end)
