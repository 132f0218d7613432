"""Local bucket retention (storage/retention.py): objects older than N days go, others stay."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.unit.storage.support import ACCOUNT
from trailkeeper.config import AccountConfig, BucketConfig, Settings
from trailkeeper.storage.registry import BucketRegistry
from trailkeeper.storage.retention import prune_local_once, run_local_retention

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _registry(tmp_path: Path, moment: list[float]) -> BucketRegistry:
    settings = Settings(
        data_dir=tmp_path, accounts=(AccountConfig(ACCOUNT),), buckets=(BucketConfig("keep-logs"),)
    )
    return BucketRegistry.from_settings(settings, clock=lambda: moment[0])


def test_prune_local_once_deletes_only_objects_older_than_the_window(tmp_path: Path) -> None:
    moment = [(NOW - timedelta(days=40)).timestamp()]
    registry = _registry(tmp_path, moment)
    asyncio.run(registry.local.put("keep-logs", "AWSLogs/old.json.gz", b"old"))
    moment[0] = (NOW - timedelta(days=2)).timestamp()
    asyncio.run(registry.local.put("keep-logs", "AWSLogs/new.json.gz", b"new"))
    assert asyncio.run(prune_local_once(registry, 30, NOW)) == 1
    assert [o.key for o in asyncio.run(registry.local.list("keep-logs")).objects] == ["AWSLogs/new.json.gz"]
    assert asyncio.run(prune_local_once(registry, 30, NOW)) == 0


def test_run_local_retention_survives_a_vanished_bucket_folder(tmp_path: Path) -> None:
    moment = [(NOW - timedelta(days=40)).timestamp()]
    registry = _registry(tmp_path, moment)
    registry.create("gone-bucket", ACCOUNT)
    (tmp_path / "buckets" / "gone-bucket").rmdir()
    asyncio.run(registry.local.put("keep-logs", "old", b"x"))

    async def one_round() -> None:
        task = asyncio.create_task(
            run_local_retention(registry, days=30, every_seconds=3600, clock=lambda: NOW)
        )
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(one_round())
    assert asyncio.run(registry.local.list("keep-logs")).objects == []
