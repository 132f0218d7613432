"""Delivery faults under load: the bucket's S3 endpoint down for several flush intervals, and a slow sink.

An outage of the bucket's endpoint (moto's S3 behind an on/off TCP switch) shows in GetTrailStatus
while it lasts; afterwards the backlog is delivered and every answered call is in exactly one log
file. A webhook that answers only after 10 s holds back nothing but its own trail's notifications:
the other trail's notifications keep flowing, both trails' log files stay complete, and the
server's memory stays within the journal's page caches plus a margin.
"""

from __future__ import annotations

import functools
import gzip
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ACCOUNT_A, ALICE
from tests.reliability._support import (
    MIB,
    PAGE_CACHES,
    Figures,
    ReliabilityServer,
    RssSampler,
    config_file,
    make_client,
    scaled,
)
from tests.reliability._traffic import Traffic
from tests.unit.delivery.sinks.farside import MotoServer, Switch, Webhook, run_webhook

OUTAGE_S = scaled(6.0, 60.0)  # flush intervals are 1 s: several intervals in CI, a minute in full
SLOW_RUN_S = scaled(12.0, 300.0)
SLOW_RATE = 40.0  # calls per second, as in the sustained-load test
# The notices waiting for the slow webhook pile up in the outbox (on disk); in memory a sink runner
# holds at most a page plus its in-flight notices. So memory may grow by the journal's page caches
# (filling as the journal grows) plus a margin, however long the slow webhook lags.
SINK_GROWTH_BOUND = PAGE_CACHES + 32 * MIB


def _delivered_ids(s3: Any, bucket: str) -> Counter[str]:
    seen: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            seen.update(r["requestID"] for r in json.loads(body)["Records"])
    return seen


def _until(probe: Callable[[], Any], timeout: float, what: str) -> tuple[Any, float]:
    """The first truthy probe result and the seconds it took."""
    started = time.monotonic()
    while not (found := probe()):
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.25)
    return found, time.monotonic() - started


@pytest.mark.timeout(int(OUTAGE_S) + 240)
def test_bucket_endpoint_outage_shows_in_status_and_delivers_the_backlog_once(
    tmp_path: Path, figures: Figures
) -> None:
    moto = MotoServer(tmp_path, account_id=ACCOUNT_A)
    moto.start()
    switch = Switch(moto.port)
    switch.on()
    moto.client("s3").create_bucket(Bucket="remote-logs")
    extra = (
        '\n[delivery]\ninterval_seconds = 1\n\n[[bucket]]\nname = "remote-logs"\n'
        f'endpoint_url = "{switch.url}"\naccount = "{ACCOUNT_A}"\n'
        'access_key_id = "testing"\nsecret_access_key = "testing"\n'
    )
    srv = ReliabilityServer(tmp_path / "data", config=config_file(tmp_path, extra=extra))
    srv.start()
    try:
        found = _outage_run(srv, moto, switch)
    finally:
        srv.stop()
        switch.off()
        moto.stop()
    figures.record("delivery: bucket endpoint outage", **found)


def _outage_run(srv: ReliabilityServer, moto: MotoServer, switch: Switch) -> dict[str, Any]:
    ct = make_client(srv.url, "cloudtrail", ALICE)
    ct.create_trail(Name="remote", S3BucketName="remote-logs")
    ct.start_logging(Name="remote")
    traffic = Traffic(srv.url, ALICE, clients=4)
    traffic.prepare()
    traffic.start()
    time.sleep(2.0)
    switch.off()
    down = time.monotonic()
    error, shown_after = _until(lambda: _status_error(ct, "remote"), 20, "LatestDeliveryError shown")
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down)))
    during = len(traffic.tally.answers)
    switch.on()
    time.sleep(2.0)
    traffic.stop()
    answered = {a.request_id for a in traffic.tally.answers}
    backlog = _complete(functools.partial(_delivered_ids, moto.client("s3"), "remote-logs"), answered)
    seen, drained = _until(backlog, 60, "backlog delivered")
    _, cleared = _until(lambda: not _status_error(ct, "remote"), 30, "status error cleared")
    assert max(seen[r] for r in answered) == 1, "a call was delivered twice"
    return {
        "outage_s": OUTAGE_S,
        "error_shown_after_s": round(shown_after, 1),
        "latest_delivery_error": error[:120],
        "calls_answered": len(answered),
        "calls_answered_before_heal": during,
        "backlog_delivered_after_heal_s": round(drained, 1),
        "status_error_cleared_after_s": round(cleared, 1),
        "lost": 0,
        "delivered_twice": 0,
    }


@pytest.mark.timeout(int(SLOW_RUN_S) + 240)
def test_slow_webhook_holds_only_its_own_trail_and_memory_stays_bounded(
    tmp_path: Path, figures: Figures
) -> None:
    with run_webhook(delay=10.0) as slow, run_webhook() as fast:
        extra = (
            f'\n[delivery]\ninterval_seconds = 1\n\n[[bucket]]\nname = "sink-logs"\naccount = "{ACCOUNT_A}"\n'
            f'\n[[webhook]]\ntopic = "slow-topic"\nurl = "{slow.url}"\n'
            f'\n[[webhook]]\ntopic = "fast-topic"\nurl = "{fast.url}"\n'
        )
        srv = ReliabilityServer(tmp_path / "data", config=config_file(tmp_path, extra=extra))
        srv.start()
        try:
            found = _slow_sink_run(srv, slow, fast)
        finally:
            srv.stop()
    figures.record("delivery: slow webhook (10 s answers)", **found)


def _slow_sink_run(srv: ReliabilityServer, slow: Webhook, fast: Webhook) -> dict[str, Any]:
    ct = make_client(srv.url, "cloudtrail", ALICE)
    for name in ("slow", "fast"):
        ct.create_trail(Name=name, S3BucketName="sink-logs", S3KeyPrefix=name, SnsTopicName=f"{name}-topic")
        ct.start_logging(Name=name)
    traffic = Traffic(srv.url, ALICE, clients=4, rate=SLOW_RATE)
    traffic.prepare()
    traffic.start()
    time.sleep(5.0)
    fast_before = len(fast.hits)
    with RssSampler(srv) as rss:
        time.sleep(SLOW_RUN_S)
    traffic.stop()
    answered = {a.request_id for a in traffic.tally.answers}
    bucket = srv.data_dir / "buckets" / "sink-logs"
    for prefix in ("slow", "fast"):  # log files of both trails: a slow sink holds no delivery back
        seen, _ = _until(_complete(functools.partial(_local_ids, bucket / prefix), answered), 30, prefix)
        assert max(seen[r] for r in answered) == 1
    fast_during = len(fast.hits) - fast_before
    assert fast_during >= SLOW_RUN_S / 3, f"the fast trail got {fast_during} notifications in {SLOW_RUN_S}s"
    assert slow.hits, "the slow webhook was called"
    assert rss.growth(0) <= SINK_GROWTH_BOUND, f"RSS grew {rss.growth(0) / MIB:.1f} MiB: {rss.series_mib()}"
    return {
        "run_s": SLOW_RUN_S,
        "rate_per_s": SLOW_RATE,
        "calls_answered": len(answered),
        "fast_trail_notifications": fast_during,
        "slow_webhook_calls": len(slow.hits),
        "slow_webhook_peak_concurrent": slow.peak_concurrent,
        "rss_mib_series": rss.series_mib(),
        "rss_growth_mib": round(rss.growth(0) / MIB, 1),
        "growth_bound_mib": SINK_GROWTH_BOUND // MIB,
        "log_files_complete_for_both_trails": True,
    }


def _complete(read: Callable[[], Counter[str]], wanted: set[str]) -> Callable[[], Counter[str] | None]:
    """A probe: what ``read`` finds, once it holds every one of ``wanted``."""

    def probe() -> Counter[str] | None:
        found = read()
        return found if wanted <= set(found) else None

    return probe


def _status_error(ct: Any, trail: str) -> str:
    error: str = ct.get_trail_status(Name=trail).get("LatestDeliveryError", "")
    return error


def _local_ids(root: Path) -> Counter[str]:
    seen: Counter[str] = Counter()
    for path in root.rglob("*.json.gz"):
        seen.update(r["requestID"] for r in json.loads(gzip.decompress(path.read_bytes()))["Records"])
    return seen
