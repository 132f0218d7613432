"""``trailkeeper validate`` / ``keys rotate``: arguments in; the AWS CLI's report and exit code out.

``validate`` prints what ``aws cloudtrail validate-logs`` prints (a header, INVALID lines and gaps
on stderr, with ``--verbose`` each valid file on stdout, then the summary) and exits 1 when any
digest or log file is invalid. Without endpoints it reads the server's own state directly (trail
store and signing keys: the data directory's, or the database of the config's PostgreSQL journal;
buckets); ``--endpoint-url`` reads the trail and public keys through a CloudTrail endpoint and
``--s3-endpoint-url`` the objects through any S3 endpoint, with boto3's usual credentials
(environment, shared files), as the AWS CLI would. ``keys rotate`` rotates in the store the
server signs with: the key folder, or with ``--journal postgresql://…`` the shared database.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from trailkeeper.config import Settings, load_settings
from trailkeeper.errors import ConfigError, TrailkeeperError
from trailkeeper.integrity.checks import display_time as shown
from trailkeeper.integrity.keys import PublicKey
from trailkeeper.integrity.sources import (
    CloudTrailKeys,
    LocalKeys,
    S3Objects,
    TrailInfo,
    describe_trail,
    trail_info,
)
from trailkeeper.integrity.validate import (
    KeySource,
    ObjectSource,
    Outcome,
    Target,
    ValidationError,
    Validator,
)

if TYPE_CHECKING:
    from trailkeeper.services.state import StateBackend

__all__ = ["add_keys_parser", "add_validate_parser", "run_keys", "run_validate"]


def add_validate_parser(commands: Any) -> None:
    p = commands.add_parser("validate", help="validate a trail's log files with its signed digest files")
    p.add_argument("--trail-arn", required=True, help="ARN of the trail to validate")
    p.add_argument("--start-time", required=True, help="validate files delivered on or after this UTC time")
    p.add_argument("--end-time", default=None, help="... and on or before this UTC time (default: now)")
    p.add_argument("--verbose", action="store_true", help="also list every valid digest and log file")
    p.add_argument("--s3-endpoint-url", default=None, help="read objects through this S3 endpoint")
    p.add_argument("--endpoint-url", default=None, help="read the trail and keys through this endpoint")
    p.add_argument("--region", default=None, help="the region whose digests to walk (default: the trail's)")
    p.add_argument("--account-id", default=None, help="the account to validate (organization trails)")
    p.add_argument("--s3-bucket", default=None, help="the bucket, if not the trail's")
    p.add_argument("--s3-prefix", default=None, help="the key prefix, if not the trail's")
    p.add_argument("--data-dir", type=Path, default=None, help="the server's data directory")
    p.add_argument("--config", type=Path, default=None, help="the server's TOML config")
    p.add_argument("--workers", type=int, default=32, help="parallel downloads (default 32)")


def add_keys_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="the digest signing keys")
    actions = keys.add_subparsers(dest="action", required=True)
    rotate = actions.add_parser("rotate", help="start new signing keys; old public keys stay listed")
    rotate.add_argument("--region", action="append", default=[], help="a region (default: every region)")
    rotate.add_argument("--data-dir", type=Path, default=None, help="the server's data directory")
    rotate.add_argument("--config", type=Path, default=None, help="the server's TOML config")
    rotate.add_argument(
        "--journal",
        default=None,
        metavar="URL",
        help="the servers' journal: postgresql://… (keys in its database)",
    )


def run_keys(args: argparse.Namespace, console: Console) -> int:
    try:
        settings = load_settings(args.config, data_dir=args.data_dir, journal_url=args.journal)
        made = asyncio.run(_rotate(settings, args.region))
    except (ConfigError, TrailkeeperError) as err:  # KeyStoreError, StateDbError among them
        console.print(f"[red]error:[/red] {err}")
        return 2
    if not made:
        console.print("no signing keys yet: nothing to rotate (keys are made when a digest is first signed)")
    for key in made:
        console.print(
            f"{key.region}: new signing key [bold]{key.fingerprint}[/bold] from {shown(key.start_ms)}"
        )
    return 0


async def _rotate(settings: Settings, regions: list[str]) -> list[PublicKey]:
    """Rotate in the store the server signs with: the key folder, or the shared database's table."""
    async with _opened_state(settings) as backend:
        store = backend.signing_keys()
        await store.open()
        try:
            return await store.rotate(regions or await store.regions(), _now_ms())
        finally:
            await store.close()


def run_validate(args: argparse.Namespace, console: Console) -> int:
    try:
        start, end = _time(args.start_time), _time(args.end_time) if args.end_time else _now_ms()
        settings = load_settings(args.config, data_dir=args.data_dir)
        with _threads(args.workers) as pool:
            outcome = asyncio.run(_validate(args, settings, start, end, pool, console))
    except (ConfigError, TrailkeeperError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        return 2
    except Exception as err:  # an endpoint refused or could not be reached: say so, no traceback
        if not isinstance(err, _endpoint_errors()):
            raise
        console.print(f"[red]error:[/red] {err}")
        return 2
    return 0 if outcome.ok else 1


def _endpoint_errors() -> tuple[type[Exception], ...]:
    if "botocore.exceptions" not in sys.modules:  # no endpoint was used
        return ()
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


async def _validate(
    args: argparse.Namespace,
    settings: Settings,
    start: int,
    end: int,
    pool: ThreadPoolExecutor,
    console: Console,
) -> Outcome:
    asyncio.get_running_loop().set_default_executor(pool)  # boto3 and hashing: one thread per request
    arn: str = args.trail_arn
    region = args.region or (arn.split(":")[3] if arn.count(":") >= 5 else "")
    async with AsyncExitStack() as closing:
        trail, objects, keys = await _sources(args, settings, arn, region, closing)
        org_id = settings.organization.id if trail.is_organization and settings.organization else None
        account = args.account_id or arn.split(":")[4]
        target = Target(arn, trail.bucket, trail.prefix, start, end, account, region, org_id)
        sys.stdout.write(f"Validating log files for trail {arn} between {shown(start)} and {shown(end)}\n\n")
        with _progress(console) as progress:
            outcome = await Validator(objects, keys, concurrency=args.workers, progress=progress).run(target)
        _report(outcome, target, args.verbose, sys.stdout, sys.stderr)
        return outcome


async def _sources(
    args: argparse.Namespace, settings: Settings, arn: str, region: str, closing: AsyncExitStack
) -> tuple[TrailInfo, ObjectSource, KeySource]:
    """The trail, the object reader and the key source the arguments ask for; each closed by ``closing``.

    boto3 is imported only when an endpoint is named: reading a data directory stays a fast start.
    """
    keys: KeySource
    if args.endpoint_url:
        cloudtrail = _client(args, "cloudtrail", args.endpoint_url, region)
        keys = CloudTrailKeys(cloudtrail)
        trail = await _trail(args, arn, lambda: describe_trail(cloudtrail, arn))
    else:
        # The data dir's SQLite and key folder, or the PostgreSQL journal's database.
        backend = await closing.enter_async_context(_opened_state(settings))
        store = backend.signing_keys()
        await store.open()
        closing.push_async_callback(store.close)
        keys = LocalKeys(store, region)
        trail = await _trail(args, arn, lambda: _local_trail(backend, arn))
    objects: ObjectSource
    if args.s3_endpoint_url:
        objects = S3Objects(_client(args, "s3", args.s3_endpoint_url, region))
    elif any(b.name == trail.bucket and b.endpoint_url for b in settings.buckets):
        from trailkeeper.storage.registry import BucketRegistry  # a configured S3 endpoint's bucket

        registry = BucketRegistry.from_settings(settings)
        closing.push_async_callback(registry.close)
        store_for = registry.store_for(trail.bucket)
        assert store_for is not None  # configured above
        objects = store_for
    else:
        from trailkeeper.storage.local import LocalObjectStore

        # storage.registry.buckets_root: the local buckets' folder (not imported: it imports boto3).
        local = LocalObjectStore(settings.data_dir / "buckets")
        closing.push_async_callback(local.close)
        if not await local.bucket_exists(trail.bucket):
            raise ValidationError(f"bucket {trail.bucket} is not one of this server's buckets")
        objects = local
    return trail, objects, keys


def _client(args: argparse.Namespace, service: str, url: str, region: str) -> Any:
    """A boto3 client with the AWS credential chain (as the AWS CLI's) and a pool as wide as the workers."""
    import boto3
    from botocore.config import Config

    config = Config(
        max_pool_connections=args.workers,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path"},  # botocore uses path style for custom endpoints anyway
    )
    session: Any = boto3.session.Session()
    return session.client(service, endpoint_url=url, region_name=region, config=config)


async def _trail(args: argparse.Namespace, arn: str, lookup: Any) -> TrailInfo:
    if args.s3_bucket:  # as the CLI: with --s3-bucket the trail is not looked up at all
        return TrailInfo(args.s3_bucket, args.s3_prefix, False)
    info: TrailInfo = await lookup()
    return info if args.s3_prefix is None else dataclasses.replace(info, prefix=args.s3_prefix)


@asynccontextmanager
async def _opened_state(settings: Settings) -> AsyncIterator[StateBackend]:
    """The server's state backend (SQLite in the data dir, or the PostgreSQL journal's), opened."""
    from trailkeeper.services.state import state_backend

    backend = state_backend(settings)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def _local_trail(backend: StateBackend, arn: str) -> TrailInfo:
    store = backend.trail_store()
    await store.open()
    try:
        trail = await store.get(arn)
    finally:
        await store.close()
    if trail is None:
        raise ValidationError(f"A trail could not be found for {arn}")
    return trail_info(trail)


def _report(outcome: Outcome, target: Target, verbose: bool, out: TextIO, err: TextIO) -> None:
    """The CLI's output, byte for byte: statuses (errors double-spaced), then the summary."""
    double_spaced = True
    for status in outcome.statuses:
        if status.error:
            err.write(f"{status.text}\n\n" if double_spaced else f"\n{status.text}\n\n")
            double_spaced = True
        elif verbose:
            out.write(f"{status.text}\n")
            double_spaced = False
    err.flush()
    if not double_spaced:
        out.write("\n")
    out.write(f"Results requested for {shown(target.start_ms)} to {shown(target.end_ms)}\n")
    if not outcome.valid_digests and not outcome.invalid_digests:
        out.write("No digests found\n")
        return
    if outcome.found_start_ms is None or outcome.found_end_ms is None:
        out.write("No valid digests found in range\n")
    else:
        out.write(f"Results found for {shown(outcome.found_start_ms)} to {shown(outcome.found_end_ms)}:\n")
    for valid, invalid, name in (
        (outcome.valid_digests, outcome.invalid_digests, "digest"),
        (outcome.valid_logs, outcome.invalid_logs, "log"),
    ):
        total = valid + invalid
        if total:
            out.write(f"\n{valid}/{total} {name} files valid")
            if invalid:
                out.write(f", {invalid}/{total} {name} files INVALID")
    out.write("\n")
    out.flush()


class _Bars:
    """The validator's Progress on a rich progress display (digests, then log files)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def expect(self, what: str, count: int) -> None:
        task = self._tasks.get(what)
        if task is None:
            label = "digest files" if what == "digest" else "log files"
            self._tasks[what] = self._progress.add_task(label, total=count)
        else:
            self._progress.update(task, total=(self._progress.tasks[task].total or 0) + count)

    def advance(self, what: str) -> None:
        if what in self._tasks:
            self._progress.advance(self._tasks[what])


@contextmanager
def _progress(console: Console) -> Iterator[_Bars | None]:
    if not console.is_terminal:  # no bar in logs and pipes: the report alone
        yield None
        return
    columns = (TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bars(progress)


@contextmanager
def _threads(workers: int) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="validate")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _time(text: str) -> int:
    """An ISO 8601 time (``2026-01-02T03:04:05Z``, a date, an offset); a time without a zone is UTC."""
    moment = datetime.fromisoformat(text)
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def _now_ms() -> int:
    return int(datetime.now(tz=UTC).timestamp() * 1000)
