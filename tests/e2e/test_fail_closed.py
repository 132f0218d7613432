"""A journal that cannot write refuses calls with 503 and does not execute them; it recovers by itself."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import pytest

from tests.e2e.conftest import ALICE, CONFIG, lookup_all, make_client
from tests.e2e.server import TrailkeeperServer


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MiB tmpfs: a real filesystem that really fills up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path, leave_bytes: int) -> None:
    stat = os.statvfs(path.parent)
    size = stat.f_bavail * stat.f_frsize - leave_bytes
    with path.open("wb") as f:
        f.truncate(0)
        chunk = b"\0" * (1 << 20)
        while size > 0:
            f.write(chunk[: min(size, len(chunk))])
            size -= len(chunk)
        f.flush()
        os.fsync(f.fileno())


def test_full_disk_refuses_calls_unexecuted_and_recovers(small_disk: Path) -> None:
    config = small_disk.parent / "fc.toml"
    config.write_text(
        CONFIG.replace("retention_days = 90", "retention_days = 90\njournal_min_free_bytes = 16777216")
    )
    srv = TrailkeeperServer(small_disk / "data", config=config)
    srv.start()
    try:
        glue = make_client(srv.url, "glue", ALICE)
        before = f"before{uuid.uuid4().hex[:6]}"
        glue.create_database(DatabaseInput={"Name": before})
        filler = small_disk / "filler"
        _fill(filler, leave_bytes=4 << 20)
        time.sleep(0.5)
        refused = f"refused{uuid.uuid4().hex[:6]}"
        with pytest.raises(botocore.exceptions.ClientError) as info:
            glue.create_database(DatabaseInput={"Name": refused})
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert info.value.response["Error"]["Code"] == "ServiceUnavailableException"
        with pytest.raises(botocore.exceptions.ClientError):
            glue.get_databases()  # reads fail closed too by default
        filler.unlink()
        deadline = time.monotonic() + 5
        while True:
            try:
                after = f"after{uuid.uuid4().hex[:6]}"
                glue.create_database(DatabaseInput={"Name": after})
                break
            except botocore.exceptions.ClientError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        names = {d["Name"] for d in glue.get_databases()["DatabaseList"]}
        assert before in names
        assert after in names
        assert refused not in names  # the refused call was never executed
        records = lookup_all(make_client(srv.url, "cloudtrail", ALICE))
        created = [
            json.loads(e["CloudTrailEvent"])["requestParameters"]["databaseInput"]["name"]
            for e in records
            if e["EventName"] == "CreateDatabase"
        ]
        assert before in created
        assert after in created
        assert refused not in created
    finally:
        srv.stop()


def test_fail_open_reads_answers_reads_but_still_refuses_writes(small_disk: Path) -> None:
    config = small_disk.parent / "fo.toml"
    extra = "retention_days = 90\njournal_min_free_bytes = 16777216\nfail_open_reads = true"
    config.write_text(CONFIG.replace("retention_days = 90", extra))
    srv = TrailkeeperServer(small_disk / "data", config=config)
    srv.start()
    try:
        glue = make_client(srv.url, "glue", ALICE)
        _fill(small_disk / "filler", leave_bytes=4 << 20)
        time.sleep(0.5)
        assert "DatabaseList" in glue.get_databases()  # read-only: answered, counted as unrecorded
        with pytest.raises(botocore.exceptions.ClientError) as info:
            glue.create_database(DatabaseInput={"Name": "never"})
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        (small_disk / "filler").unlink()
        assert "answered GetDatabases without a record (fail-open read)" in srv.log_text()
    finally:
        srv.stop()
