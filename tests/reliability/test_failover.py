"""Three gateways and two delivery workers on one PostgreSQL database, under a steady mixed Glue / EMR
Serverless load: `kill -9` one gateway and the worker delivering the trail at that moment; every
acknowledged call is then in LookupEvents (asked of another node) and in exactly one delivered log file.

The CI variant runs the load for 12 s (the whole test takes 35-60 s, most of it the dead worker's
lease running out); ``TRAILKEEPER_FULL=1`` runs it for 120 s. The figures go to the reliability report.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psycopg

from tests.e2e.conftest import ACCOUNT_A, ALICE, lookup_all, make_client
from tests.e2e.delivery_support import Archive, delivery_config, request_ids, wait_for
from tests.e2e.server import TrailkeeperServer
from tests.reliability._cluster import PinnedLoad, Worker, fresh_database, gateway
from tests.reliability._support import FULL, Figures

LOAD_SECONDS = 120.0 if FULL else 12.0


def _lease_holder_pid(url: str) -> int | None:
    """The pid of the worker holding the trail's delivery lease right now, if one does."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT holder FROM state_leases WHERE name LIKE 'delivery:%' LIMIT 1").fetchone()
    return int(row[0].split(":")[1]) if row else None


def test_kill_9_of_a_gateway_and_the_delivering_worker_loses_and_repeats_nothing(
    tmp_path: Path, figures: Figures
) -> None:
    config = delivery_config(tmp_path)
    shared = tmp_path / "data"  # the local bucket every node reads and writes (S3 in production)
    with fresh_database() as url:
        gateways = [gateway(shared, config, url, f"gateway{i}") for i in range(3)]
        workers = [Worker(shared, config, url, f"worker{i}") for i in range(2)]
        try:
            nodes: list[TrailkeeperServer | Worker] = [*gateways, *workers]
            for node in nodes:
                node.start()
            ct = make_client(gateways[0].url, "cloudtrail", ALICE)
            ct.create_trail(Name="main", S3BucketName="audit-logs", S3KeyPrefix="main")
            ct.start_logging(Name="main")
            load = PinnedLoad([g.url for g in gateways], ALICE, per_gateway=2)
            started = time.monotonic()
            load.start()
            time.sleep(LOAD_SECONDS / 2)
            # The worker holding the lease now is the one delivering: kill it (the other must take over).
            victim_pid = wait_for(lambda: _lease_holder_pid(url), timeout=10, every=0.05)
            victim = next(w for w in workers if w.proc is not None and w.proc.pid == victim_pid)
            os.kill(victim_pid, signal.SIGKILL)
            gateways[2].stop(kill=True)
            killed_at = time.monotonic()
            time.sleep(max(0.0, LOAD_SECONDS - (killed_at - started)))
            load.stop()
            acked = set(load.answered.request_ids)
            assert len(acked) == len(load.answered.request_ids)  # requestIDs are unique across nodes
            assert len(acked) > 100

            s3 = make_client(gateways[1].url, "s3", ALICE)
            archive = Archive(s3, "audit-logs", "main")

            def all_delivered() -> bool:
                return acked <= set(request_ids(archive.refresh()))

            wait_for(all_delivered, timeout=60, every=0.5)
            delivered_at = time.monotonic()
            counts = request_ids(archive.files)
            repeated = {rid: n for rid, n in counts.items() if n != 1}
            assert not repeated, f"delivered more than once: {list(repeated.items())[:5]}"

            history = lookup_all(make_client(gateways[1].url, "cloudtrail", ALICE))
            seen = {json.loads(e["CloudTrailEvent"])["requestID"] for e in history}
            assert acked <= seen
            times = [e["EventTime"] for e in history]
            assert times == sorted(times, reverse=True)  # one order, newest first, across every node
            event_ids = [e["EventId"] for e in history]
            assert len(set(event_ids)) == len(event_ids)
            survivor = next(w for w in workers if w is not victim)
            figures.record(
                "failover",
                acknowledged_calls=len(acked),
                unanswered_calls=load.answered.unanswered,
                clients_moved=load.answered.moved,
                delivered_files=len(archive.files),
                seconds_from_kill_to_all_delivered=round(delivered_at - killed_at, 1),
                survivor_finished_a_batch="finishing batch" in survivor.log_text(),
                account=ACCOUNT_A,
            )
        finally:
            for gw in gateways:
                gw.stop()
            for worker in workers:
                worker.stop()
