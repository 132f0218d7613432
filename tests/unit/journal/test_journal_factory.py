"""open_journal: the journal a Settings names, and the package's exports."""

from __future__ import annotations

from pathlib import Path

import pytest

import trailkeeper.journal
from trailkeeper.config import Settings
from trailkeeper.errors import ConfigError
from trailkeeper.journal import PostgresJournal, SqliteJournal, open_journal


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, "data/journal.sqlite3"),
        ("sqlite:", "data/journal.sqlite3"),
        ("sqlite://", "data/journal.sqlite3"),
        ("sqlite:elsewhere.db", "data/elsewhere.db"),
        ("sqlite:///abs/j.db", "/abs/j.db"),
    ],
)
def test_open_journal_sqlite_url_names_the_file(tmp_path: Path, url: str | None, expected: str) -> None:
    journal = open_journal(Settings(data_dir=tmp_path / "data", journal_url=url))
    assert isinstance(journal, SqliteJournal)
    where = expected if expected.startswith("/") else str(tmp_path / expected)
    assert journal.describe() == f"sqlite({where})"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://trail:hunter2@db.example:5432/trail", "postgresql://trail:***@db.example:5432/trail"),
        (
            "postgres://trail@db.example/trail?password=hunter2",
            "postgres://trail@db.example/trail?password=***",
        ),
        (
            "postgresql://trail:hunter2@db/t?options=-csearch_path%3Dtk",
            "postgresql://trail:***@db/t?options=-csearch_path%3Dtk",
        ),
    ],
)
def test_open_journal_postgres_url_names_it_without_the_password(
    tmp_path: Path, url: str, shown: str
) -> None:
    journal = open_journal(Settings(data_dir=tmp_path, journal_url=url))  # not connected yet
    assert isinstance(journal, PostgresJournal)
    assert journal.describe() == shown


def test_open_journal_other_url_is_a_config_error_without_its_password(tmp_path: Path) -> None:
    url = "mysql://trail:hunter2@db.example:3306/trail"
    with pytest.raises(ConfigError, match="not supported") as info:
        open_journal(Settings(data_dir=tmp_path, journal_url=url))
    assert "hunter2" not in str(info.value)
    assert "mysql" in str(info.value)


def test_open_journal_malformed_postgres_url_is_a_config_error_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://trail:hunter2@db.example/trail?no_such_option=1"
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL") as info:
        open_journal(Settings(data_dir=tmp_path, journal_url=url))
    assert "hunter2" not in str(info.value)


def test_journal_package_exports_resolve_and_are_sorted() -> None:
    exported = trailkeeper.journal.__all__
    assert exported == sorted(exported)
    assert all(hasattr(trailkeeper.journal, name) for name in exported)
    assert {"Journal", "JournalEntry", "PostgresJournal", "SqliteJournal", "open_journal"} <= set(exported)
