"""Crash durability: 16 clients of mixed calls, ``kill -9`` at a random moment, restart: no answer lost.

Every call a client saw answered must be in LookupEvents exactly once (matched by requestID, as
answered: a success without an errorCode, an error with its code), and eventIDs never repeat,
over all runs together. A logging trail delivers every second throughout, so kills also land in
the middle of deliveries: afterwards every answered call is in exactly one delivered log file,
and no eventID appears twice across all files. CI: 3 runs; TRAILKEEPER_FULL=1: 20 runs.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import ACCOUNT_A, ALICE
from tests.reliability._support import (
    Figures,
    ReliabilityServer,
    check_recorded,
    config_file,
    make_client,
    records,
    scaled,
)
from tests.reliability._traffic import Answer, Traffic

RUNS = int(scaled(3, 20))
CLIENTS = 16
# The kill lands anywhere in this window after the clients start (uniformly).
KILL_AFTER = (0.3, 3.0)
SEED = int(os.environ.get("TRAILKEEPER_SEED", "0")) or random.randrange(1 << 30)
BUCKET = "crash-logs"
DELIVERY = f'\n[delivery]\ninterval_seconds = 1\n\n[[bucket]]\nname = "{BUCKET}"\naccount = "{ACCOUNT_A}"\n'


def _delivered_event_ids(bucket: Path) -> tuple[Counter[str], dict[str, str], int]:
    """eventID -> files holding it, requestID -> eventID, and the number of files."""
    counts: Counter[str] = Counter()
    ids: dict[str, str] = {}
    files = sorted(bucket.rglob("*.json.gz"))
    for path in files:
        for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            counts[record["eventID"]] += 1
            ids[record["requestID"]] = record["eventID"]
    return counts, ids, len(files)


def _wait_delivered(bucket: Path, request_ids: set[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not request_ids <= set(_delivered_event_ids(bucket)[1]):
        if time.monotonic() > deadline:
            missing = request_ids - set(_delivered_event_ids(bucket)[1])
            raise AssertionError(f"{len(missing)} answered calls never delivered, e.g. {sorted(missing)[:3]}")
        time.sleep(0.5)


@dataclass
class _Crashes:
    """What the runs so far saw: every answer, the calls cut off, the kill moments."""

    answers: list[Answer] = field(default_factory=list)
    unanswered: int = 0
    unknown: int = 0  # reserved calls the kill cut off, recorded with an unknown outcome
    kills: list[float] = field(default_factory=list)

    def run(self, srv: ReliabilityServer, traffic: Traffic, rng: random.Random) -> None:
        """Traffic, kill -9 at a random moment, restart; this run's answers are all recorded once."""
        begun = datetime.now(UTC) - timedelta(seconds=1)
        traffic.prepare()
        traffic.start()
        self.kills.append(round(rng.uniform(*KILL_AFTER), 2))
        time.sleep(self.kills[-1])
        srv.stop(kill=True)
        traffic.stop()
        srv.start()
        stored = records(make_client(srv.url, "cloudtrail", ALICE), StartTime=begun)
        check_recorded(traffic.tally.answers, stored)
        self.answers += traffic.tally.answers
        self.unanswered += traffic.tally.unanswered
        self.unknown += sum("outcome is unknown" in r.get("errorMessage", "") for r in stored)


@pytest.mark.timeout(int(scaled(240, 1800)))
def test_kill_9_at_random_moments_loses_no_acknowledged_call(tmp_path: Path, figures: Figures) -> None:
    rng, seen = random.Random(SEED), _Crashes()
    srv = ReliabilityServer(tmp_path / "data", config=config_file(tmp_path, extra=DELIVERY))
    srv.start()
    ct = make_client(srv.url, "cloudtrail", ALICE)
    ct.create_trail(Name="crash", S3BucketName=BUCKET)
    ct.start_logging(Name="crash")
    traffic = Traffic(srv.url, ALICE, clients=CLIENTS)  # the port stays the same over restarts
    try:
        for _ in range(RUNS):
            seen.run(srv, traffic, rng)
        everything = records(make_client(srv.url, "cloudtrail", ALICE))
        check_recorded(seen.answers, everything)  # earlier runs' events survived the later kills
        assert max(Counter(r["eventID"] for r in everything).values()) == 1, "an eventID repeats"
        bucket = srv.data_dir / "buckets" / BUCKET
        _wait_delivered(bucket, {a.request_id for a in seen.answers})
        in_files, by_request, files = _delivered_event_ids(bucket)
    finally:
        srv.stop()
    twice = [e for e, n in in_files.items() if n > 1]
    assert not twice, f"{len(twice)} events delivered in more than one log file, e.g. {twice[:3]}"
    assert {by_request[a.request_id] for a in seen.answers} <= {r["eventID"] for r in everything}
    figures.record(
        "crash",
        seed=SEED,
        runs=RUNS,
        clients=CLIENTS,
        kill_after_s=seen.kills,
        acknowledged_successes=sum(not a.code for a in seen.answers),
        acknowledged_errors=sum(bool(a.code) for a in seen.answers),
        unanswered_at_kill=seen.unanswered,
        recorded_outcome_unknown=seen.unknown,
        events_checked=len(everything),
        lost=0,
        duplicated=0,
        repeated_event_ids=0,
        delivered_files=files,
        delivered_events=len(in_files),
        delivered_twice=0,
    )
