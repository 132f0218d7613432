"""Delivery contracts: a delivered log file, the durable outbox of follow-up work, and the Sink interface.

Log files are written exactly once per trail by the delivery engine. Each follow-up (an SNS
notification, CloudWatch Logs events, EventBridge events) is a durable outbox item enqueued in
the same transaction that commits the file; a sink runner sends it and removes it only after
the sink accepted it (at-least-once to the sink, retried with backoff, never dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from trailkeeper.control.model import Trail

__all__ = ["DeliveredFile", "Notice", "Outbox", "Sink", "SinkError"]


@dataclass(frozen=True, slots=True)
class DeliveredFile:
    trail_arn: str
    bucket: str
    key: str
    account_id: str  # the account whose events the file holds
    region: str  # the region the events happened in
    sha256: str  # lowercase hex SHA-256 of the uncompressed content (digest files need it)
    oldest_event_ms: int
    newest_event_ms: int
    delivered_ms: int
    seqs: tuple[int, ...]  # the journal events in the file


@dataclass(frozen=True, slots=True)
class Notice:
    """One outbox item: deliver ``files`` of ``trail_arn`` to the sink named ``sink``."""

    id: int
    sink: str  # "sns" | "cloudwatch-logs" | "eventbridge" (a Sink.name)
    trail_arn: str
    files: tuple[DeliveredFile, ...]
    attempts: int = 0
    not_before_ms: int = 0
    last_error: str | None = None


class SinkError(Exception):
    """A sink could not accept a notice; ``retryable`` False means the notice can never succeed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sink(Protocol):
    name: str

    def describe(self) -> str: ...

    def wants(self, trail: Trail) -> bool:
        """Whether this trail's configuration sends anything to this sink (topic, log group, …)."""
        ...

    async def send(self, trail: Trail, notice: Notice) -> None:
        """Deliver one notice; raise SinkError. Must not mutate the notice."""
        ...

    async def close(self) -> None: ...


class Outbox(Protocol):
    async def due(self, sink: str, now_ms: int, limit: int) -> list[Notice]: ...

    async def done(self, notice_id: int) -> None: ...

    async def retry(self, notice_id: int, *, not_before_ms: int, error: str) -> None: ...

    async def pending(self, sink: str) -> int:
        """How many notices wait for this sink (bounded-memory checks and status)."""
        ...
