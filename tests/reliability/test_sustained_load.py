"""Sustained load with delivery on: a steady rate of mixed calls; throughput, p99 and memory at start and end.

Eight clients hold a steady aggregate rate of mixed Glue / EMR Serverless calls against a server
with a logging trail delivering every second. Reported: throughput, p50/p99 latency (client side,
boto3 included) for the first and the last tenth of the run, and the server's resident memory
(VmRSS) after warm-up and at the end. Asserted: memory growth stays within the SQLite page caches
plus a margin and has stopped by the last third of the run (see the bounds below), every
answered call is in LookupEvents and delivered in exactly one log file, no call went unanswered.
CI: 60 s; TRAILKEEPER_FULL=1: 30 minutes.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.conftest import ACCOUNT_A, ALICE
from tests.reliability._support import (
    MIB,
    PAGE_CACHES,
    Figures,
    ReliabilityServer,
    RssSampler,
    check_recorded,
    config_file,
    make_client,
    records,
    scaled,
)
from tests.reliability._traffic import Tally, Traffic, percentile

DURATION = scaled(60.0, 1800.0)
RATE = 40.0  # calls per second, all clients together (the CI machine has two cores for everything)
CLIENTS = 8
WARM_UP = max(10.0, DURATION / 10)
SAMPLE_EVERY = 2.0
# Resident memory may grow while the journal's SQLite page caches fill (PAGE_CACHES, _support.py),
# reached once the journal outgrows them (minutes at this rate). Past that, growth must stop:
# bounded state (each client deletes what it creates) needs nothing more. So the whole run may
# grow by the caches plus a margin, and its last third by no more than a small margin (a leak of
# 1 KB a call would add 24 MiB per 10 minutes here).
GROWTH_BOUND = PAGE_CACHES + 48 * MIB
LATE_GROWTH_BOUND = 16 * MIB
BUCKET = "load-logs"


def _delivered(root: Path) -> Counter[str]:
    """requestID -> how many delivered log files hold it."""
    seen: Counter[str] = Counter()
    for path in root.rglob("*.json.gz"):
        for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            seen[record["requestID"]] += 1
    return seen


def _wait_delivered(root: Path, wanted: set[str], timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        seen = _delivered(root)
        if wanted <= set(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(1.0)


def _drive(srv: ReliabilityServer) -> tuple[Tally, float, RssSampler]:
    """The steady traffic for DURATION seconds with RSS sampled; the answers, seconds taken, samples."""
    traffic = Traffic(srv.url, ALICE, clients=CLIENTS, rate=RATE)
    traffic.prepare()
    began = time.monotonic()
    traffic.start()
    with RssSampler(srv, SAMPLE_EVERY) as rss:
        try:
            time.sleep(DURATION)
        finally:
            traffic.stop()
    return traffic.tally, time.monotonic() - began, rss


def _ms(values: list[float], fraction: float) -> float:
    return round(percentile(values, fraction) * 1000, 1)


def _figures(tally: Tally, elapsed: float, rss: RssSampler) -> dict[str, object]:
    samples = rss.samples
    after_warm_up, end = next(r for t, r in samples if t >= WARM_UP), samples[-1][1]
    tenth = max(1, len(tally.latencies) // 10)
    first, last = tally.latencies[:tenth], tally.latencies[-tenth:]
    return {
        "duration_s": round(elapsed),
        "target_rate_per_s": RATE,
        "clients": CLIENTS,
        "calls_answered": len(tally.answers),
        "errors_answered": len(tally.errors()),
        "throughput_per_s": round(len(tally.answers) / elapsed, 1),
        "p50_ms_start_end": [_ms(first, 0.5), _ms(last, 0.5)],
        "p99_ms_start_end": [_ms(first, 0.99), _ms(last, 0.99)],
        "p99_ms_overall": _ms(tally.latencies, 0.99),
        "rss_mib_after_warm_up": round(after_warm_up / MIB, 1),
        "rss_mib_end": round(end / MIB, 1),
        "rss_mib_peak": round(max(r for _, r in samples) / MIB, 1),
        "rss_growth_mib": round((end - after_warm_up) / MIB, 1),
        "rss_growth_last_third_mib": round(rss.growth(samples[-1][0] * 2 / 3) / MIB, 1),
        "growth_bounds_mib_total_last_third": [GROWTH_BOUND // MIB, LATE_GROWTH_BOUND // MIB],
        "rss_mib_series": rss.series_mib(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),  # the machine is shared: context
    }


@pytest.mark.timeout(int(DURATION) + 600)
def test_steady_load_keeps_latency_and_memory_bounded(tmp_path: Path, figures: Figures) -> None:
    extra = f'\n[delivery]\ninterval_seconds = 1\n\n[[bucket]]\nname = "{BUCKET}"\naccount = "{ACCOUNT_A}"\n'
    srv = ReliabilityServer(tmp_path / "data", config=config_file(tmp_path, extra=extra))
    srv.start()
    try:
        ct = make_client(srv.url, "cloudtrail", ALICE)
        ct.create_trail(Name="load", S3BucketName=BUCKET)
        ct.start_logging(Name="load")
        tally, elapsed, rss = _drive(srv)
        answered = {a.request_id for a in tally.answers}
        delivered = _wait_delivered(srv.data_dir / "buckets" / BUCKET, answered, timeout=60)
        stored = records(ct)
    finally:
        srv.stop()
    check_recorded(tally.answers, stored)
    assert tally.unanswered == 0
    missing = answered - set(delivered)
    assert not missing, f"{len(missing)} answered calls not delivered, e.g. {sorted(missing)[:3]}"
    assert max(delivered[r] for r in answered) == 1, "a call was delivered in more than one file"
    found = _figures(tally, elapsed, rss)
    figures.record("sustained load", **found, delivered_exactly_once=len(answered), lost=0)
    assert rss.growth(WARM_UP) <= GROWTH_BOUND, f"RSS grew {rss.growth(WARM_UP) / MIB:.1f} MiB: {found}"
    late = rss.growth(rss.samples[-1][0] * 2 / 3)
    assert late <= LATE_GROWTH_BOUND, f"RSS still growing in the last third: {found}"
