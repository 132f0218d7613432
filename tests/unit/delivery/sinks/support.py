"""Values the sink tests share: trails, delivered files, notices, a journal of records, API clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.unit.delivery.sinks.farside import MotoServer
from trailkeeper.config import EndpointConfig
from trailkeeper.control.model import Trail
from trailkeeper.delivery.base import DeliveredFile, Notice
from trailkeeper.delivery.sinks import AwsApi, load_model
from trailkeeper.journal.base import JournalEntry
from trailkeeper.journal.sqlite import SqliteJournal

ACCOUNT = "111122223333"
REGION = "us-east-1"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_trail(name: str = "trail1", **fields: Any) -> Trail:
    return Trail(account_id=fields.pop("account_id", ACCOUNT), home_region=REGION, name=name,
                 s3_bucket=fields.pop("s3_bucket", "audit-logs"), **fields)  # fmt: skip


def delivered(
    seqs: Sequence[int] = (), *, key: str | None = None, bucket: str = "audit-logs",
    account_id: str = ACCOUNT, region: str = REGION, trail_arn: str = "",
) -> DeliveredFile:  # fmt: skip
    key = key or (
        f"AWSLogs/{account_id}/CloudTrail/{region}/2026/01/01/"
        f"{account_id}_CloudTrail_{region}_20260101T0000Z_{uuid.uuid4().hex[:16]}.json.gz"
    )
    return DeliveredFile(trail_arn, bucket, key, account_id, region, "0" * 64, T0, T0, T0, tuple(seqs))


def notice(*files: DeliveredFile, sink: str = "sns", trail_arn: str = "", notice_id: int = 1) -> Notice:
    return Notice(notice_id, sink, trail_arn, tuple(files))


def record_entry(
    time_ms: int = T0, *, event_type: str = "AwsApiCall", source: str = "glue.amazonaws.com",
    management: bool = True, account_id: str = ACCOUNT, region: str = REGION, padding: int = 0,
) -> JournalEntry:  # fmt: skip
    """A CloudTrail-shaped record (key order as AWS writes it) and its journal columns."""
    event_id = str(uuid.uuid4())
    record = orjson.dumps({
        "eventVersion": "1.11", "eventTime": _iso(time_ms), "eventSource": source, "eventName": "GetDatabase",
        "awsRegion": region, "sourceIPAddress": "127.0.0.1", "requestParameters": {"name": "x" * padding},
        "eventID": event_id, "readOnly": True, "eventType": event_type, "managementEvent": management,
        "recipientAccountId": account_id, "eventCategory": "Management" if management else "Data",
    })  # fmt: skip
    return JournalEntry(record, account_id, region, time_ms, event_id, "GetDatabase", source, True,
                        "alice", "AKIAALICE0000000001X", (), management)  # fmt: skip


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@asynccontextmanager
async def journal_with(
    path: Path, entries: Sequence[JournalEntry]
) -> AsyncIterator[tuple[SqliteJournal, list[int]]]:
    journal = SqliteJournal(path / "journal.sqlite3")
    await journal.open()
    try:
        seqs = [await journal.append(entry) for entry in entries]
        yield journal, seqs
    finally:
        await journal.close()


@asynccontextmanager
async def api(service: str, url: str, **endpoint: Any) -> AsyncIterator[AwsApi]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield AwsApi(EndpointConfig(service, url, **endpoint), client, load_model(service))


def moto_api(moto: MotoServer, service: str) -> Any:
    return api(service, moto.url)
