"""Journal modules export their public names in ruff's ``__all__`` order; URL passwords are scrubbed."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

from trailkeeper.journal import (
    _entries,
    _group_commit,
    _keys,
    _pg_connect,
    _pg_indexer,
    _pg_reads,
    _pg_rows,
    _pg_schema,
    _pg_writer,
    _readers,
    _sqlite_checkpoint,
    _sqlite_keys,
    _sqlite_reads,
    _sqlite_schema,
    _sqlite_writer,
    base,
    postgres,
    sqlite,
)
from trailkeeper.journal._pg_connect import Scrubber, redact_url

MODULES = (
    _entries, _group_commit, _keys, _pg_connect, _pg_indexer, _pg_reads, _pg_rows, _pg_schema, _pg_writer,
    _readers, _sqlite_checkpoint, _sqlite_keys, _sqlite_reads, _sqlite_schema, _sqlite_writer, base, postgres,
    sqlite,
)  # fmt: skip


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_exports_name_every_public_function_and_class(module: ModuleType) -> None:
    defined = {
        name
        for name, value in vars(module).items()
        if (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
        and not name.startswith("_")
    }
    assert module.__all__ == sorted(module.__all__, key=_isort_key)
    assert all(hasattr(module, name) for name in module.__all__)
    assert defined <= set(module.__all__)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://trail:s3cr%40t!@db:5432/trail",
        "postgres://trail@db/trail?sslmode=require&password=s3cr%40t!",
    ],
)
def test_scrubber_removes_the_password_as_written_and_decoded(url: str) -> None:
    scrub = Scrubber(url)
    message = 'FATAL: password "s3cr@t!" rejected (given as s3cr%40t!)'
    assert "s3cr" not in scrub(message)
    assert "s3cr" not in redact_url(url)
    assert scrub("connection refused") == "connection refused"
