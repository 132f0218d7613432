"""CloudWatch Logs: a notice's delivered files in, one log event per record in the trail's log group out.

Each file's records are read back from the journal (one file at a time, so memory holds at most
one file) and sent with PutLogEvents to the stream ``ACCOUNT_CloudTrail_REGION`` of the file's
account and region, ``o-ORGID_ACCOUNT_CloudTrail_REGION`` for an organization trail (cloudtrail-
spec.md §5.2), created when missing. Batches respect the PutLogEvents limits; a record over
256 KB is not sent, as CloudTrail does, and is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from trailkeeper.control.model import Trail
from trailkeeper.delivery.base import DeliveredFile, Notice, SinkError
from trailkeeper.delivery.sinks.awsapi import AwsApi, AwsCallError
from trailkeeper.delivery.sinks.batching import Limits, batches
from trailkeeper.journal.base import StoredEvent

__all__ = [
    "EVENT_OVERHEAD_BYTES",
    "MAX_RECORD_BYTES",
    "CloudWatchLogsSink",
    "LogEvent",
    "LogGroup",
    "RecordReader",
    "log_events",
    "parse_log_group_arn",
    "stream_name",
]

log = logging.getLogger("trailkeeper.delivery.cloudwatch_logs")

# PutLogEvents limits (CloudWatch Logs API reference): at most 10,000 events and 1,048,576 bytes
# per call, where each event counts its UTF-8 message plus 26 bytes; no batch spans over 24 h;
# events in chronological order.
EVENT_OVERHEAD_BYTES = 26
_LIMITS_COUNT, _LIMITS_BYTES, _SPAN_MS = 10_000, 1_048_576, 24 * 3600 * 1000
# CloudTrail does not send records over 256 KB to CloudWatch Logs (spec §5.2), although the
# Logs API itself has since accepted larger events.
MAX_RECORD_BYTES = 262_144
_LOG_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:logs:([a-z0-9-]+):(\d{12}):log-group:([^:]+)(?::\*)?")
_KNOWN_STREAMS_MAX = 10_000  # streams known to exist; forgotten in bulk beyond this (bounded memory)


class RecordReader(Protocol):
    """Where delivered records are read back from (the journal)."""

    async def read_seqs(self, seqs: Sequence[int]) -> list[StoredEvent]: ...


@dataclass(frozen=True, slots=True)
class LogGroup:
    region: str
    account_id: str
    name: str


@dataclass(frozen=True, slots=True)
class LogEvent:
    timestamp_ms: int
    message: str
    size: int  # bytes it counts towards a PutLogEvents batch


def parse_log_group_arn(arn: str) -> LogGroup:
    """``arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`` (the ``:*`` optional); raises ValueError."""
    match = _LOG_GROUP_ARN.fullmatch(arn)
    if match is None:
        raise ValueError(f"not a CloudWatch Logs log group ARN: {arn}")
    return LogGroup(match.group(1), match.group(2), match.group(3))


def stream_name(file: DeliveredFile, organization_id: str | None) -> str:
    # The organization form is inferred: AWS's policy example allows streams "o-exampleorgid_*"
    # next to "ACCOUNT_CloudTrail_REGION*"; the exact full name is UNCONFIRMED.
    own = f"{file.account_id}_CloudTrail_{file.region}"
    return f"{organization_id}_{own}" if organization_id else own


def log_events(events: Sequence[StoredEvent]) -> tuple[list[LogEvent], list[StoredEvent]]:
    """The events to send (chronological: PutLogEvents requires it) and those too large to send."""
    sendable: list[LogEvent] = []
    too_large: list[StoredEvent] = []
    for event in events:
        size = len(event.entry.record) + EVENT_OVERHEAD_BYTES
        if size > MAX_RECORD_BYTES:
            too_large.append(event)
            continue
        # The record's eventTime is whole seconds (truncated); the journal column keeps the ms.
        # The log event carries the instant the record shows, so the two agree.
        shown_ms = event.entry.event_time_ms // 1000 * 1000
        sendable.append(LogEvent(shown_ms, event.entry.record.decode(), size))
    sendable.sort(key=lambda e: e.timestamp_ms)
    return sendable, too_large


_BATCH: Limits[LogEvent] = Limits(
    _LIMITS_COUNT,
    _LIMITS_BYTES,
    size_of=lambda e: e.size,
    max_span_ms=_SPAN_MS,
    span_of=lambda e: e.timestamp_ms,
)


class CloudWatchLogsSink:
    name = "cloudwatch-logs"

    def __init__(self, api: AwsApi, records: RecordReader, organization_id: str | None = None) -> None:
        self._api, self._records, self._organization_id = api, records, organization_id
        self._known_streams: set[tuple[str, str, str]] = set()
        self.skipped_too_large = 0
        self.rejected = 0

    def describe(self) -> str:
        return f"cloudwatch-logs[{self._api.describe()}]"

    def wants(self, trail: Trail) -> bool:
        return trail.cloudwatch_logs_log_group_arn is not None

    async def send(self, trail: Trail, notice: Notice) -> None:
        try:
            group = parse_log_group_arn(trail.cloudwatch_logs_log_group_arn or "")
        except ValueError as err:
            raise SinkError(str(err), retryable=False) from err
        org = self._organization_id if trail.is_organization else None
        for file in notice.files:
            stored = await self._records.read_seqs(file.seqs)
            events, too_large = log_events(stored)
            for event in too_large:
                self.skipped_too_large += 1
                log.warning(
                    "record %s of %s is over 256 KB: not sent to CloudWatch Logs", event.seq, file.key
                )
            stream = stream_name(file, org)
            for batch in batches(events, _BATCH):
                await self._put(group, stream, batch, trail.account_id)

    async def _put(self, group: LogGroup, stream: str, batch: list[LogEvent], account_id: str) -> None:
        params: dict[str, object] = {
            "logGroupName": group.name,
            "logStreamName": stream,
            "logEvents": [{"timestamp": e.timestamp_ms, "message": e.message} for e in batch],
        }
        if (group.region, group.name, stream) not in self._known_streams:
            await self._create_stream(group, stream, account_id)
        try:
            answer = await self._call("PutLogEvents", params, group, account_id)
        except SinkError:
            self._known_streams.discard((group.region, group.name, stream))  # deleted meanwhile? re-check
            raise
        if rejected := answer.get("rejectedLogEventsInfo"):
            # Too old / too new for the group: the Logs API will never take these events.
            self.rejected += 1
            log.warning("CloudWatch Logs rejected events of %s/%s: %s", group.name, stream, rejected)

    async def _create_stream(self, group: LogGroup, stream: str, account_id: str) -> None:
        params: dict[str, object] = {"logGroupName": group.name, "logStreamName": stream}
        try:
            await self._call("CreateLogStream", params, group, account_id, exists_ok=True)
        except SinkError as err:
            raise SinkError(f"log group {group.name}: {err}", retryable=err.retryable) from err
        if len(self._known_streams) >= _KNOWN_STREAMS_MAX:
            self._known_streams.clear()
        self._known_streams.add((group.region, group.name, stream))

    async def _call(
        self,
        operation: str,
        params: dict[str, object],
        group: LogGroup,
        account_id: str,
        *,
        exists_ok: bool = False,
    ) -> dict[str, object]:
        region = self._api.region_for(group.region)
        try:
            return await self._api.call(operation, params, region=region, account_id=account_id)
        except AwsCallError as err:
            if exists_ok and err.code == "ResourceAlreadyExistsException":
                return {}
            raise SinkError(str(err), retryable=err.retryable) from err

    async def close(self) -> None:
        """The HTTP client belongs to wiring."""
