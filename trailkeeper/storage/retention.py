"""Local bucket retention: the registry and a number of days in, old objects deleted (and how many) out.

It stands in for the S3 lifecycle rule users put on a trail bucket: objects of local buckets last
modified more than ``days`` days ago are deleted. Buckets on an S3 endpoint keep their own rules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from trailkeeper.storage.errors import S3Error
from trailkeeper.storage.registry import BucketRegistry

__all__ = ["prune_local_once", "run_local_retention"]

_log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def prune_local_once(registry: BucketRegistry, days: int, now: datetime) -> int:
    """Delete local objects last modified more than ``days`` days before ``now``; return how many."""
    before_ms = int((now - timedelta(days=days)).timestamp() * 1000)
    deleted = 0
    for bucket in registry.local_buckets():
        try:
            deleted += await registry.local.prune(bucket, before_ms)
        except S3Error:
            _log.warning("bucket retention: the folder of bucket %s is gone", bucket)
    return deleted


async def run_local_retention(
    registry: BucketRegistry,
    *,
    days: int,
    every_seconds: float = 3600,
    clock: Callable[[], datetime] = _utc_now,
) -> None:
    """Prune now and then every ``every_seconds`` until cancelled.

    A failure (a folder that vanished, a disk error) is logged and retried on the next round:
    retention is never urgent, and it must not stop because one bucket misbehaves.
    """
    while True:
        try:
            deleted = await prune_local_once(registry, days, clock())
        except Exception:  # a worker loop: any failure becomes a retry, logged
            _log.exception("bucket retention failed; retrying in %.0f s", every_seconds)
        else:
            if deleted:
                _log.info("bucket retention: deleted %d objects older than %d days", deleted, days)
        await asyncio.sleep(every_seconds)
