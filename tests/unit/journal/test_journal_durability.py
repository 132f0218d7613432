"""Both journals under kill -9: every acknowledged append survives; a left reservation becomes an event."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from trailkeeper.journal._pg_writer import NODE_SPACE
from trailkeeper.journal.base import StoredEvent

from .support import Backend, query

ROOT = Path(__file__).resolve().parents[3]

# Runs in a child process: appends from 8 concurrent tasks and prints "seq event_id" once each
# append has returned (the acknowledgement), or reserves one entry and waits to be killed.
CHILD = """
import asyncio, sys
from pathlib import Path
from tests.unit.journal.support import T0, Backend, make_entry

async def main() -> None:
    journal = Backend(sys.argv[3], sys.argv[1]).journal()
    await journal.open()
    if sys.argv[2] == "reserve":
        entry = make_entry(T0, errorCode="OutcomeUnknown")
        await journal.reserve(entry)
        print(entry.event_id, flush=True)
        await asyncio.sleep(60)
    async def appender(k: int) -> None:
        for i in range(10**9):
            entry = make_entry(T0 + i * 8 + k)
            seq = await journal.append(entry)
            print(seq, entry.event_id, flush=True)
    await asyncio.gather(*(appender(k) for k in range(8)))

asyncio.run(main())
"""


def _start(store: Backend, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, store.location, mode, store.kind],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after(child: subprocess.Popen[str], lines: int) -> list[str]:
    """Read ``lines`` acknowledgements, kill -9 the child, and return every complete line it wrote."""
    assert child.stdout is not None
    assert child.stderr is not None
    read = [child.stdout.readline() for _ in range(lines)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    read += child.stdout.readlines()
    complete = [line.split() for line in read if line.endswith("\n")]
    assert len(complete) >= lines, child.stderr.read()
    return [" ".join(parts) for parts in complete]


async def _everything(store: Backend) -> list[StoredEvent]:
    stored: list[StoredEvent] = []
    async with store.opened() as journal:
        after: tuple[int, int] | None = None
        while True:
            page = await journal.lookup(query(after=after))
            stored += page.events
            if not page.more:
                return stored
            after = (page.events[-1].entry.event_time_ms, page.events[-1].seq)


def test_kill9_keeps_every_acknowledged_append(backend: Backend) -> None:
    acked = {tuple(line.split()) for line in _kill_after(_start(backend, "append"), 400)}
    stored = {(str(s.seq), s.entry.event_id) for s in asyncio.run(_everything(backend))}
    assert acked <= stored
    assert len({seq for seq, _ in stored}) == len(stored)


def _wait_for_dead_writers(store: Backend) -> None:
    """kill -9 closes the child's sockets; the server ends its session (and node lock) a moment later."""
    if store.kind != "postgres":
        return
    held = """SELECT count(*) FROM pg_locks l JOIN reservations r ON l.objid::bigint = r.node
        WHERE l.locktype = 'advisory' AND l.classid::bigint = %s AND l.objsubid = 2"""
    deadline = time.monotonic() + 10
    with psycopg.connect(store.location, autocommit=True) as conn:
        while (row := conn.execute(held, (NODE_SPACE,)).fetchone()) and row[0]:
            assert time.monotonic() < deadline, "the killed writer's session never ended"
            time.sleep(0.02)


def test_kill9_turns_a_left_reservation_into_an_event_at_open(backend: Backend) -> None:
    (event_id,) = _kill_after(_start(backend, "reserve"), 1)
    _wait_for_dead_writers(backend)
    (stored,) = asyncio.run(_everything(backend))
    assert stored.entry.event_id == event_id
    assert b'"errorCode":"OutcomeUnknown"' in stored.entry.record
