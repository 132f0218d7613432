"""delivery/state.py: schema beside other tables, manifests, the one-transaction commit, and the outbox."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from trailkeeper.delivery.base import DeliveredFile, Outbox
from trailkeeper.delivery.state import DeliveryState, Manifest, PlannedFile, StateError

ARN = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"
OTHER_ARN = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/other"


def _manifest(arn: str = ARN, after: int = 0, to: int = 10, *, kms: str | None = None) -> Manifest:
    files = (
        PlannedFile(
            f"AWSLogs/111122223333/CloudTrail/us-east-1/k{after}a.json.gz",
            "111122223333",
            "us-east-1",
            (2, 5),
        ),
        PlannedFile(
            f"AWSLogs/111122223333/CloudTrail/eu-west-1/k{after}b.json.gz", "111122223333", "eu-west-1", (7,)
        ),
    )
    return Manifest(arn, "logs", after, to, 1_767_225_600_000, "aws:kms" if kms else "AES256", kms, files)


def _delivered(manifest: Manifest) -> list[DeliveredFile]:
    return [
        DeliveredFile(
            manifest.trail_arn,
            manifest.bucket,
            f.key,
            f.account_id,
            f.region,
            "ab" * 32,
            1,
            2,
            manifest.delivered_ms,
            f.seqs,
        )
        for f in manifest.files
    ]


@asynccontextmanager
async def opened(path: Path) -> AsyncIterator[DeliveryState]:
    state = DeliveryState(path)
    await state.open()
    try:
        yield state
    finally:
        await state.close()


def test_delivery_state_satisfies_outbox_protocol(tmp_path: Path) -> None:
    outbox: Outbox = DeliveryState(tmp_path / "state.sqlite3")  # mypy checks the protocol here
    assert "state.sqlite3" in DeliveryState(tmp_path / "state.sqlite3").describe()
    assert outbox is not None


def test_schema_lives_beside_other_tables_and_keeps_their_user_version(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE trails (arn TEXT PRIMARY KEY)")
    other.execute("PRAGMA user_version = 7")  # the trail store's own migrations
    other.commit()
    other.close()

    async def scenario() -> None:
        for _ in range(2):  # the second open finds the schema current and changes nothing
            async with opened(path):
                pass

    asyncio.run(scenario())
    check = sqlite3.connect(path)
    tables = {row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"trails", "delivery_schema", "delivery_cursors", "delivery_manifests"} <= tables
    assert check.execute("PRAGMA user_version").fetchone()[0] == 7
    assert check.execute("SELECT version FROM delivery_schema").fetchall() == [(1,)]
    check.close()


def test_manifest_encodes_and_decodes_unchanged() -> None:
    manifest = _manifest(kms="arn:aws:kms:us-east-1:111122223333:key/k")
    assert Manifest.decode(manifest.encode()) == manifest


def test_saved_manifest_survives_reopen_and_blocks_a_second_batch(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "s.sqlite3") as state:
            await state.save_manifest(_manifest())
            with pytest.raises(StateError, match="already has a batch in flight"):
                await state.save_manifest(_manifest(after=10, to=20))
        async with opened(tmp_path / "s.sqlite3") as state:
            assert await state.manifest(ARN) == _manifest()
            assert await state.manifests() == [_manifest()]
            assert await state.manifest(OTHER_ARN) is None

    asyncio.run(scenario())


def test_commit_moves_cursor_indexes_files_queues_notices_and_drops_manifest(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "s.sqlite3") as state:
            manifest = _manifest()
            await state.save_manifest(manifest)
            ids = await state.commit(manifest, _delivered(manifest), ["sns", "eventbridge"])
            assert len(ids) == 2
            assert await state.cursor(ARN) == 10
            assert await state.manifest(ARN) is None
            assert await state.files(ARN) == _delivered(manifest)
            [notice] = await state.due("sns", now_ms=0, limit=10)
            assert (notice.sink, notice.trail_arn, notice.files) == ("sns", ARN, tuple(_delivered(manifest)))
            assert await state.pending("eventbridge") == 1

    asyncio.run(scenario())


def test_commit_twice_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "s.sqlite3") as state:
            manifest = _manifest()
            await state.save_manifest(manifest)
            await state.commit(manifest, _delivered(manifest), ["sns"])
            with pytest.raises(StateError, match="no pending batch"):
                await state.commit(manifest, _delivered(manifest), ["sns"])
            assert len(await state.files(ARN)) == 2
            assert await state.pending("sns") == 1

    asyncio.run(scenario())


def test_commit_of_a_batch_without_files_queues_no_notice(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "s.sqlite3") as state:
            manifest = _manifest()
            await state.save_manifest(manifest)
            assert await state.commit(manifest, [], ["sns"]) == []
            assert await state.pending("sns") == 0
            assert await state.cursor(ARN) == 10

    asyncio.run(scenario())


def test_cursor_never_moves_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "s.sqlite3") as state:
            assert await state.cursor(ARN) == 0
            await state.advance(ARN, 40)
            await state.advance(ARN, 12)
            assert await state.cursor(ARN) == 40
            assert await state.cursor(OTHER_ARN) == 0

    asyncio.run(scenario())


def test_outbox_due_retry_done_and_pending(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "s.sqlite3") as state:
            manifest = _manifest()
            await state.save_manifest(manifest)
            await state.commit(manifest, _delivered(manifest), ["sns"])
            # A file already indexed is referred to, not indexed again.
            first = await state.enqueue("sns", ARN, _delivered(manifest)[:1])
            assert len(await state.files(ARN)) == 2
            [a, b] = await state.due("sns", now_ms=0, limit=10)
            assert b.id == first
            assert len(b.files) == 1
            await state.retry(a.id, not_before_ms=5_000, error="NotFound: topic")
            assert [n.id for n in await state.due("sns", now_ms=4_999, limit=10)] == [b.id]
            [_, later] = await state.due("sns", now_ms=5_000, limit=10)  # the retried one comes last
            assert (later.id, later.attempts, later.last_error) == (a.id, 1, "NotFound: topic")
            await state.done(b.id)
            assert await state.pending("sns") == 1
            assert await state.due("cloudwatch-logs", 10**13, 10) == []

    asyncio.run(scenario())


def test_files_filters_by_delivery_time(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "s.sqlite3") as state:
            manifest = _manifest()
            await state.save_manifest(manifest)
            await state.commit(manifest, _delivered(manifest), [])
            at = manifest.delivered_ms
            assert len(await state.files(ARN, since_ms=at, until_ms=at + 1)) == 2
            assert await state.files(ARN, since_ms=at + 1) == []
            assert await state.files(ARN, until_ms=at) == []

    asyncio.run(scenario())


def test_files_after_follows_commit_order_even_for_a_batch_planned_earlier(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "s.sqlite3") as state:
            late = _manifest(OTHER_ARN, after=100, to=110)  # planned first, committed last (an outage)
            await state.save_manifest(late)
            first = _manifest()
            await state.save_manifest(first)
            await state.commit(first, _delivered(first), [])
            floor = await state.last_file_id(ARN, before_ms=first.delivered_ms + 1)
            assert floor > 0
            assert await state.last_file_id(ARN, before_ms=first.delivered_ms) == 0
            await state.commit(late, _delivered(late), [])
            assert await state.files_after(ARN, floor) == []
            rows = await state.files_after(OTHER_ARN, 0)
            assert [f for _, f in rows] == _delivered(late)
            assert all(file_id > floor for file_id, _ in rows)

    asyncio.run(scenario())


def test_closed_state_refuses_work(tmp_path: Path) -> None:
    async def scenario() -> None:
        state = DeliveryState(tmp_path / "s.sqlite3")
        with pytest.raises(StateError, match="not open"):
            await state.cursor(ARN)

    asyncio.run(scenario())
