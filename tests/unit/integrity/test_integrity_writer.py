"""integrity/writer.py: starting, chained, empty and final digests; nothing while stopped; exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.unit.delivery.support import trail
from tests.unit.journal.support import ACCOUNT, OTHER_ACCOUNT
from trailkeeper.config import OrganizationConfig
from trailkeeper.integrity.chain import ChainState
from trailkeeper.integrity.digest import iso_seconds, string_to_sign, verify_signature
from trailkeeper.integrity.keys import KeyStore
from trailkeeper.storage.errors import StorageUnavailable

from .support import BUCKET, PERIOD_MS, Digests, Found, digests

KeysIn = Callable[[Path], KeyStore]


def _validation(**changes: Any) -> Any:
    return trail(log_file_validation=True, s3_key_prefix="pfx", **changes)


def _check_chain(found: dict[str, Found], keys: KeyStore) -> None:
    """Each digest is signed by a listed key and links to the one before it (start = previous end)."""
    previous: tuple[str, Found] | None = None
    listed = {k.fingerprint: k for k in keys.public_keys("us-east-1", 0, 2**62)}
    for key, digest in found.items():
        doc, meta = digest.doc, digest.metadata
        assert meta["signature-algorithm"] == "SHA256withRSA"
        public = listed[doc["digestPublicKeyFingerprint"]]
        sha = hashlib.sha256(digest.body).hexdigest()
        signed = string_to_sign(doc["digestEndTime"], BUCKET, key, sha, doc["previousDigestSignature"])
        assert verify_signature(public.der, signed, meta["signature"])
        if previous is not None and doc["previousDigestS3Object"] is not None:
            prev_key, prev = previous
            assert doc["previousDigestS3Object"] == prev_key
            assert doc["digestStartTime"] == prev.doc["digestEndTime"]
            assert doc["previousDigestSignature"] == prev.metadata["signature"]
            assert doc["previousDigestHashValue"] == hashlib.sha256(prev.body).hexdigest()
        previous = (key, digest)


async def _docs(d: Digests) -> list[dict[str, Any]]:
    return [digest.doc for digest in (await d.digests()).values()]


def test_digests_start_chain_and_cover_every_delivered_file_once(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = _validation()
            await d.start(t)
            assert await d.tick(1000, events=3) == 0  # not due before one period
            assert await d.tick(PERIOD_MS) == 1
            assert await d.tick(2000, events=2) == 0
            assert await d.tick(PERIOD_MS) == 1
            assert await d.tick(PERIOD_MS) == 1  # a period without log files
            found = await d.digests()
            docs = [digest.doc for digest in found.values()]
            assert [len(doc["logFiles"]) for doc in docs] == [1, 1, 0]
            assert docs[0]["previousDigestSignature"] is None
            assert docs[0]["digestStartTime"] == iso_seconds(d.w.clock.now_ms - 3 * PERIOD_MS - 3000)
            assert docs[2]["newestEventTime"] is None
            assert docs[2]["oldestEventTime"] is None
            listed = {f["s3Object"] for doc in docs for f in doc["logFiles"]}
            assert listed == set(await d.logs())
            first = next(iter(found))
            assert first.startswith(f"pfx/AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/01/02/")
            assert first.endswith(
                f"{ACCOUNT}_CloudTrail-Digest_us-east-1_main_us-east-1_20260102T000011Z.json.gz"
            )
            _check_chain(found, d.keys)
            status = await d.w.trails.status(t.arn)
            assert status.latest_digest_delivery_ms == d.w.clock.now_ms
            assert status.latest_digest_delivery_error is None

    asyncio.run(scenario())


def test_trail_without_validation_gets_no_digest(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            await d.start(trail())
            assert await d.tick(PERIOD_MS, events=1) == 0
            assert await d.tick(PERIOD_MS) == 0
            assert await d.digests() == {}

    asyncio.run(scenario())


def test_stop_logging_final_digest_then_nothing_then_starting_digest(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = _validation()
            await d.start(t)
            assert await d.tick(PERIOD_MS, events=1) == 1
            await d.w.append(2)  # journaled before the stop, delivered after it
            await d.stop(t)
            assert await d.tick(1000) == 0  # delivery has not written them yet: the final digest waits
            await d.w.engine.flush()
            assert await d.tick(1000) == 1  # the final digest covers them
            assert await d.tick(5 * PERIOD_MS) == 0  # nothing while stopped
            await d.restart_logging(t)
            assert await d.tick(1000) == 0  # the chain opens ...
            assert await d.tick(PERIOD_MS, events=1) == 1  # ... with a starting digest
            docs = await _docs(d)
            assert [len(doc["logFiles"]) for doc in docs] == [1, 1, 1]
            assert docs[1]["previousDigestSignature"] is not None  # the final digest is chained
            assert docs[2]["previousDigestS3Object"] is None  # the new chain starts afresh
            assert docs[2]["digestStartTime"] > docs[1]["digestEndTime"]  # the gap the CLI reports
            assert {f["s3Object"] for doc in docs for f in doc["logFiles"]} == set(await d.logs())

    asyncio.run(scenario())


def test_validation_disabled_while_logging_writes_final_digest_at_once(
    tmp_path: Path, keys_in: KeysIn
) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = _validation()
            await d.start(t)
            assert await d.tick(PERIOD_MS) == 1
            await d.w.trails.replace(dataclasses.replace(t, log_file_validation=False))
            assert await d.tick(1000, events=1) == 1
            assert await d.tick(PERIOD_MS, events=1) == 0
            [_, final] = await _docs(d)
            assert len(final["logFiles"]) == 1

    asyncio.run(scenario())


def test_failed_write_stays_pending_and_lands_once_with_same_bytes(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = _validation()
            await d.start(t)
            await d.tick(1000, events=1)
            d.w.buckets.store.failure = StorageUnavailable("SlowDown", "throttled")
            assert await d.tick(PERIOD_MS) == 0
            [chain] = await d.chains.all()
            assert chain.pending is not None
            assert (await d.w.trails.status(t.arn)).latest_digest_delivery_error == "SlowDown"
            d.w.buckets.store.failure = None
            # A crash now and a fresh writer on the same files: the written-ahead digest goes first.
            await d.chains.close()
            d.chains = ChainState(tmp_path / "state.sqlite3")
            await d.chains.open()
            d.writer._chains = d.chains
            assert await d.tick(PERIOD_MS) == 2  # the pending digest, then the now due one
            found = await d.digests()
            assert next(iter(found.values())).gzip_body == chain.pending.digest.gzip_body
            _check_chain(found, d.keys)
            assert (await d.w.trails.status(t.arn)).latest_digest_delivery_error is None

    asyncio.run(scenario())


def test_file_committed_late_is_in_the_next_digest(tmp_path: Path, keys_in: KeysIn) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = _validation()
            await d.start(t)
            d.w.buckets.store.failure = StorageUnavailable("SlowDown", "throttled")
            d.w.buckets.store.fail_after = 0
            await d.w.append(1)
            await d.w.engine.flush()  # planned (delivered_ms = now) but not written
            d.w.buckets.store.failure = None
            assert await d.tick(PERIOD_MS) == 1  # this digest ends after the file's delivery time ...
            d.w.clock.now_ms += 60_000  # past the engine's backoff
            await d.w.engine.flush()
            assert await d.tick(1000) == 1
            docs = await _docs(d)
            assert [len(doc["logFiles"]) for doc in docs] == [0, 1]  # ... the next one lists the file

    asyncio.run(scenario())


def test_multi_region_trail_gets_a_chain_per_region_signed_with_its_key(
    tmp_path: Path, keys_in: KeysIn
) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            await d.start(_validation(is_multi_region=True))
            assert await d.tick(1000, events=1, region="eu-west-1") == 0
            assert await d.tick(PERIOD_MS) == 1  # home region; eu-west-1's chain opens now
            assert await d.tick(PERIOD_MS) == 2
            found = await d.digests()
            west = [digest.doc for key, digest in found.items() if "/CloudTrail-Digest/eu-west-1/" in key]
            assert len(west) == 1
            assert len(west[0]["logFiles"]) == 1
            [west_key] = d.keys.public_keys("eu-west-1", 0, 2**62)
            assert west[0]["digestPublicKeyFingerprint"] == west_key.fingerprint

    asyncio.run(scenario())


def test_organization_trail_gets_a_chain_per_member_account(tmp_path: Path, keys_in: KeysIn) -> None:
    org = OrganizationConfig("o-exampleorgid", ACCOUNT, (OTHER_ACCOUNT,))

    async def scenario() -> None:
        async with digests(tmp_path, keys_in, organization=org) as d:
            await d.start(_validation(is_organization=True))
            assert await d.tick(PERIOD_MS, events=1, account_id=OTHER_ACCOUNT) == 2
            keys = sorted(await d.digests())
            assert [k.split("/")[3] for k in keys] == [ACCOUNT, OTHER_ACCOUNT]
            assert all(k.startswith("pfx/AWSLogs/o-exampleorgid/") for k in keys)

    asyncio.run(scenario())


def test_deleted_trail_chain_is_dropped_and_recreated_trail_starts_afresh(
    tmp_path: Path, keys_in: KeysIn
) -> None:
    async def scenario() -> None:
        async with digests(tmp_path, keys_in) as d:
            t = _validation()
            await d.start(t)
            assert await d.tick(PERIOD_MS) == 1
            await d.w.trails.delete(t.arn)
            assert await d.tick(PERIOD_MS) == 0
            assert await d.chains.all() == []
            await d.start(t)
            assert await d.tick(PERIOD_MS) == 1
            docs = await _docs(d)
            assert docs[-1]["previousDigestS3Object"] is None

    asyncio.run(scenario())
