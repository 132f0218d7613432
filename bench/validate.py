"""Validation benchmark: ``trailkeeper validate`` against ``aws cloudtrail validate-logs`` on one trail.

Setup: a real server (subprocess, loopback) with 1 s delivery, a 1 KiB log file bound (one record
per file, so N calls make about N log files) and 10 s digests; one trail with log file validation;
N Glue calls; then the trail is stopped once its digests list every file. Measured in the same
run, each a fresh process on the same trail and range, the median of ``--repeat`` runs:

- baseline: the AWS CLI, its S3 client pointed at the gateway's S3 view (``AWS_ENDPOINT_URL_S3``);
- ``trailkeeper validate`` through the same two endpoints (CloudTrail and S3 over HTTP);
- ``trailkeeper validate`` on the server's data directory (no HTTP at all).

Every validator must report every digest and log file valid; the ratio is the AWS CLI's time over
ours. Run: ``python -m bench.validate [--calls 600] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tests.e2e.conftest import ACCOUNT_A, ALICE, CONFIG, make_client
from tests.e2e.server import TrailkeeperServer

BUCKET, TRAIL = "audit-logs", "bench"
SUMMARY = re.compile(r"(\d+)/(\d+) digest files valid\n(\d+)/(\d+) log files valid\n")


@dataclass
class Measured:
    name: str
    seconds: list[float]
    digests: int
    logs: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _config(root: Path) -> Path:
    path = root / "trailkeeper.toml"
    path.write_text(
        CONFIG
        + "\n[delivery]\ninterval_seconds = 1\nmax_file_bytes = 1024\n\n[digest]\ninterval_seconds = 10\n"
        + f'\n[[bucket]]\nname = "{BUCKET}"\naccount = "{ACCOUNT_A}"\n'
    )
    return path


def _wait(probe: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


def _keys(s3: Any, folder: str) -> list[str]:
    pages = s3.get_paginator("list_objects").paginate(
        Bucket=BUCKET, Prefix=f"{TRAIL}/AWSLogs/{ACCOUNT_A}/{folder}/"
    )
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _digested(s3: Any) -> set[str]:
    listed: set[str] = set()
    for key in _keys(s3, "CloudTrail-Digest"):
        doc = json.loads(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
        listed |= {f["s3Object"] for f in doc["logFiles"]}
    return listed


def _prepare(srv: TrailkeeperServer, calls: int, console: Console) -> str:
    """The trail, its calls, its log files all in digests, logging stopped; the validation start time."""
    ct, s3 = make_client(srv.url, "cloudtrail", ALICE), make_client(srv.url, "s3", ALICE)
    start = (datetime.now(tz=UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, S3KeyPrefix=TRAIL, EnableLogFileValidation=True)
    ct.start_logging(Name=TRAIL)
    glue = make_client(srv.url, "glue", ALICE)
    began = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: glue.get_databases(), range(calls)))
    console.print(f"{calls} calls in {time.monotonic() - began:.1f} s; waiting for their files and digests")
    _wait(lambda: len(_keys(s3, "CloudTrail")) >= calls, 120, "log files")
    ct.stop_logging(Name=TRAIL)
    stopped = ct.get_trail_status(Name=TRAIL)["StopLoggingTime"]
    _wait(
        lambda: (ct.get_trail_status(Name=TRAIL).get("LatestDigestDeliveryTime") or stopped) > stopped,
        60,
        "digest",
    )
    _wait(lambda: set(_keys(s3, "CloudTrail")) <= _digested(s3), 60, "the final digest")
    return start


def _measure(name: str, args: list[str], env: dict[str, str], repeat: int) -> Measured:
    seconds: list[float] = []
    digests = logs = 0
    for _ in range(repeat):
        began = time.perf_counter()
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900, check=False)
        seconds.append(time.perf_counter() - began)
        found = SUMMARY.search(result.stdout)
        if result.returncode != 0 or found is None or found[1] != found[2] or found[3] != found[4]:
            raise SystemExit(f"{name} did not find the trail valid:\n{result.stdout}\n{result.stderr}")
        digests, logs = int(found[2]), int(found[4])
    return Measured(name, seconds, digests, logs)


def _table(results: list[Measured], console: Console) -> None:
    baseline = results[0].median
    table = Table(title="Log file validation, same trail, same run (median wall time of a fresh process)")
    for column in ("validator", "digest files", "log files", "seconds", "runs", "speed-up vs AWS CLI"):
        table.add_column(column, justify="left" if column == "validator" else "right")
    for m in results:
        runs = ", ".join(f"{s:.2f}" for s in m.seconds)
        table.add_row(
            m.name, str(m.digests), str(m.logs), f"{m.median:.2f}", runs, f"{baseline / m.median:.1f}x"
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=600, help="Glue calls, about one log file each")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each validator (the median counts)")
    args = parser.parse_args(argv)
    console = Console(width=132)  # a report: full width even when not printed to a terminal
    with tempfile.TemporaryDirectory(prefix="tk-bench-validate-") as tmp:
        root = Path(tmp)
        config = _config(root)
        srv = TrailkeeperServer(root / "data", config=config)
        srv.start()
        try:
            start = _prepare(srv, args.calls, console)
            end = (datetime.now(tz=UTC) + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
            arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_A}:trail/{TRAIL}"
            times = ["--trail-arn", arn, "--start-time", start, "--end-time", end]
            env = {
                **os.environ,
                "AWS_ACCESS_KEY_ID": ALICE.access_key_id,
                "AWS_SECRET_ACCESS_KEY": ALICE.secret_access_key,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_S3": srv.url,  # validate-logs' --endpoint-url reaches only CloudTrail
                "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            }
            ours = [sys.executable, "-m", "trailkeeper.cli", "validate", *times]
            aws = [sys.executable, "-m", "awscli", "cloudtrail", "validate-logs", "--endpoint-url", srv.url]
            runs = [
                ("aws cloudtrail validate-logs", [*aws, *times]),
                (
                    "trailkeeper validate (same endpoints)",
                    [*ours, "--endpoint-url", srv.url, "--s3-endpoint-url", srv.url],
                ),
                (
                    "trailkeeper validate (data dir)",
                    [*ours, "--data-dir", str(srv.data_dir), "--config", str(config)],
                ),
            ]
            _table([_measure(name, cmd, env, args.repeat) for name, cmd in runs], console)
        finally:
            srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
