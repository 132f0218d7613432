"""sqlite_state.py: one state file on one thread: migrations once, transactions all or nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from trailkeeper.sqlite_state import SqliteStateFile

MIGRATIONS = (("CREATE TABLE things (name TEXT PRIMARY KEY) STRICT",),)


class ThingError(Exception):
    pass


def _file(path: Path, migrations: tuple[tuple[str, ...], ...] = MIGRATIONS) -> SqliteStateFile:
    return SqliteStateFile(
        path, what="things", thread_name="things", version_table="things_schema",
        migrations=migrations, error=ThingError,
    )  # fmt: skip


def test_a_failed_write_leaves_nothing_and_a_reopen_keeps_what_was_committed(tmp_path: Path) -> None:
    async def scenario() -> None:
        state = _file(tmp_path / "state.sqlite3")
        await state.open()
        await state.write(lambda c: c.execute("INSERT INTO things VALUES ('kept')"))

        def half_done(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO things VALUES ('lost')")
            raise ThingError("boom")

        with pytest.raises(ThingError):
            await state.write(half_done)
        await state.close()
        again = _file(tmp_path / "state.sqlite3")  # migrations already applied: nothing re-run
        await again.open()
        assert await again.query("SELECT name FROM things") == [("kept",)]
        assert await again.query("SELECT version FROM things_schema") == [(1,)]
        await again.close()

    asyncio.run(scenario())


def test_a_newer_schema_is_refused_and_a_closed_file_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        newer = _file(tmp_path / "state.sqlite3", (*MIGRATIONS, ("CREATE TABLE more (x TEXT) STRICT",)))
        await newer.open()
        await newer.close()
        older = _file(tmp_path / "state.sqlite3")
        with pytest.raises(ThingError, match="schema version 2 is newer"):
            await older.open()
        with pytest.raises(ThingError, match="not open"):
            await _file(tmp_path / "other.sqlite3").query("SELECT 1")

    asyncio.run(scenario())
