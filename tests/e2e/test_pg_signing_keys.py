"""Digest signing keys shared through PostgreSQL, end to end: two real servers on one schema, node A
writing every digest (delivery on), node B a gateway only (``--no-delivery``) with its own, empty data
dir. The real ``aws cloudtrail validate-logs`` pointed at node B (its DescribeTrails and
ListPublicKeys; objects from moto's S3) accepts every digest node A signed, across a
``trailkeeper keys rotate --journal …`` made from a third process."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ACCOUNT_A, ALICE, Keys, make_client
from tests.e2e.delivery_support import MotoS3, delivery_config, wait_for
from tests.e2e.server import TrailkeeperServer
from tests.unit.journal.support import Backend, backend_of

BUCKET, TRAIL = "remote-logs", "shared-keys"
MOTO_KEYS = Keys("testing", "testing")
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_A}:trail/{TRAIL}"


@pytest.fixture
def schema(tmp_path: Path) -> Iterator[Backend]:
    with backend_of("postgres", tmp_path) as store:  # its own schema, dropped afterwards
        yield store


def _digests(s3: Any) -> list[dict[str, Any]]:
    prefix = f"{TRAIL}/AWSLogs/{ACCOUNT_A}/CloudTrail-Digest/"
    keys = [o["Key"] for o in s3.list_objects(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    return [
        json.loads(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
        for key in sorted(keys, key=lambda k: k[-24:])
    ]


def _env(s3_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k != "AWS_SESSION_TOKEN"},
        "AWS_ACCESS_KEY_ID": ALICE.access_key_id,
        "AWS_SECRET_ACCESS_KEY": ALICE.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3_url,  # validate-logs' --endpoint-url reaches only its CloudTrail client
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def _calls(url: str, count: int) -> None:
    glue = make_client(url, "glue", ALICE)
    for _ in range(count):
        glue.get_databases()


def test_validate_logs_on_node_b_accepts_digests_node_a_signed_across_a_rotation(
    tmp_path: Path, schema: Backend
) -> None:
    moto = MotoS3(tmp_path / "moto.log")
    config = delivery_config(tmp_path, remote_url=moto.url)
    config.write_text(config.read_text() + "\n[digest]\ninterval_seconds = 10\n")
    journal = ("--journal", schema.location)
    a = TrailkeeperServer(tmp_path / "a", config=config, extra_args=journal)
    b = TrailkeeperServer(tmp_path / "b", config=config, extra_args=(*journal, "--no-delivery"))
    moto.start()
    try:
        a.start()
        b.start()
        s3 = make_client(moto.url, "s3", MOTO_KEYS)
        s3.create_bucket(Bucket=BUCKET)
        start = datetime.now(tz=UTC) - timedelta(minutes=1)
        ct = make_client(b.url, "cloudtrail", ALICE)  # the trail is made on B, shared through PG
        ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, S3KeyPrefix=TRAIL, EnableLogFileValidation=True)
        ct.start_logging(Name=TRAIL)
        _calls(b.url, 3)
        wait_for(lambda: any(doc["logFiles"] for doc in _digests(s3)), timeout=30)

        rotate = [sys.executable, "-m", "trailkeeper.cli", "keys", "rotate", *journal]
        rotated = subprocess.run(
            [*rotate, "--data-dir", str(tmp_path / "c")], capture_output=True, text=True, check=True
        )
        [new_key] = re.findall(r"us-east-1: new signing key ([0-9a-f]{32})", rotated.stderr)
        _calls(a.url, 2)
        wait_for(lambda: any(d["digestPublicKeyFingerprint"] == new_key for d in _digests(s3)), timeout=30)

        used = {doc["digestPublicKeyFingerprint"] for doc in _digests(s3)}
        assert len(used) == 2  # the first key and the rotated one, both chosen by node A
        listed = make_client(b.url, "cloudtrail", ALICE).list_public_keys(StartTime=start)["PublicKeyList"]
        assert {key["Fingerprint"] for key in listed} == used
        assert not (tmp_path / "a" / "keys").exists()  # no node keeps keys of its own
        assert not (tmp_path / "b" / "keys").exists()

        end = datetime.now(tz=UTC) + timedelta(seconds=5)
        times = [
            "--start-time",
            start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--end-time",
            end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ]
        result = subprocess.run(
            [sys.executable, "-m", "awscli", "cloudtrail", "validate-logs", "--endpoint-url", b.url,
             "--trail-arn", ARN, *times],
            env=_env(moto.url), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        digests = len(_digests(s3))
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert f"\n{digests}/{digests} digest files valid\n" in result.stdout, result.stdout
        assert "INVALID" not in result.stdout + result.stderr
    finally:
        for node in (b, a):
            node.stop()
        moto.stop()
