"""The journal package: Settings in, the configured Journal out (plus the contract types re-exported)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from trailkeeper.config import Settings
from trailkeeper.errors import ConfigError
from trailkeeper.journal.base import (
    Journal,
    JournalEntry,
    LookupAttribute,
    LookupPage,
    LookupQuery,
    StoredEvent,
)
from trailkeeper.journal.postgres import PostgresJournal
from trailkeeper.journal.sqlite import SqliteJournal

__all__ = [
    "Journal",
    "JournalEntry",
    "LookupAttribute",
    "LookupPage",
    "LookupQuery",
    "PostgresJournal",
    "SqliteJournal",
    "StoredEvent",
    "open_journal",
]

DEFAULT_FILE = "journal.sqlite3"
_POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_journal(settings: Settings) -> Journal:
    """The journal ``settings.journal_url`` names (not yet opened). Raises ConfigError.

    None or ``sqlite:`` means ``<data_dir>/journal.sqlite3``; ``sqlite:///abs/path`` and
    ``sqlite:rel/path`` (relative to data_dir) name another file. ``postgresql://…`` (or
    ``postgres://…``) is a libpq URL: the journal's tables live in the first schema of its
    search_path (``?options=-csearch_path%3Dname``), ``public`` by default.
    """
    url = settings.journal_url
    if url is None:
        return SqliteJournal(settings.data_dir / DEFAULT_FILE, min_free_bytes=settings.journal_min_free_bytes)
    if url.startswith("sqlite:"):
        path = _sqlite_path(settings.data_dir, url.removeprefix("sqlite:"))
        return SqliteJournal(path, min_free_bytes=settings.journal_min_free_bytes)
    # Only the scheme is echoed: a database URL may carry a password.
    scheme = urlsplit(url).scheme or url.split(":", 1)[0]
    if scheme in _POSTGRES_SCHEMES and url.startswith(f"{scheme}://"):
        return PostgresJournal(url)
    raise ConfigError(
        f"journal URL {scheme}://… is not supported; use sqlite: (the default) or postgresql://…"
    )


def _sqlite_path(data_dir: Path, rest: str) -> Path:
    # "sqlite:" / "sqlite://" alone: the default file; "sqlite:///x" -> "/x"; "sqlite:x" -> data_dir/x.
    rest = rest.removeprefix("//")
    if not rest:
        return data_dir / DEFAULT_FILE
    path = Path(rest)
    return path if path.is_absolute() else data_dir / path
