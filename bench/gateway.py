"""Gateway benchmark: a Glue call through the recording gateway vs the same backend called in-process.

Baseline: moto's Glue backend invoked in-process through trailkeeper's EmbeddedBackend, with no
HTTP, no signature check and no recording. Measured: the real server (subprocess, loopback
HTTP/1.1 keep-alive, SigV4 verified, record made durable with fsync before the answer).
Both run in the same invocation, so the ratio compares like with like on this machine.

A third row per concurrency, the HTTP floor, sends ``GET /_trailkeeper/health`` over the same
kind of keep-alive connections with the same client: the loopback round trip and uvicorn's share,
with no signature, no backend and no record. It is part of the gateway's added latency, shown
apart so the rest (verify, parse, record, durable append) can be read off.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from rich.console import Console
from rich.table import Table

from tests.e2e.conftest import ALICE, make_client, write_config
from tests.e2e.server import TrailkeeperServer
from trailkeeper.capture.backends import BackendCall, EmbeddedBackend
from trailkeeper.capture.catalog import load_catalog
from trailkeeper.capture.identity.principal import Principal
from trailkeeper.capture.identity.sigv4 import Scope, Verified
from trailkeeper.capture.request import HttpRequest

BODY = b'{"Name": "benchdb"}'
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSGlue.GetDatabase"}


@dataclass
class Result:
    name: str
    concurrency: int
    calls: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


async def _baseline(calls: int, concurrency: int) -> Result:
    entry = load_catalog(["glue"]).by_signing_name("glue")
    assert entry is not None
    backend = EmbeddedBackend()
    principal = Principal(
        "IAMUser",
        "111122223333",
        "arn:aws:iam::111122223333:user/alice",
        "AIDAX",
        ALICE.access_key_id,
        "alice",
    )
    caller = Verified(
        principal, ALICE.secret_access_key, Scope(ALICE.access_key_id, "20260101", "us-east-1", "glue"), False
    )
    headers = {k.lower(): v for k, v in HEADERS.items()}
    create = HttpRequest(
        "POST",
        "/",
        "",
        {**headers, "x-amz-target": "AWSGlue.CreateDatabase"},
        b'{"DatabaseInput": {"Name": "benchdb"}}',
        "127.0.0.1",
    )
    await backend.invoke(BackendCall(entry, "CreateDatabase", create, caller))
    request = HttpRequest("POST", "/", "", headers, BODY, "127.0.0.1")
    latencies: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            t = time.perf_counter()
            resp = await backend.invoke(BackendCall(entry, "GetDatabase", request, caller))
            latencies.append(time.perf_counter() - t)
            assert resp.status == 200

    start = time.perf_counter()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    return Result(
        "in-process backend, no recording",
        concurrency,
        len(latencies),
        time.perf_counter() - start,
        latencies,
    )


def _signed_request(port: int) -> bytes:
    url = f"http://127.0.0.1:{port}/"
    req = AWSRequest(method="POST", url=url, data=BODY, headers=dict(HEADERS))
    SigV4Auth(Credentials(ALICE.access_key_id, ALICE.secret_access_key), "glue", "us-east-1").add_auth(req)
    lines = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(BODY)}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + BODY


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


def _health_request(port: int) -> bytes:
    return f"GET /_trailkeeper/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


async def _gateway(port: int, calls: int, concurrency: int, *, floor: bool = False) -> Result:
    # SigV4 allows replay within the skew window; clients cost ~nothing
    payload = _health_request(port) if floor else _signed_request(port)
    latencies: list[float] = []

    async def worker(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(n):
            t = time.perf_counter()
            writer.write(payload)
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - t)
            assert status == 200, status
        writer.close()

    await worker(50)  # warm-up
    latencies.clear()
    start = time.perf_counter()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    name = "HTTP floor: health endpoint, same client" if floor else "gateway over HTTP, recording on"
    return Result(name, concurrency, len(latencies), time.perf_counter() - start, latencies)


def _table(results: list[tuple[Result, Result, Result]]) -> Table:
    table = Table(title=f"Glue GetDatabase — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    for col in (
        "concurrency",
        "path",
        "calls/s",
        "p50 ms",
        "p99 ms",
        "calls/s ratio",
        "added p50 ms",
        "added p99 ms",
    ):
        table.add_column(col, justify="right" if col != "path" else "left")
    for base, gw, floor in results:
        table.add_row(
            str(base.concurrency),
            base.name,
            f"{base.rate:,.0f}",
            f"{base.pct(0.5):.3f}",
            f"{base.pct(0.99):.3f}",
            "1.00",
            "-",
            "-",
        )
        table.add_row(
            str(gw.concurrency),
            gw.name,
            f"{gw.rate:,.0f}",
            f"{gw.pct(0.5):.3f}",
            f"{gw.pct(0.99):.3f}",
            f"{gw.rate / base.rate:.2f}",
            f"{gw.pct(0.5) - base.pct(0.5):.3f}",
            f"{gw.pct(0.99) - base.pct(0.99):.3f}",
        )
        table.add_row(
            str(floor.concurrency),
            f"[dim]{floor.name}[/dim]",
            f"{floor.rate:,.0f}",
            f"{floor.pct(0.5):.3f}",
            f"{floor.pct(0.99):.3f}",
            "-",
            "-",
            "-",
        )
    return table


async def main_async(calls: int) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=140)  # a log keeps whole rows
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = TrailkeeperServer(root / "data", config=write_config(root))
        server.start()
        try:
            make_client(server.url, "glue", ALICE).create_database(DatabaseInput={"Name": "benchdb"})
            results = []
            for concurrency in (1, 32):
                console.print(f"running concurrency {concurrency} …")
                base = await _baseline(calls, concurrency)
                gw = await _gateway(server.port, calls, concurrency)
                floor = await _gateway(server.port, calls, concurrency, floor=True)
                results.append((base, gw, floor))
        finally:
            server.stop()
    console.print(_table(results))
    base, gw, floor = results[0]
    added = gw.pct(0.5) - base.pct(0.5)
    console.print(
        f"target: p50 added latency < 1 ms at concurrency 1 → measured {added:.3f} ms "
        f"(of which the HTTP floor is {floor.pct(0.5):.3f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=4000, help="calls per measurement")
    args = parser.parse_args()
    asyncio.run(main_async(args.calls))


if __name__ == "__main__":
    main()
