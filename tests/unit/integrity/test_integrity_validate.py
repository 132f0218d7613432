"""integrity/validate.py: the AWS CLI's verdicts on digests and log files written by the real writer."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.unit.delivery.support import trail
from tests.unit.journal.support import ACCOUNT
from trailkeeper.control.model import Trail
from trailkeeper.integrity.checks import check_log
from trailkeeper.integrity.key_store import FileKeyStore
from trailkeeper.integrity.keys import KeyStore
from trailkeeper.integrity.sources import LocalKeys
from trailkeeper.integrity.validate import Outcome, Target, ValidationError, Validator

from .support import BUCKET, PERIOD_MS, Digests, digests

KeysIn = Callable[[Path], KeyStore]
START = 1_767_312_000_000 - 60_000  # a minute before the delivery world's clock starts


@dataclass
class Counted:
    expected_digests: int
    expected_logs: int


async def _trail_with_digests(d: Digests, periods: int = 3) -> Trail:
    t = trail(log_file_validation=True, s3_key_prefix="pfx")
    await d.start(t)
    for _ in range(periods):
        await d.tick(1000, events=2)
        await d.tick(PERIOD_MS)
    return t


async def _validate(d: Digests, t: Trail, *, region: str = "us-east-1") -> Outcome:
    target = Target(t.arn, BUCKET, t.s3_key_prefix, START, d.w.clock.now_ms, ACCOUNT, region)
    return await Validator(d.w.buckets.store, LocalKeys(FileKeyStore(d.keys), region)).run(target)


def _errors(out: Outcome) -> list[str]:
    return [s.text for s in out.statuses if s.error]


def test_untouched_trail_every_digest_and_log_file_valid(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = await _trail_with_digests(d)
            out = await _validate(d, t)
            assert out.ok
            assert (out.valid_digests, out.invalid_digests) == (3, 0)
            assert (out.valid_logs, out.invalid_logs) == (len(await d.logs()), 0) == (3, 0)
            assert _errors(out) == []
            lines = [s.text for s in out.statuses]
            assert lines[0].startswith(f"Digest file\ts3://{BUCKET}/pfx/AWSLogs/{ACCOUNT}/CloudTrail-Digest/")
            assert lines[0].endswith("\tvalid")
            assert lines[1].startswith("Log file\ts3://")
            first = min(doc.doc["digestStartTime"] for doc in (await d.digests()).values())
            assert out.found_start_ms is not None
            assert out.found_end_ms == d.w.clock.now_ms // 1000 * 1000
            assert first.startswith("2026-01-02T00:00:00")

    asyncio.run(scenario())


def test_tampered_files_reported_exactly_as_the_aws_cli_words_them(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = await _trail_with_digests(d, periods=4)
            store, found = d.w.buckets.store.inner, await d.digests()
            keys = list(found)
            edited, deleted = (
                f["s3Object"] for f in found[keys[0]].doc["logFiles"][:1] + found[keys[1]].doc["logFiles"][:1]
            )
            body = gzip.decompress((await store.get(BUCKET, edited)).body).replace(
                b'"Records":[', b'"Records":[{},'
            )
            await store.put(BUCKET, edited, gzip.compress(body))
            await store.delete(BUCKET, deleted)
            altered = found[keys[2]]
            doc = dict(altered.doc, logFiles=[])  # hide a file: the signature no longer holds
            await store.put(
                BUCKET, keys[2], gzip.compress(json.dumps(doc).encode()), metadata=altered.metadata
            )
            out = await _validate(d, t)
            assert not out.ok
            assert sorted(_errors(out)) == sorted([
                f"Digest file\ts3://{BUCKET}/{keys[2]}\tINVALID: signature verification failed",
                f"Log file\ts3://{BUCKET}/{edited}\tINVALID: hash value doesn't match",
                f"Log file\ts3://{BUCKET}/{deleted}\tINVALID: not found",
            ])  # fmt: skip
            assert (out.valid_digests, out.invalid_digests, out.valid_logs, out.invalid_logs) == (3, 1, 1, 2)

    asyncio.run(scenario())


def test_deleted_digest_not_found_and_walk_goes_on_to_older_ones(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = await _trail_with_digests(d)
            keys = list(await d.digests())
            await d.w.buckets.store.inner.delete(BUCKET, keys[1])
            out = await _validate(d, t)
            # The newest digest still names the deleted one; the walk then takes the oldest listed key.
            assert _errors(out) == [f"Digest file\ts3://{BUCKET}/{keys[1]}\tINVALID: not found"]
            assert (out.valid_digests, out.invalid_digests, out.valid_logs) == (2, 1, 2)

    asyncio.run(scenario())


def test_digest_copied_to_another_key_has_been_moved(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = await _trail_with_digests(d, periods=1)
            [key] = list(await d.digests())
            stored = await d.w.buckets.store.inner.get(BUCKET, key)
            later = key[:-24] + "20260102T003000Z.json.gz"  # within end + 1 h: listed
            await d.w.buckets.store.inner.put(BUCKET, later, stored.body, metadata=stored.info.metadata)
            out = await _validate(d, t)
            assert (
                _errors(out)[0]
                == f"Digest file\ts3://{BUCKET}/{later}\tINVALID: has been moved from its original location"
            )
            assert out.valid_digests == 1

    asyncio.run(scenario())


def test_logging_stopped_and_started_again_reports_gap_not_invalid(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = await _trail_with_digests(d, periods=1)
            await d.stop(t)
            await d.tick(1000)  # final digest
            await d.tick(3 * PERIOD_MS)
            await d.restart_logging(t)
            await d.tick(1000)
            await d.tick(PERIOD_MS, events=1)
            out = await _validate(d, t)
            assert out.ok
            assert out.valid_digests == 3
            [gap] = _errors(out)
            assert gap.startswith("No log files were delivered by CloudTrail between 2026-01-02T00:00:")

    asyncio.run(scenario())


def test_no_public_keys_for_region_stops_validation(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = await _trail_with_digests(d, periods=1)
            with pytest.raises(ValidationError, match="No public keys found between"):
                await _validate(d, t, region="ap-south-1")

    asyncio.run(scenario())


def test_target_bad_arn_or_range_refused() -> None:
    with pytest.raises(ValidationError, match="Invalid trail ARN provided"):
        Target("arn:aws:s3:::bucket", BUCKET, None, 0, 1, ACCOUNT, "us-east-1")
    with pytest.raises(ValidationError, match="start-time must occur before end-time"):
        Target(f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/main", BUCKET, None, 2, 1, ACCOUNT, "us-east-1")


def test_check_log_one_member_only_and_hash_of_content() -> None:
    body = b'{"Records":[]}\n'
    import hashlib

    sha = hashlib.sha256(body).hexdigest()
    assert check_log(gzip.compress(body), sha) is None
    assert check_log(gzip.compress(body) * 2, sha) == "unexpected data after end of compressed stream"
    assert check_log(gzip.compress(body), "0" * 64) == "hash value doesn't match"
    assert check_log(b"not gzip", sha) == "invalid format"
