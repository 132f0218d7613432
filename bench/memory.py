"""Resident memory at steady load: a gateway process's RSS from start to end of a steady mixed load.

Measured: the real server (subprocess, SQLite journal by default or ``--journal postgresql://…``)
under the reliability suite's mixed Glue / EMR Serverless traffic at ``--rate`` calls/s for
``--seconds``. Baseline, in the same run and under the same traffic: moto's own server (the
backends alone, no recording, no journal). RSS (``/proc/<pid>/status`` VmRSS) is sampled every
second; "start" is after a warm-up of every call kind, "end" the last sample. What the table shows:
growth over the run (end / start: ~1.0 means no leak at steady load) and trailkeeper's footprint
against the backends alone (end / baseline end).

    python -m bench.memory                       # 60 s at 40 calls/s
    python -m bench.memory --seconds 600 --rate 80
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.e2e.conftest import ALICE, write_config
from tests.e2e.delivery_support import MotoS3
from tests.e2e.server import TrailkeeperServer
from tests.reliability._traffic import Traffic

__all__ = ["main"]

console = Console()


@dataclass
class RssRun:
    name: str
    samples: list[int] = field(default_factory=list)  # kB
    calls: int = 0
    errors: int = 0

    @property
    def start(self) -> int:
        return self.samples[0]

    @property
    def end(self) -> int:
        return self.samples[-1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def measure(name: str, url: str, pid: int, *, seconds: float, rate: float, clients: int) -> RssRun:
    traffic = Traffic(url, ALICE, clients=clients, rate=rate)
    traffic.prepare()  # warm-up: every client has made a call, the EMR application exists
    run = RssRun(name, [rss_kb(pid)])
    traffic.start()
    stop = threading.Event()
    deadline = time.monotonic() + seconds
    while not stop.wait(1.0):
        run.samples.append(rss_kb(pid))
        if time.monotonic() >= deadline:
            stop.set()
    traffic.stop()
    run.samples.append(rss_kb(pid))
    run.calls, run.errors = len(traffic.tally.answers), traffic.tally.unanswered
    return run


def _pid(proc: subprocess.Popen[bytes] | None) -> int:
    assert proc is not None
    return proc.pid


def run(seconds: float, rate: float, clients: int, journal: str | None) -> tuple[RssRun, RssRun]:
    with tempfile.TemporaryDirectory(prefix="tk-bench-mem-") as tmp:
        root = Path(tmp)
        moto = MotoS3(root / "moto.log")  # moto's server answers every service on one port
        moto.start()
        try:
            baseline = measure(
                "moto server (backends alone)", moto.url, _pid(moto._proc), seconds=seconds, rate=rate,
                clients=clients,
            )  # fmt: skip
        finally:
            moto.stop()
        extra = ("--journal", journal) if journal else ()
        srv = TrailkeeperServer(root / "data", config=write_config(root), extra_args=extra)
        srv.start()
        try:
            label = f"trailkeeper gateway ({'postgresql' if journal else 'sqlite'} journal)"
            measured = measure(label, srv.url, _pid(srv._proc), seconds=seconds, rate=rate, clients=clients)
        finally:
            srv.stop()
    return baseline, measured


def report(baseline: RssRun, measured: RssRun, seconds: float, rate: float) -> Table:
    table = Table(title=f"Resident memory at steady load ({rate:g} calls/s for {seconds:g} s)")
    for column in ("process", "calls", "RSS start (MiB)", "RSS end (MiB)", "peak (MiB)", "end / start"):
        table.add_column(column, justify="right" if column != "process" else "left")
    for r in (baseline, measured):
        table.add_row(
            r.name, str(r.calls), f"{r.start / 1024:.1f}", f"{r.end / 1024:.1f}",
            f"{max(r.samples) / 1024:.1f}", f"{r.end / r.start:.2f}",
        )  # fmt: skip
    table.caption = f"trailkeeper end / baseline end: {measured.end / baseline.end:.2f}"
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60, help="length of the steady load")
    parser.add_argument("--rate", type=float, default=40, help="calls per second (all clients)")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--journal", default=None, help="postgresql://… (default: SQLite in a temp dir)")
    args = parser.parse_args(argv)
    baseline, measured = run(args.seconds, args.rate, args.clients, args.journal)
    console.print(report(baseline, measured, args.seconds, args.rate))


if __name__ == "__main__":
    main(sys.argv[1:])
