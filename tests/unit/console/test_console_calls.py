"""Console calls through the registered handlers on a real journal and trail store: recorded, or refused."""

from __future__ import annotations

import asyncio
import functools
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from trailkeeper.capture.catalog import load_catalog
from trailkeeper.capture.identity.principal import Principal, SessionInfo
from trailkeeper.capture.identity.sessions import SessionService
from trailkeeper.capture.identity.store import IdentityStore
from trailkeeper.config import Settings
from trailkeeper.console.calls import Caller, ConsoleCalls
from trailkeeper.control.model import Trail
from trailkeeper.control.sqlite_store import SqliteTrailStore
from trailkeeper.errors import AwsError
from trailkeeper.journal.base import LookupQuery
from trailkeeper.journal.sqlite import SqliteJournal
from trailkeeper.services.registry import AppServices, load_handlers

ACCOUNT, REGION = "111122223333", "us-east-1"
NOW = datetime.now(UTC).replace(microsecond=0)
CONSOLE = Principal(
    "IAMUser", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAALICE", "ASIACONSOLE000000001", "alice",
    SessionInfo(None, NOW, NOW.replace(hour=23)),
)  # fmt: skip
CALLER = Caller(CONSOLE, REGION, "192.0.2.9", "Mozilla/5.0 (console test)")
TRAIL = Trail(ACCOUNT, REGION, "t1", "some-bucket")
catalog = functools.cache(load_catalog)  # botocore models take seconds to load: once per module


async def _services(tmp: Path, *, min_free_bytes: int = 0) -> AppServices:
    load_handlers()
    journal = SqliteJournal(tmp / "journal.sqlite3", min_free_bytes=min_free_bytes)
    await journal.open()
    trails = SqliteTrailStore(tmp / "state.sqlite3")
    await trails.open()
    await trails.create(TRAIL)
    settings = Settings(data_dir=tmp)
    return AppServices(
        settings, catalog(), journal, IdentityStore.from_settings(settings), SessionService(os.urandom(32)),
        trails=trails,
    )  # fmt: skip


async def _close(app: AppServices) -> None:
    assert app.trails is not None
    await app.trails.close()
    await app.journal.close()


async def _records(app: AppServices) -> list[dict[str, Any]]:
    page = await app.journal.lookup(LookupQuery(ACCOUNT, REGION, 0, 2**62, 50))
    return [orjson.loads(e.entry.record) for e in page.events]


def test_console_calls_are_recorded_like_api_calls_with_the_console_flag(tmp_path: Path) -> None:
    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        app = await _services(tmp_path)
        calls = ConsoleCalls(app, clock=lambda: NOW.timestamp())
        await calls.invoke(CALLER, "cloudtrail", "StartLogging", {"Name": TRAIL.arn})
        answer = await calls.invoke(CALLER, "cloudtrail", "LookupEvents", {"MaxResults": 5})
        assert app.trails is not None
        logging = (await app.trails.status(TRAIL.arn)).is_logging
        records = await _records(app)
        await _close(app)
        return answer, records, logging

    answer, records, logging = asyncio.run(scenario())
    assert logging
    assert [r["eventName"] for r in records] == ["LookupEvents", "StartLogging"]
    start = records[1]
    assert answer["Events"][0]["EventId"] == start["eventID"]  # the lookup saw the call before it
    assert start["sessionCredentialFromConsole"] == "true"
    assert (start["userAgent"], start["sourceIPAddress"]) == (CALLER.user_agent, CALLER.source_ip)
    assert start["userIdentity"]["accessKeyId"] == "ASIACONSOLE000000001"
    assert start["requestParameters"] == {"name": TRAIL.arn}
    assert records[0]["readOnly"] is True
    assert records[0]["responseElements"] is None


def test_console_calls_refuse_writes_the_journal_cannot_record(tmp_path: Path) -> None:
    async def scenario() -> tuple[AwsError, bool, list[dict[str, Any]]]:
        app = await _services(tmp_path, min_free_bytes=1 << 60)  # more free space than any disk has
        calls = ConsoleCalls(app, clock=lambda: NOW.timestamp())
        with pytest.raises(AwsError) as refused:
            await calls.invoke(CALLER, "cloudtrail", "StartLogging", {"Name": TRAIL.arn})
        assert app.trails is not None
        logging = (await app.trails.status(TRAIL.arn)).is_logging
        records = await _records(app)
        await _close(app)
        return refused.value, logging, records

    error, logging, records = asyncio.run(scenario())
    assert (error.code, error.status) == ("ServiceUnavailableException", 503)
    assert not logging  # not executed
    assert records == []


def test_console_calls_record_a_handler_error_and_raise_it(tmp_path: Path) -> None:
    async def scenario() -> tuple[AwsError, list[dict[str, Any]]]:
        app = await _services(tmp_path)
        calls = ConsoleCalls(app, clock=lambda: NOW.timestamp())
        with pytest.raises(AwsError) as failed:
            await calls.invoke(CALLER, "cloudtrail", "LookupEvents", {"MaxResults": 51})
        records = await _records(app)
        await _close(app)
        return failed.value, records

    error, records = asyncio.run(scenario())
    assert error.code == "InvalidMaxResultsException"
    assert records[0]["errorCode"] == "InvalidMaxResultsException"
    assert records[0]["sessionCredentialFromConsole"] == "true"
