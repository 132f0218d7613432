"""Log file integrity end to end: a real server writes signed, chained digests; the real AWS CLI
(``aws cloudtrail validate-logs``) and ``trailkeeper validate`` judge them, through the gateway's S3
view and through moto's S3 server, before and after files are tampered with in the store itself.

One timeline (about 25 s, 10 s digests) serves every test: two trails with log file validation
(local bucket, remote bucket), calls over several periods, a key rotation, a ``kill -9`` restart,
and on the local trail StopLogging / StartLogging (a gap the CLI reports) before both stop.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import rsa as python_rsa  # type: ignore[import-untyped]  # the AWS CLI v1 key loader
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCOUNT_A, ALICE, Keys, make_client
from tests.e2e.delivery_support import MotoS3, delivery_config, wait_for
from tests.e2e.server import TrailkeeperServer
from trailkeeper.storage.local import LocalObjectStore
from trailkeeper.storage.registry import buckets_root

BUCKET, REMOTE = "audit-logs", "remote-logs"
MOTO_KEYS = Keys("testing", "testing")
DIGEST_KEY = re.compile(
    rf"(?P<prefix>[\w-]+)/AWSLogs/{ACCOUNT_A}/CloudTrail-Digest/us-east-1/(?P<y>\d{{4}})/(?P<m>\d\d)/(?P<d>\d\d)/"
    rf"{ACCOUNT_A}_CloudTrail-Digest_us-east-1_(?P=prefix)_us-east-1_(?P=y)(?P=m)(?P=d)T\d{{6}}Z\.json\.gz"
)


@dataclass
class TrailRun:
    name: str
    bucket: str
    s3_url: str  # where the bucket is read: the gateway's S3 view or moto
    s3: Any

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_A}:trail/{self.name}"

    def keys(self, folder: str) -> list[str]:
        prefix = f"{self.name}/AWSLogs/{ACCOUNT_A}/{folder}/"
        pages = self.s3.get_paginator("list_objects").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def digests(self) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
        """(key, JSON, metadata) of every digest, oldest first."""
        found = []
        for key in sorted(self.keys("CloudTrail-Digest"), key=lambda k: k[-24:]):
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
            found.append((key, json.loads(gzip.decompress(answer["Body"].read())), answer["Metadata"]))
        return found


@dataclass
class World:
    srv: TrailkeeperServer
    config: Path
    start: str
    end: str
    local: TrailRun
    remote: TrailRun
    rotated_to: str  # the fingerprint `trailkeeper keys rotate` printed


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _calls(url: str, count: int) -> None:
    glue = make_client(url, "glue", ALICE)
    for _ in range(count):
        glue.get_databases()


def _stop_with_final_digest(ct: Any, name: str) -> None:
    """StopLogging, then wait for the final digest: GetTrailStatus shows a digest delivered after the
    stop, and no other follows (a regular digest begun just before the stop may land first)."""
    ct.stop_logging(Name=name)
    stopped = ct.get_trail_status(Name=name)["StopLoggingTime"]

    def latest() -> Any:
        return ct.get_trail_status(Name=name).get("LatestDigestDeliveryTime")

    wait_for(lambda: (seen := latest()) is not None and seen >= stopped, timeout=20)
    while True:  # quiet for longer than the writer's round (1 s)
        before = latest()
        time.sleep(1.2)
        if latest() == before:
            return


def _lists_files(run: TrailRun) -> bool:
    return any(doc["logFiles"] for _, doc, _ in run.digests())


def _has_digests(run: TrailRun, count: int) -> bool:
    return len(run.digests()) >= count


def _timeline(srv: TrailkeeperServer, config: Path, moto: MotoS3) -> World:
    ct = make_client(srv.url, "cloudtrail", ALICE)
    start = _iso(datetime.now(tz=UTC) - timedelta(minutes=1))
    local = TrailRun("validated", BUCKET, srv.url, make_client(srv.url, "s3", ALICE))
    remote = TrailRun("validated-remote", REMOTE, moto.url, make_client(moto.url, "s3", MOTO_KEYS))
    for run in (local, remote):
        ct.create_trail(
            Name=run.name, S3BucketName=run.bucket, S3KeyPrefix=run.name, EnableLogFileValidation=True
        )
        ct.start_logging(Name=run.name)
    _calls(srv.url, 3)
    for run in (local, remote):  # the first period's digests, listing the calls' log files
        wait_for(partial(_lists_files, run), timeout=25)
    rotate = [sys.executable, "-m", "trailkeeper.cli", "keys", "rotate", "--data-dir", str(srv.data_dir)]
    rotated = subprocess.run([*rotate, "--config", str(config)], capture_output=True, text=True, check=True)
    [fingerprint] = re.findall(r"us-east-1: new signing key ([0-9a-f]{32})", rotated.stdout + rotated.stderr)
    srv.restart(kill=True)  # kill -9: the chains go on from their durable state
    _calls(srv.url, 3)
    for run in (local, remote):
        wait_for(partial(_has_digests, run, 2), timeout=25)
    _calls(srv.url, 2)
    with ThreadPoolExecutor(1) as pool:
        remote_stopped = pool.submit(_stop_with_final_digest, ct, remote.name)
        _stop_with_final_digest(ct, local.name)
        ct.start_logging(Name=local.name)  # a new chain: a starting digest after a gap
        _calls(srv.url, 2)
        _stop_with_final_digest(ct, local.name)
        remote_stopped.result()
    end = _iso(datetime.now(tz=UTC) + timedelta(seconds=5))
    return World(srv, config, start, end, local, remote, fingerprint)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("integrity")
    moto = MotoS3(root / "moto.log")
    config = delivery_config(root, remote_url=moto.url)  # moto's port is chosen before it starts
    config.write_text(config.read_text() + "\n[digest]\ninterval_seconds = 10\n")
    srv = TrailkeeperServer(root / "data", config=config)
    try:
        with ThreadPoolExecutor(2) as pool:  # both start at once: a few seconds saved
            for started in [pool.submit(moto.start), pool.submit(srv.start)]:
                started.result()
        make_client(moto.url, "s3", MOTO_KEYS).create_bucket(Bucket=REMOTE)
        yield _timeline(srv, config, moto)
    finally:
        srv.stop()
        moto.stop()


def _env(s3_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ALICE.access_key_id,
        "AWS_SECRET_ACCESS_KEY": ALICE.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3_url,  # validate-logs' --endpoint-url reaches only its CloudTrail client
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    return env


def _run(args: list[str], s3_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=_env(s3_url), capture_output=True, text=True, timeout=120, check=False)


def _validators(w: World, run: TrailRun) -> dict[str, subprocess.CompletedProcess[str]]:
    """The AWS CLI and both modes of `trailkeeper validate` on the same trail and range, at once."""
    times = ["--trail-arn", run.arn, "--start-time", w.start, "--end-time", w.end]
    ours = [sys.executable, "-m", "trailkeeper.cli", "validate", *times]
    commands = {
        "aws": [
            sys.executable,
            "-m",
            "awscli",
            "cloudtrail",
            "validate-logs",
            "--endpoint-url",
            w.srv.url,
            *times,
        ],
        "trailkeeper (data dir)": [*ours, "--data-dir", str(w.srv.data_dir), "--config", str(w.config)],
        "trailkeeper (endpoints)": [*ours, "--endpoint-url", w.srv.url, "--s3-endpoint-url", run.s3_url],
    }
    with ThreadPoolExecutor(len(commands)) as pool:
        futures = {name: pool.submit(_run, args, run.s3_url) for name, args in commands.items()}
        return {name: future.result() for name, future in futures.items()}


def _invalid(result: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(line for line in result.stderr.splitlines() if "INVALID" in line)


def _gaps(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("No log files were delivered")]


def _runs(w: World) -> dict[str, TrailRun]:
    return {"local bucket via the gateway's S3 view": w.local, "remote bucket via moto's S3": w.remote}


@pytest.fixture(params=["local bucket via the gateway's S3 view", "remote bucket via moto's S3"])
def run(request: pytest.FixtureRequest, world: World) -> TrailRun:
    return _runs(world)[request.param]


def test_list_public_keys_pkcs1_values_listed_across_rotation(world: World) -> None:
    ct = make_client(world.srv.url, "cloudtrail", ALICE)
    begin = datetime.fromisoformat(world.start.replace("Z", "+00:00"))
    listed = ct.list_public_keys(StartTime=begin, EndTime=datetime.now(tz=UTC))["PublicKeyList"]
    assert len(listed) == 2
    assert listed[-1]["Fingerprint"] == world.rotated_to
    for key in listed:
        assert base64.b64encode(key["Value"]).startswith(b"MIIBCg")
        python_rsa.PublicKey.load_pkcs1(key["Value"], format="DER")  # what the AWS CLI v1 loads
        assert key["Fingerprint"] == hashlib.md5(key["Value"]).hexdigest()
        assert key["ValidityStartTime"] <= key["ValidityEndTime"]  # whole seconds: equal if rotated at once
    assert listed[0]["ValidityEndTime"] <= listed[1]["ValidityStartTime"] + timedelta(seconds=1)
    [current] = ct.list_public_keys()["PublicKeyList"]  # no range: now, the current key only
    assert current["Fingerprint"] == world.rotated_to
    with pytest.raises(ClientError) as raised:
        ct.list_public_keys(StartTime=datetime.now(tz=UTC), EndTime=begin)
    assert raised.value.response["Error"]["Code"] == "InvalidTimeRangeException"
    used = {
        doc["digestPublicKeyFingerprint"] for r in (world.local, world.remote) for _, doc, _ in r.digests()
    }
    assert used == {key["Fingerprint"] for key in listed}


def test_digest_files_aws_layout_chained_and_signed_in_metadata(run: TrailRun) -> None:
    digests = run.digests()
    assert len(digests) >= 3
    for key, doc, metadata in digests:
        assert DIGEST_KEY.fullmatch(key)
        assert key.startswith(f"{run.name}/")
        assert (doc["digestS3Bucket"], doc["digestS3Object"]) == (run.bucket, key)
        assert metadata["signature-algorithm"] == "SHA256withRSA"
        assert re.fullmatch(r"[0-9a-f]{512}", metadata["signature"])
        assert doc["awsAccountId"] == ACCOUNT_A
        assert doc["digestSignatureAlgorithm"] == "SHA256withRSA"
    starting = [doc for _, doc, _ in digests if doc["previousDigestS3Object"] is None]
    assert len(starting) == (2 if run.bucket == BUCKET else 1)  # the local trail restarted logging
    for (prev_key, prev, prev_meta), (_, doc, _) in itertools.pairwise(digests):
        if doc["previousDigestS3Object"] is not None:
            assert (doc["previousDigestS3Object"], doc["digestStartTime"]) == (
                prev_key,
                prev["digestEndTime"],
            )
            assert doc["previousDigestSignature"] == prev_meta["signature"]
    listed = {f["s3Object"] for _, doc, _ in digests for f in doc["logFiles"]}
    assert listed == set(run.keys("CloudTrail"))  # every delivered log file, each in one digest


def test_aws_cli_and_trailkeeper_find_every_digest_and_log_file_valid(world: World, run: TrailRun) -> None:
    results = _validators(world, run)
    digests, logs = len(run.digests()), len(run.keys("CloudTrail"))
    for name, result in results.items():
        assert result.returncode == 0, (name, result.stdout, result.stderr)
        assert (
            f"\n{digests}/{digests} digest files valid\n{logs}/{logs} log files valid\n" in result.stdout
        ), name
        assert _invalid(result) == []
        # The local trail stopped and started logging once: the CLI reports that gap, not an error.
        assert len(_gaps(result)) == (1 if run.bucket == BUCKET else 0), (name, result.stderr)
    assert len({r.stdout for r in results.values()}) == 1  # the same report, byte for byte
    assert len({tuple(_gaps(r)) for r in results.values()}) == 1


@dataclass(frozen=True)
class Tampered:
    lines: list[str]  # the INVALID lines both validators must print, sorted
    summary: str  # their digest and log counts


def _tamper(w: World, run: TrailRun) -> Tampered:
    """Edit one log file, delete another, alter one digest, in the store itself; what is expected."""
    digests = run.digests()
    with_files = [i for i, (_, doc, _) in enumerate(digests) if doc["logFiles"]]
    assert len(with_files) >= 2, [(key[-24:-8], len(doc["logFiles"])) for key, doc, _ in digests]
    first, second = with_files[:2]
    edited, deleted = (digests[i][1]["logFiles"][0]["s3Object"] for i in (first, second))
    altered_key, altered_doc, metadata = digests[
        next(i for i in range(len(digests)) if i not in (first, second))
    ]
    original = run.s3.get_object(Bucket=run.bucket, Key=edited)["Body"].read()
    edited_body = gzip.compress(
        gzip.decompress(original).replace(b'"Records":[', b'"Records":[{"eventName":"X"},')
    )
    altered_body = gzip.compress(json.dumps({**altered_doc, "logFiles": []}).encode())
    if run.bucket == BUCKET:  # the local store's folders, as the server keeps them
        store = LocalObjectStore(buckets_root(w.srv.data_dir))

        async def change() -> None:
            await store.put(BUCKET, edited, edited_body)
            await store.delete(BUCKET, deleted)
            await store.put(BUCKET, altered_key, altered_body, metadata=metadata)

        asyncio.run(change())
    else:  # moto's S3, directly (the server is not involved)
        run.s3.put_object(Bucket=run.bucket, Key=edited, Body=edited_body)
        run.s3.delete_object(Bucket=run.bucket, Key=deleted)
        run.s3.put_object(Bucket=run.bucket, Key=altered_key, Body=altered_body, Metadata=metadata)
    where = f"s3://{run.bucket}/"
    lines = sorted([
        f"Digest file\t{where}{altered_key}\tINVALID: signature verification failed",
        f"Log file\t{where}{edited}\tINVALID: hash value doesn't match",
        f"Log file\t{where}{deleted}\tINVALID: not found",
    ])  # fmt: skip
    # The altered digest's own log files are not checked: only a valid digest vouches for files.
    d, n = len(digests), sum(len(doc["logFiles"]) for key, doc, _ in digests if key != altered_key)
    digest_line = f"{d - 1}/{d} digest files valid, 1/{d} digest files INVALID"
    summary = f"\n{digest_line}\n{n - 2}/{n} log files valid, 2/{n} log files INVALID\n"
    return Tampered(lines, summary)


def test_tampered_files_reported_exactly_by_aws_cli_and_trailkeeper(world: World, run: TrailRun) -> None:
    expected = _tamper(world, run)
    results = _validators(world, run)
    for name, result in results.items():
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert _invalid(result) == expected.lines, name
        assert expected.summary in result.stdout, (name, result.stdout)
    assert len({r.stdout for r in results.values()}) == 1


def test_trailkeeper_validate_unknown_trail_exits_2_with_the_cli_message(world: World) -> None:
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_A}:trail/no-such-trail"
    args = ["--trail-arn", arn, "--start-time", world.start, "--data-dir", str(world.srv.data_dir)]
    result = _run(
        [sys.executable, "-m", "trailkeeper.cli", "validate", *args, "--config", str(world.config)], ""
    )
    assert result.returncode == 2
    assert f"A trail could not be found for {arn}" in result.stderr
