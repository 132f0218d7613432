"""Delivery benchmark: delivered events/s against a raw read+gzip+put baseline, and call-to-file latency.

Throughput (in-process, same machine, same run): N realistic records in a SQLite journal go to a
local bucket (a) through the delivery engine (manifest, objects, one-transaction commit, status)
and (b) through the bare minimum — journal pages read, split per account/region, gzip, put — with
no state at all. The ratio is what exactly-once costs.

Latency (real server, loopback, boto3): Glue calls at a steady rate while a watcher polls the
trail's prefix through the S3 view; a call's latency runs from its answer to the first poll that
finds its record in a delivered file (poll period 0.1 s). Target: p99 <= flush interval + 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from tests.e2e.conftest import ACCOUNT_A, ALICE, make_client
from tests.e2e.delivery_support import delivery_config
from tests.e2e.server import TrailkeeperServer
from trailkeeper.config import BucketConfig, DeliveryConfig, Settings
from trailkeeper.control.model import Trail
from trailkeeper.control.selectors import entry_matches
from trailkeeper.control.sqlite_store import SqliteTrailStore
from trailkeeper.delivery.engine import DeliveryEngine
from trailkeeper.delivery.logfile import (
    CONTENT_ENCODING,
    CONTENT_TYPE,
    FileGroup,
    render,
    split_into_files,
    unique_id,
)
from trailkeeper.delivery.state import DeliveryState
from trailkeeper.journal.base import JournalEntry, StoredEvent
from trailkeeper.journal.sqlite import SqliteJournal
from trailkeeper.storage.base import ObjectStore
from trailkeeper.storage.registry import BucketRegistry

BUCKET = "audit-logs"
REGIONS = ("us-east-1", "eu-west-1")
_PAGE = 1000
_POLL_S = 0.1


@dataclass
class Rate:
    name: str
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


@dataclass
class Latency:
    interval: float
    samples: list[float] = field(default_factory=list)
    missing: int = 0

    def pct(self, p: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def _record(i: int, region: str) -> JournalEntry:
    """A Glue CreateDatabase record of realistic size and entropy (ids, names, times differ per record)."""
    event_id, name, when = str(uuid.uuid4()), f"db_{uuid.uuid4().hex[:12]}", 1_767_225_600_000 + i
    record = {
        "eventVersion": "1.11",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE0001",
                         "arn": f"arn:aws:iam::{ACCOUNT_A}:user/alice", "accountId": ACCOUNT_A,
                         "accessKeyId": ALICE.access_key_id, "userName": "alice"},
        "eventTime": datetime.fromtimestamp(when / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "glue.amazonaws.com", "eventName": "CreateDatabase", "awsRegion": region,
        "sourceIPAddress": "192.0.2.10", "userAgent": "Boto3/1.44.5 md/Botocore#1.44.5 ua/2.1 os/linux",
        "requestParameters": {"databaseInput": {"name": name, "description": f"bench {i}"}},
        "responseElements": None, "requestID": str(uuid.uuid4()), "eventID": event_id, "readOnly": False,
        "resources": [{"accountId": ACCOUNT_A, "type": "AWS::Glue::Database",
                       "ARN": f"arn:aws:glue:{region}:{ACCOUNT_A}:database/{name}"}],
        "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT_A,
        "eventCategory": "Management",
    }  # fmt: skip
    return JournalEntry(
        orjson.dumps(record), ACCOUNT_A, region, when, event_id, "CreateDatabase", "glue.amazonaws.com",
        False, "alice", ALICE.access_key_id,
    )  # fmt: skip


async def _fill(journal: SqliteJournal, events: int) -> None:
    for start in range(0, events, 500):  # concurrent appends: group commit keeps the fill fast
        batch = [_record(i, REGIONS[i % 2]) for i in range(start, min(events, start + 500))]
        await asyncio.gather(*(journal.append(entry) for entry in batch))


async def _engine_rate(root: Path, events: int) -> Rate:
    settings = Settings(data_dir=root, buckets=(BucketConfig(BUCKET, account=ACCOUNT_A),))
    journal = SqliteJournal(root / "journal.sqlite3")
    await journal.open()
    await _fill(journal, events)
    state, trails = DeliveryState(root / "state.sqlite3"), SqliteTrailStore(root / "state.sqlite3")
    await state.open()
    await trails.open()
    trail = Trail(ACCOUNT_A, "us-east-1", "bench", BUCKET, is_multi_region=True)
    await trails.create(trail)
    await trails.update_status(trail.arn, is_logging=True, logging_since_seq=0)
    buckets = BucketRegistry.from_settings(settings)
    engine = DeliveryEngine(
        journal=journal, trails=trails, buckets=buckets, state=state, config=DeliveryConfig(),
        selector=entry_matches,
    )  # fmt: skip
    started = time.perf_counter()
    report = await engine.flush()
    seconds = time.perf_counter() - started
    assert report.events == events, report
    for closable in (buckets, trails, state, journal):
        await closable.close()
    return Rate("delivery engine (exactly-once)", events, seconds)


async def _baseline_rate(root: Path, events: int) -> Rate:
    """Read pages, gather each account/region up to one file's size, gzip, put: delivery's bare minimum."""
    settings = Settings(data_dir=root, buckets=(BucketConfig(BUCKET, account=ACCOUNT_A),))
    journal = SqliteJournal(root / "journal.sqlite3")
    await journal.open()
    await _fill(journal, events)
    store = BucketRegistry.from_settings(settings).local
    limit, pending, written = DeliveryConfig().max_file_bytes, list[StoredEvent](), 0
    started, position = time.perf_counter(), 0
    while page := await journal.read_after(position, _PAGE):
        position, pending = page[-1].seq, pending + page
        if sum(len(e.entry.record) + 1 for e in pending) >= limit or len(page) < _PAGE:
            written += await _put_all(store, split_into_files(pending, limit))
            pending = []
    written += await _put_all(store, split_into_files(pending, limit))
    seconds = time.perf_counter() - started
    await journal.close()
    return Rate("baseline: read + gzip + put, no state", written, seconds)


async def _put_all(store: ObjectStore, groups: list[FileGroup]) -> int:
    for group in groups:
        rendered = await asyncio.to_thread(render, group.events)
        key = f"base/{group.account_id}/{group.region}/{unique_id()}.json.gz"
        await store.put(
            BUCKET, key, rendered.gzip_body, content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING
        )
    return sum(len(group.events) for group in groups)


class Watcher(threading.Thread):
    """Polls the trail's prefix through the S3 view; notes when each requestID first shows up."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(daemon=True)
        self._s3, self._prefix = make_client(url, "s3", ALICE), prefix
        self.seen: dict[str, float] = {}
        self._keys: set[str] = set()
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(_POLL_S):
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix=self._prefix
            ):
                for obj in page.get("Contents", []):
                    if obj["Key"] not in self._keys:
                        self._keys.add(obj["Key"])
                        self._read(obj["Key"])

    def _read(self, key: str) -> None:
        body = self._s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        now = time.time()
        for record in json.loads(gzip.decompress(body))["Records"]:
            self.seen.setdefault(record["requestID"], now)

    def stop(self) -> None:
        self._stop.set()


def _latency(interval: float, seconds: float, rate: float) -> Latency:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = delivery_config(root)
        config.write_text(
            config.read_text().replace("interval_seconds = 1\n", f"interval_seconds = {interval:g}\n")
        )
        server = TrailkeeperServer(root / "data", config=config)
        server.start()
        try:
            return _measure(server.url, interval, seconds, rate)
        finally:
            server.stop()


def _measure(url: str, interval: float, seconds: float, rate: float) -> Latency:
    ct, glue = make_client(url, "cloudtrail", ALICE), make_client(url, "glue", ALICE)
    ct.create_trail(Name="bench", S3BucketName=BUCKET, S3KeyPrefix="bench")
    ct.start_logging(Name="bench")
    watcher = Watcher(url, "bench/")
    watcher.start()
    answered: dict[str, float] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        request_id = glue.get_databases()["ResponseMetadata"]["RequestId"]
        answered[request_id] = time.time()
        time.sleep(1 / rate)
    deadline = time.monotonic() + interval + 15
    while time.monotonic() < deadline and not answered.keys() <= watcher.seen.keys():
        time.sleep(_POLL_S)
    watcher.stop()
    result = Latency(interval)
    for request_id, at in answered.items():
        if request_id in watcher.seen:
            result.samples.append(watcher.seen[request_id] - at)
        else:
            result.missing += 1
    return result


def _table(rates: tuple[Rate, Rate], latencies: list[Latency]) -> Table:
    table = Table(title=f"Delivery — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    for col in ("measure", "interval", "samples", "value", "baseline / target", "ratio"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    engine, base = rates
    table.add_row(base.name, "-", f"{base.events:,}", f"{base.per_second:,.0f} ev/s", "-", "1.00")
    table.add_row(engine.name, "-", f"{engine.events:,}", f"{engine.per_second:,.0f} ev/s",
                  f"{base.per_second:,.0f} ev/s", f"{engine.per_second / base.per_second:.2f}")  # fmt: skip
    for lat in latencies:
        target, samples = lat.interval + 2, f"{len(lat.samples)} ({lat.missing} lost)"
        for name, p in (("p50", 0.5), ("p99", 0.99)):
            value, ratio = f"{lat.pct(p):.2f} s", f"{lat.pct(p) / target:.2f}"
            label = f"call answered -> in a delivered file, {name}"
            table.add_row(label, f"{lat.interval:g} s", samples, value, f"<= {target:g} s", ratio)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=50_000, help="events for the throughput runs")
    parser.add_argument("--seconds", type=float, default=20, help="call duration at interval 1 s")
    parser.add_argument(
        "--long-seconds", type=float, default=70, help="call duration at interval 60 s (0: skip)"
    )
    args = parser.parse_args()
    console = Console(width=140)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        console.print(f"throughput: {args.events:,} events, engine then baseline …")
        rates = (
            asyncio.run(_engine_rate(Path(a), args.events)),
            asyncio.run(_baseline_rate(Path(b), args.events)),
        )
    console.print(f"latency at interval 1 s for {args.seconds:g} s …")
    latencies = [_latency(1, args.seconds, rate=20)]
    if args.long_seconds > 0:
        console.print(f"latency at interval 60 s for {args.long_seconds:g} s (fewer samples) …")
        latencies.append(_latency(60, args.long_seconds, rate=2))
    console.print(_table(rates, latencies))


if __name__ == "__main__":
    main()
