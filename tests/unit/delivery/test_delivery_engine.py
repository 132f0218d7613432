"""delivery/engine.py: scope, logging windows, bounded batches, outages, manifest replay, deleted trails."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections import Counter
from pathlib import Path

from tests.unit.journal.support import ACCOUNT, OTHER_ACCOUNT
from trailkeeper.config import OrganizationConfig
from trailkeeper.delivery.engine import DeliveryFailed, delivery_error
from trailkeeper.delivery.logfile import EMPTY_BODY_BYTES
from trailkeeper.errors import AwsError
from trailkeeper.storage.errors import StorageUnavailable

from .support import RecordingSink, World, trail, world

THIRD_ACCOUNT = "777788889999"
ORG = OrganizationConfig("o-exampleorgid", ACCOUNT, (OTHER_ACCOUNT,))


async def _ids(w: World) -> Counter[str]:
    return Counter(r["eventID"] for r in await w.records())


def test_single_region_trail_delivers_only_its_account_and_home_region(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            await w.logging(trail())
            home = await w.append(2)
            await w.append(1, region="eu-west-1")
            await w.append(1, account_id=OTHER_ACCOUNT)
            report = await w.engine.flush()
            assert (report.files, report.events) == (1, 2)
            assert await _ids(w) == Counter(e.event_id for e in home)
            [key] = await w.objects()
            assert key.startswith(
                f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/01/02/{ACCOUNT}_CloudTrail_us-east-1_"
            )

    asyncio.run(scenario())


def test_multi_region_trail_writes_one_file_per_region_per_flush(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            await w.logging(trail(is_multi_region=True))
            made = await w.append(3) + await w.append(2, region="eu-west-1")
            await w.engine.flush()
            keys = sorted(await w.objects())
            assert [k.split("/")[3] for k in keys] == ["eu-west-1", "us-east-1"]
            assert await _ids(w) == Counter(e.event_id for e in made)
            assert (await w.engine.flush()).files == 0  # nothing new: no empty files

    asyncio.run(scenario())


def test_organization_trail_delivers_member_accounts_under_the_org_id(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path, organization=ORG) as w:
            await w.logging(trail(is_organization=True))
            made = await w.append(1) + await w.append(2, account_id=OTHER_ACCOUNT)
            await w.append(1, account_id=THIRD_ACCOUNT)  # not in the organization
            await w.engine.flush()
            keys = sorted(await w.objects())
            assert sorted(k.split("/")[2] for k in keys) == sorted([ACCOUNT, OTHER_ACCOUNT])
            assert all(k.startswith("AWSLogs/o-exampleorgid/") for k in keys)
            assert await _ids(w) == Counter(e.event_id for e in made)

    asyncio.run(scenario())


def test_events_while_logging_is_stopped_are_not_delivered(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            await w.append(2)  # before StartLogging
            await w.logging(trail())
            logged = await w.append(2)
            stop_at = await w.journal.last_seq()
            await w.trails.update_status(trail().arn, is_logging=False, stopped_at_seq=stop_at)
            await w.append(3)  # while stopped: never delivered
            await w.engine.flush()  # the backlog up to the stop is still delivered
            assert await _ids(w) == Counter(e.event_id for e in logged)
            restart = await w.journal.last_seq()
            await w.trails.update_status(
                trail().arn, is_logging=True, stopped_at_seq=None, logging_since_seq=restart
            )
            later = await w.append(1)
            await w.engine.flush()
            assert await _ids(w) == Counter(e.event_id for e in logged + later)

    asyncio.run(scenario())


def test_stop_and_start_before_a_flush_keeps_the_backlog_and_skips_only_the_pause(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            await w.logging(trail())
            before = await w.append(2)
            stop_at = await w.journal.last_seq()
            await w.trails.update_status(trail().arn, is_logging=False, stopped_at_seq=stop_at)
            await w.append(3)  # while stopped
            restart = await w.journal.last_seq()
            # What StartLogging stores on a restart (control/operations.py): the pause, not a new floor.
            await w.trails.update_status(
                trail().arn, is_logging=True, stopped_at_seq=None, paused=((stop_at, restart),)
            )
            after = await w.append(2)
            await w.engine.flush()  # the first flush since the trail started
            assert await _ids(w) == Counter(e.event_id for e in before + after)

    asyncio.run(scenario())


def test_stopped_trail_with_nothing_logged_moves_its_cursor_to_the_stop(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            await w.append(3)
            await w.logging(trail())
            stop_at = await w.journal.last_seq()
            await w.trails.update_status(trail().arn, is_logging=False, stopped_at_seq=stop_at)
            await w.engine.flush()
            assert await w.state.cursor(trail().arn) == stop_at
            assert await w.objects() == {}

    asyncio.run(scenario())


def test_backlog_is_delivered_in_full_files_within_the_bound_each_event_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path, max_file_bytes=4096) as w:
            await w.logging(trail(is_multi_region=True))
            home = await w.append(100)
            await w.engine.flush()
            per_file = (4096 - EMPTY_BODY_BYTES + 1) // (len(home[0].record) + 1)
            bodies = [gzip.decompress(o.body) for o in (await w.objects()).values()]
            assert sorted(len(json.loads(b)["Records"]) for b in bodies)[1:] == [per_file] * (len(bodies) - 1)
            assert len(bodies) == -(-100 // per_file)  # one batch per full file: no fragments
            both = await w.append(30) + await w.append(30, region="eu-west-1")
            w.clock.now_ms += 1000
            await w.engine.flush()
            bodies = [gzip.decompress(o.body) for o in (await w.objects()).values()]
            assert all(len(b) <= 4096 for b in bodies)
            assert await _ids(w) == Counter(e.event_id for e in home + both)

    asyncio.run(scenario())


def test_outage_shows_in_status_backs_off_then_delivers_exactly_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            arn = trail().arn
            await w.logging(trail())
            made = await w.append(3)
            w.buckets.store.failure = AwsError("NoSuchBucket", "The specified bucket does not exist", 404)
            report = await w.engine.flush()
            assert report.failed_trails == [arn]
            status = await w.trails.status(arn)
            assert (status.latest_delivery_error, status.latest_delivery_attempt_ms) == (
                "NoSuchBucket",
                w.clock.now_ms,
            )
            assert status.latest_delivery_ms is None
            assert await w.state.manifest(arn) is not None  # the planned batch is kept
            made += await w.append(2)
            w.buckets.store.failure = None
            assert (await w.engine.flush()).files == 0  # backing off: not retried before the next interval
            w.clock.now_ms += 1000
            await w.engine.flush()
            assert await _ids(w) == Counter(e.event_id for e in made)
            status = await w.trails.status(arn)
            assert status.latest_delivery_error is None
            assert status.latest_delivery_ms == status.latest_delivery_attempt_succeeded_ms == w.clock.now_ms

    asyncio.run(scenario())


def test_replay_after_a_crash_mid_batch_rewrites_the_same_keys_with_the_same_bytes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            await w.logging(trail(is_multi_region=True))
            made = (
                await w.append(2)
                + await w.append(2, region="eu-west-1")
                + await w.append(2, region="ap-south-1")
            )
            w.buckets.store.failure, w.buckets.store.fail_after = ConnectionError("endpoint down"), 1
            await w.engine.flush()  # one object written, then the "crash"
            [(written_key, first)] = [(k, o.body) for k, o in (await w.objects()).items()]
            manifest = await w.state.manifest(trail().arn)
            assert manifest is not None
            w.buckets.store.failure = None
            w.clock.now_ms += 60_000  # a later flush must still use the manifest's keys and time
            await w.engine.flush()
            assert sorted(await w.objects()) == sorted(f.key for f in manifest.files)
            assert (await w.objects())[written_key].body == first
            assert await _ids(w) == Counter(e.event_id for e in made)
            files = await w.state.files(trail().arn)
            assert sorted(seq for f in files for seq in f.seqs) == list(range(1, 7))

    asyncio.run(scenario())


def test_trail_deleted_mid_batch_finishes_its_manifest_then_stops(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            await w.logging(trail())
            made = await w.append(2)
            w.buckets.store.failure = ConnectionError("endpoint down")
            await w.engine.flush()
            await w.trails.delete(trail().arn)
            await w.append(2)
            w.buckets.store.failure = None
            w.clock.now_ms += 10_000
            await w.engine.flush()
            assert await _ids(w) == Counter(e.event_id for e in made)
            assert await w.state.manifests() == []

    asyncio.run(scenario())


def test_bucket_the_account_may_not_write_reports_access_denied(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            stranger = trail(account_id=OTHER_ACCOUNT)  # the bucket's policy names no other writer
            await w.logging(stranger)
            await w.append(1, account_id=OTHER_ACCOUNT)
            await w.engine.flush()
            assert (await w.trails.status(stranger.arn)).latest_delivery_error == "AccessDenied"
            assert await w.objects() == {}

    asyncio.run(scenario())


def test_objects_carry_sse_and_content_headers_kms_when_the_trail_has_a_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            kms = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            await w.logging(trail())
            await w.logging(trail("encrypted", kms_key_id=kms))
            await w.append(1)
            await w.engine.flush()
            infos = {o.info.kms_key_id: o.info for o in (await w.objects()).values()}
            assert (infos[None].sse, infos[kms].sse) == ("AES256", "aws:kms")
            assert {(i.content_type, i.content_encoding) for i in infos.values()} == {
                ("application/json", "gzip")
            }

    asyncio.run(scenario())


def test_sinks_that_want_the_trail_get_one_notice_per_batch(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path, sinks=[RecordingSink("sns")]) as w:
            await w.logging(trail("quiet"))
            await w.logging(
                trail(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:ct", is_multi_region=True)
            )
            await w.append(1)
            await w.append(1, region="eu-west-1")
            await w.engine.flush()
            [notice] = await w.state.due("sns", now_ms=w.clock.now_ms, limit=10)
            assert notice.trail_arn == trail().arn
            assert sorted(f.region for f in notice.files) == ["eu-west-1", "us-east-1"]

    asyncio.run(scenario())


def test_event_selectors_keep_only_what_the_trail_logs(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            selectors = ({"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True},)
            await w.logging(trail(event_selectors=selectors))
            await w.append(2, read_only=True)
            writes = await w.append(1, event_name="CreateDatabase", read_only=False)
            await w.engine.flush()
            assert await _ids(w) == Counter(e.event_id for e in writes)

    asyncio.run(scenario())


def test_out_of_scope_events_move_the_cursor_without_files(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            await w.logging(trail())
            await w.append(5, account_id=OTHER_ACCOUNT)
            await w.engine.flush()
            assert await w.objects() == {}
            assert await w.state.cursor(trail().arn) == await w.journal.last_seq()

    asyncio.run(scenario())


def test_delivery_error_uses_s3_codes_and_names_endpoint_failures() -> None:
    assert delivery_error(AwsError("AccessDenied", "Access Denied", 403)) == "AccessDenied"
    assert delivery_error(DeliveryFailed("NoSuchBucket", "gone")) == "NoSuchBucket"
    assert delivery_error(StorageUnavailable("EndpointConnectionError", "Could not connect")) == (
        "EndpointConnectionError"
    )
    assert delivery_error(ConnectionRefusedError(111, "refused")) == "ConnectionRefusedError"
