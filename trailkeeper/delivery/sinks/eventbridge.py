"""EventBridge: a notice's files in, each management record as a PutEvents entry on the default bus out.

Entries carry Source ``aws.<service prefix of eventSource>``, DetailType by eventType, Detail =
the record, Resources ``[]`` and Time = eventTime (cloudtrail-spec.md §5.3). At most 10 entries
and 256 KiB per call; a record whose entry is over 256 KiB is not sent, as CloudTrail does.

Per trail, deduplicated by journal event. The engine enqueues a notice for every logging trail
(``wants`` is true for all), so an event reaches EventBridge only once a trail delivered it (the
EventBridge guide ties CloudTrail events on the bus to a logging trail). Two trails covering the
same event both deliver it, so this sink remembers the journal seqs it sent (and those in flight)
and sends each once. Electing one trail per account and region instead would lose events
whenever that trail's scope, selectors or logging state differ from the others', or change while
notices wait; remembering seqs cannot lose one. The memory is bounded (``remember`` seqs, oldest
forgotten first) and not durable: after a restart, or a backlog longer than ``remember``, an
event may be sent twice — at least once, never dropped.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from trailkeeper.control.model import Trail
from trailkeeper.delivery.base import DeliveredFile, Notice, SinkError
from trailkeeper.delivery.sinks.awsapi import AwsApi, AwsCallError
from trailkeeper.delivery.sinks.batching import Limits, batches
from trailkeeper.delivery.sinks.cloudwatch_logs import RecordReader
from trailkeeper.journal.base import StoredEvent

__all__ = ["DETAIL_TYPES", "MAX_ENTRY_BYTES", "Entry", "EventBridgeSink", "entry_for"]

log = logging.getLogger("trailkeeper.delivery.eventbridge")

# detail-type by the record's eventType (EventBridge user guide, "AWS service events delivered via
# AWS CloudTrail"); note AWS's spelling "Signin".
DETAIL_TYPES = {
    "AwsApiCall": "AWS API Call via CloudTrail",
    "AwsConsoleSignIn": "AWS Console Signin via CloudTrail",
    "AwsConsoleAction": "AWS Console Action via CloudTrail",
    "AwsServiceEvent": "AWS Service Event via CloudTrail",
    "AwsCloudTrailInsight": "AWS Insight via CloudTrail",
}
# PutEvents: at most 10 entries and 256 KiB per request. An entry's size is its Source,
# DetailType, Detail and Resources in UTF-8 plus 14 bytes for Time (EventBridge guide,
# "Calculating PutEvents event entry size").
MAX_ENTRIES, MAX_REQUEST_BYTES, MAX_ENTRY_BYTES, _TIME_BYTES = 10, 262_144, 262_144, 14
# Entry error codes worth another try; any other is the bus refusing that entry for good.
_RETRYABLE_ENTRY_CODES = frozenset({"InternalFailure", "ThrottlingException"})


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    params: dict[str, object]  # one PutEventsRequestEntry
    size: int


def entry_for(event: StoredEvent) -> Entry | None:
    """The PutEvents entry of a management record; None for other records (data events)."""
    if not event.entry.management:
        return None
    record = orjson.loads(event.entry.record)
    detail_type = DETAIL_TYPES.get(str(record.get("eventType")), DETAIL_TYPES["AwsApiCall"])
    source = "aws." + event.entry.event_source.split(".", 1)[0]
    detail = event.entry.record.decode()
    params: dict[str, object] = {
        "Time": datetime.fromtimestamp(event.entry.event_time_ms // 1000, UTC),  # eventTime's whole second
        "Source": source,
        "Resources": [],
        "DetailType": detail_type,
        "Detail": detail,
    }
    size = _TIME_BYTES + len(source) + len(detail_type.encode()) + len(event.entry.record)
    return Entry(event.seq, params, size)


_REQUEST: Limits[Entry] = Limits(MAX_ENTRIES, MAX_REQUEST_BYTES, size_of=lambda e: e.size)


class EventBridgeSink:
    name = "eventbridge"

    def __init__(self, api: AwsApi, records: RecordReader, *, remember: int = 100_000) -> None:
        self._api, self._records, self._remember = api, records, remember
        self._sent: OrderedDict[int, None] = OrderedDict()
        self._in_flight: set[int] = set()
        self.sent = 0
        self.skipped_too_large = 0

    def describe(self) -> str:
        return f"eventbridge[{self._api.describe()}]"

    def wants(self, trail: Trail) -> bool:
        return True  # every logging trail feeds the bus; duplicates are removed in send

    async def send(self, trail: Trail, notice: Notice) -> None:
        for file in notice.files:
            entries = self._fresh(await self._records.read_seqs(file.seqs), file)
            self._in_flight.update(e.seq for e in entries)
            try:
                for batch in batches(entries, _REQUEST):
                    await self._put(batch, file, trail.account_id)
            finally:
                self._in_flight.difference_update(e.seq for e in entries)

    def _fresh(self, events: Sequence[StoredEvent], file: DeliveredFile) -> list[Entry]:
        """Entries of ``events`` not sent (or being sent) already, oversized ones dropped with a log line."""
        entries: list[Entry] = []
        for event in events:
            if event.seq in self._sent or event.seq in self._in_flight:
                continue
            entry = entry_for(event)
            if entry is None:
                continue
            if entry.size > MAX_ENTRY_BYTES:
                self.skipped_too_large += 1
                log.warning("record %s of %s is over 256 KiB: not sent to EventBridge", event.seq, file.key)
                continue
            entries.append(entry)
        return entries

    async def _put(self, batch: list[Entry], file: DeliveredFile, account_id: str) -> None:
        region = self._api.region_for(file.region)  # the bus of the region the calls happened in
        params: dict[str, object] = {"Entries": [e.params for e in batch]}
        try:
            answer = await self._api.call("PutEvents", params, region=region, account_id=account_id)
        except AwsCallError as err:
            raise SinkError(str(err), retryable=err.retryable) from err
        results = answer.get("Entries")
        results = results if isinstance(results, list) else []
        failed: list[tuple[str, str]] = []
        for entry, result in zip(batch, results, strict=False):
            code = result.get("ErrorCode") if isinstance(result, dict) else None
            if code:
                failed.append((str(code), str(result.get("ErrorMessage") or "")))
            else:
                self._mark_sent(entry.seq)
        if failed or len(results) < len(batch):
            retryable = all(code in _RETRYABLE_ENTRY_CODES for code, _ in failed)
            code, message = failed[0] if failed else ("IncompleteAnswer", "fewer results than entries")
            raise SinkError(
                f"{len(failed) or len(batch)} entries refused: {code}: {message}", retryable=retryable
            )

    def _mark_sent(self, seq: int) -> None:
        self.sent += 1
        self._sent[seq] = None
        if len(self._sent) > self._remember:
            self._sent.popitem(last=False)

    async def close(self) -> None:
        """The HTTP client belongs to wiring."""
