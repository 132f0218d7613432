"""SqliteJournal fails closed: low disk space or a failing write refuses appends; it recovers by itself."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trailkeeper.errors import JournalUnavailable

from .support import T0, event_ids, make_entry, opened, query

ROOT = Path(__file__).resolve().parents[3]
GiB = 1 << 30


def _free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


async def _wait_until(condition: object, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        await asyncio.sleep(0.05)
    return False


def test_min_free_bytes_above_free_space_refuses_appends_and_reservations(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "j.sqlite3", min_free_bytes=_free_bytes(tmp_path) + 64 * GiB) as journal:
            assert not journal.writable()
            with pytest.raises(JournalUnavailable):
                await journal.append(make_entry())
            with pytest.raises(JournalUnavailable):
                await journal.reserve(make_entry())
            assert (await journal.lookup(query())).events == []  # reads still work

    asyncio.run(scenario())


def test_disk_filling_up_refuses_appends_until_space_returns(tmp_path: Path) -> None:
    # A real file takes real space: the journal sees it through statvfs, as it would a filling disk.
    kept = make_entry(T0)
    after = make_entry(T0 + 1)
    filler = tmp_path / "filler"

    async def scenario() -> None:
        async with opened(tmp_path / "j.sqlite3", min_free_bytes=_free_bytes(tmp_path) - GiB) as journal:
            await journal.append(kept)
            fd = os.open(filler, os.O_CREAT | os.O_WRONLY)
            try:
                os.posix_fallocate(fd, 0, 2 * GiB)
            finally:
                os.close(fd)
            assert await _wait_until(lambda: not journal.writable())
            with pytest.raises(JournalUnavailable):
                await journal.append(make_entry(T0 + 2))
            filler.unlink()
            assert await _wait_until(journal.writable)
            await journal.append(after)
            assert event_ids((await journal.lookup(query())).events) == [after.event_id, kept.event_id]

    try:
        asyncio.run(scenario())
    finally:
        filler.unlink(missing_ok=True)


# Runs in a child process, because RLIMIT_FSIZE applies to the whole process: from the moment the
# limit drops to 1 byte every write into the journal's files fails (EFBIG), as on a broken disk.
CHILD = """
import asyncio, json, resource, sys, time
from pathlib import Path
from tests.unit.journal.support import T0, make_entry
from trailkeeper.errors import JournalUnavailable
from trailkeeper.journal.sqlite import SqliteJournal

async def attempt(journal, entry):
    try:
        return await journal.append(entry)
    except JournalUnavailable:
        return None

async def main() -> None:
    journal = SqliteJournal(Path(sys.argv[1]))
    await journal.open()
    out = {"before": [await journal.append(make_entry(T0 + i)) for i in range(5)]}
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))
    failing = [make_entry(T0 + 10 + i) for i in range(3)]
    out["failed_batch"] = await asyncio.gather(*(attempt(journal, e) for e in failing))
    out["writable_while_failing"] = journal.writable()
    out["fail_fast"] = await attempt(journal, make_entry(T0 + 20))
    time.sleep(0.7)  # at least one probe runs, and fails, meanwhile
    out["writable_before_fix"] = journal.writable()
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    for _ in range(60):
        if journal.writable():
            break
        await asyncio.sleep(0.05)
    out["writable_after_fix"] = journal.writable()
    out["after"] = await journal.append(make_entry(T0 + 30))
    out["failed_ids"] = [e.event_id for e in failing]
    await journal.close()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_write_error_fails_the_batch_closed_and_the_probe_recovers(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["failed_batch"] == [None, None, None]
    assert out["writable_while_failing"] is False
    assert out["fail_fast"] is None
    assert out["writable_before_fix"] is False
    assert out["writable_after_fix"] is True

    async def stored() -> list[int]:
        async with opened(path) as journal:
            page = await journal.lookup(query())
            assert not set(out["failed_ids"]) & set(event_ids(page.events))
            return sorted(s.seq for s in page.events)

    # Nothing committed before the failure is lost, and seqs continue without a hole.
    assert asyncio.run(stored()) == [*out["before"], out["after"]] == [1, 2, 3, 4, 5, 6]
