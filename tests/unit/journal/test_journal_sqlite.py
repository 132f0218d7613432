"""SqliteJournal alone: its file, schema version and settings (the shared contract: test_journal_contract)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from trailkeeper.errors import ConfigError, JournalUnavailable
from trailkeeper.journal.base import Journal
from trailkeeper.journal.sqlite import SqliteJournal

from .support import make_entry, opened


def test_sqlite_journal_satisfies_journal_protocol(tmp_path: Path) -> None:
    journal: Journal = SqliteJournal(tmp_path / "j.sqlite3")  # mypy checks the protocol here
    assert journal.describe() == f"sqlite({tmp_path / 'j.sqlite3'})"


def test_open_creates_missing_directories(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "a" / "b" / "j.sqlite3") as journal:
            await journal.append(make_entry())
            assert journal.writable()

    asyncio.run(scenario())
    assert (tmp_path / "a" / "b" / "j.sqlite3").is_file()


def test_open_on_an_unusable_path_raises_journal_unavailable(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")

    async def scenario() -> None:
        with pytest.raises(JournalUnavailable, match="cannot open journal"):
            await SqliteJournal(tmp_path / "not-a-dir" / "j.sqlite3").open()

    asyncio.run(scenario())


def test_open_refuses_a_journal_from_a_newer_schema(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "j.sqlite3") as db:
        db.execute("PRAGMA user_version = 99")

    async def scenario() -> None:
        with pytest.raises(JournalUnavailable, match="schema version 99"):
            await SqliteJournal(tmp_path / "j.sqlite3").open()

    asyncio.run(scenario())


def test_unknown_synchronous_mode_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="synchronous"):
        SqliteJournal(tmp_path / "j.sqlite3", synchronous="FULL; DROP TABLE events")


def test_open_can_be_retried_after_the_cause_is_fixed(tmp_path: Path) -> None:
    blocker = tmp_path / "dir"
    blocker.write_text("")

    async def scenario() -> None:
        journal = SqliteJournal(blocker / "j.sqlite3")
        with pytest.raises(JournalUnavailable):
            await journal.open()
        assert not journal.writable()
        blocker.unlink()
        await journal.open()
        try:
            assert await journal.append(make_entry()) == 1
        finally:
            await journal.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(("events", "within"), [(3, 3.0), (400, 0.5)])
def test_the_checkpointer_copies_appended_events_into_the_database_file(
    tmp_path: Path, events: int, within: float
) -> None:
    # A few events are checkpointed at the latest a second after they were written; many at
    # once without waiting that second (paced by events written, not by a short fixed tick).
    path = tmp_path / "j.sqlite3"

    async def scenario() -> None:
        async with opened(path) as journal:
            await asyncio.sleep(1.2)  # the migration's own pages are checkpointed first
            before = path.stat().st_size
            await asyncio.gather(*(journal.append(make_entry(record_pad="x" * 2000)) for _ in range(events)))
            deadline = time.monotonic() + within
            while path.stat().st_size == before:
                assert time.monotonic() < deadline, "the appended pages stayed in the WAL"
                await asyncio.sleep(0.02)

    asyncio.run(scenario())
