"""The SQLite trail store: trails, status and tags survive a restart; status updates are never lost."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from trailkeeper.control.model import Trail, TrailStatus
from trailkeeper.control.sqlite_store import SqliteTrailStore, TrailStoreError
from trailkeeper.control.store import TrailStore
from trailkeeper.errors import AwsError

A, B = "111122223333", "444455556666"

FULL = Trail(
    account_id=A,
    home_region="eu-west-1",
    name="full-trail",
    s3_bucket="audit-logs",
    s3_key_prefix="prefix",
    sns_topic_arn=f"arn:aws:sns:eu-west-1:{A}:topic",
    include_global_service_events=False,
    is_multi_region=False,
    is_organization=True,
    log_file_validation=True,
    cloudwatch_logs_log_group_arn=f"arn:aws:logs:eu-west-1:{A}:log-group:g:*",
    cloudwatch_logs_role_arn=f"arn:aws:iam::{A}:role/r",
    kms_key_id=f"arn:aws:kms:eu-west-1:{A}:alias/k",
    event_selectors=None,
    advanced_event_selectors=(
        {"Name": "m", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
    ),
    tags=(("team", "data"), ("owner", "")),
    created_ms=1_700_000_000_123,
)


def _asyncio_run(main: Coroutine[Any, Any, None]) -> None:
    """asyncio.run on a thread of its own: a browser driver of another test may hold this thread's loop."""
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, main).result()


def _run(path: Path, scenario: Callable[[SqliteTrailStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = SqliteTrailStore(path)
        checked: TrailStore = store  # the implementation satisfies the contract (mypy checks this line)
        await checked.open()
        try:
            await scenario(store)
        finally:
            await store.close()

    _asyncio_run(main())


def test_store_round_trips_every_trail_field(tmp_path: Path) -> None:
    async def scenario(store: SqliteTrailStore) -> None:
        await store.create(FULL)
        assert await store.get(FULL.arn) == FULL
        assert await store.get(FULL.arn.replace("full", "none")) is None

    _run(tmp_path / "state.sqlite3", scenario)


def test_store_lists_by_account_and_all(tmp_path: Path) -> None:
    trails = [
        Trail(A, "us-east-1", "b-trail", "x"),
        Trail(A, "eu-west-1", "a-trail", "x"),
        Trail(B, "us-east-1", "c", "x"),
    ]

    async def scenario(store: SqliteTrailStore) -> None:
        for trail in trails:
            await store.create(trail)
        assert [t.name for t in await store.trails_of(A)] == ["a-trail", "b-trail"]
        assert [t.arn for t in await store.all()] == sorted(t.arn for t in trails)

    _run(tmp_path / "state.sqlite3", scenario)


def test_store_create_twice_is_trail_already_exists(tmp_path: Path) -> None:
    async def scenario(store: SqliteTrailStore) -> None:
        await store.create(FULL)
        with pytest.raises(AwsError) as info:
            await store.create(FULL)
        assert info.value.code == "TrailAlreadyExistsException"
        assert info.value.message == f"Trail full-trail already exists for customer: {A}"

    _run(tmp_path / "state.sqlite3", scenario)


def test_store_replace_and_delete(tmp_path: Path) -> None:
    async def scenario(store: SqliteTrailStore) -> None:
        with pytest.raises(AwsError) as info:
            await store.replace(FULL)
        assert info.value.code == "TrailNotFoundException"
        await store.create(FULL)
        changed = Trail(A, "eu-west-1", "full-trail", "other-bucket", tags=(("k", "v"),))
        await store.replace(changed)
        assert await store.get(FULL.arn) == changed
        await store.update_status(FULL.arn, is_logging=True)
        assert await store.delete(FULL.arn) is True
        assert await store.delete(FULL.arn) is False
        assert await store.get(FULL.arn) is None
        assert await store.status(FULL.arn) == TrailStatus()  # the status went with the trail

    _run(tmp_path / "state.sqlite3", scenario)


def test_store_restart_keeps_trails_status_and_tags(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    started = TrailStatus(is_logging=True, start_logging_ms=5, logging_since_seq=42, extra={"note": "x"})

    async def before(store: SqliteTrailStore) -> None:
        await store.create(FULL)
        assert await store.status(FULL.arn) == TrailStatus()
        changed = await store.update_status(
            FULL.arn, is_logging=True, start_logging_ms=5, logging_since_seq=42, extra={"note": "x"}
        )
        assert changed == started

    async def after(store: SqliteTrailStore) -> None:
        assert await store.get(FULL.arn) == FULL
        assert await store.status(FULL.arn) == started

    _run(path, before)
    _run(path, after)


def test_store_concurrent_status_updates_lose_nothing(tmp_path: Path) -> None:
    """Two stores on one file (two nodes) and many concurrent callers: every field change stays."""
    path = tmp_path / "state.sqlite3"

    async def main() -> None:
        first, second = SqliteTrailStore(path), SqliteTrailStore(path)
        await first.open()
        await second.open()
        try:
            await first.create(FULL)
            updates = [
                (first if i % 2 else second).update_status(FULL.arn, extra={}, **{field: i})
                for i, field in enumerate(
                    [
                        "latest_delivery_ms",
                        "latest_notification_ms",
                        "latest_cloudwatch_logs_delivery_ms",
                        "latest_digest_delivery_ms",
                        "latest_delivery_attempt_ms",
                        "stop_logging_ms",
                        "start_logging_ms",
                        "logging_since_seq",
                    ],
                    start=1,
                )
            ]
            await asyncio.gather(*updates)
            status = await first.status(FULL.arn)
            assert (status.latest_delivery_ms, status.latest_notification_ms, status.logging_since_seq) == (
                1,
                2,
                8,
            )
            assert (status.latest_cloudwatch_logs_delivery_ms, status.start_logging_ms) == (3, 7)
        finally:
            await first.close()
            await second.close()

    _asyncio_run(main())


def test_store_update_status_refuses_unknown_fields_and_skips_deleted_trails(tmp_path: Path) -> None:
    async def scenario(store: SqliteTrailStore) -> None:
        with pytest.raises(TypeError):
            await store.update_status(FULL.arn, logging=True)
        gone = await store.update_status(FULL.arn, is_logging=True)
        assert gone.is_logging is True
        assert await store.status(FULL.arn) == TrailStatus()  # a deleted (never created) trail stays gone

    _run(tmp_path / "state.sqlite3", scenario)


def test_store_keeps_its_own_schema_version_beside_other_tables(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with closing(sqlite3.connect(path)) as conn:  # another component's table in the same file
        conn.execute("CREATE TABLE delivery_cursors (trail_arn TEXT PRIMARY KEY, seq INTEGER)")

    async def create(store: SqliteTrailStore) -> None:
        await store.create(FULL)

    async def reopen(store: SqliteTrailStore) -> None:  # a second open migrates nothing again
        assert [t.name for t in await store.trails_of(A)] == ["full-trail"]

    _run(path, create)
    _run(path, reopen)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert conn.execute("SELECT version FROM control_schema").fetchall() == [(1,)]
        assert conn.execute("SELECT count(*) FROM delivery_cursors").fetchone() == (0,)
        conn.execute("UPDATE control_schema SET version = 99")
    with pytest.raises(TrailStoreError, match="newer"):
        _run(path, reopen)


def test_store_refuses_calls_when_not_open(tmp_path: Path) -> None:
    async def main() -> None:
        with pytest.raises(TrailStoreError):
            await SqliteTrailStore(tmp_path / "state.sqlite3").get(FULL.arn)

    _asyncio_run(main())
