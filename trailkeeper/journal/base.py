"""The journal contract: durable append of records, and the queries event history needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

__all__ = [
    "Journal",
    "JournalEntry",
    "LookupAttribute",
    "LookupPage",
    "LookupQuery",
    "StoredEvent",
]

LookupAttribute = Literal[
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One CloudTrail record plus the columns it is looked up by.

    ``record`` is the exact JSON bytes that LookupEvents returns and delivery writes: the
    journal never re-serialises it. ``resources`` are (type, name) pairs; names include both
    the short name and the ARN so either can be looked up.
    """

    record: bytes
    account_id: str
    region: str
    event_time_ms: int
    event_id: str
    event_name: str
    event_source: str
    read_only: bool
    username: str
    access_key_id: str
    resources: tuple[tuple[str, str], ...] = ()
    management: bool = True


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    entry: JournalEntry


@dataclass(frozen=True, slots=True)
class LookupQuery:
    """One LookupEvents page request, already validated: newest first, keyset-paged.

    ``after`` is the (event_time_ms, seq) of the last event on the previous page; the page holds
    events strictly older than it in that order.
    """

    account_id: str
    region: str
    start_ms: int
    end_ms: int
    limit: int
    attribute: tuple[LookupAttribute, str] | None = None
    after: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class LookupPage:
    events: list[StoredEvent]
    more: bool  # True if another page exists after the last event


class Journal(Protocol):
    """Durable event store. ``append`` returns only once the entry survives a crash (kill -9)."""

    def describe(self) -> str: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def writable(self) -> bool:
        """False while the journal is known unable to write (disk full, read-only): fail closed."""
        ...

    async def append(self, entry: JournalEntry) -> int:
        """Make one entry durable; return its sequence number. Raises JournalUnavailable."""
        ...

    async def reserve(self, fallback: JournalEntry) -> None:
        """Write-ahead for a mutating call: made durable before the backend executes it.

        ``fallback`` is the record to keep if the server dies before the call's real record is
        appended (the gateway builds it with an "outcome unknown" error). ``append`` of an entry
        with the same event_id removes the reservation in the same transaction; ``open``
        turns reservations left by a crash into events. Raises JournalUnavailable, and the
        call is then refused and not executed.
        """
        ...

    async def release(self, event_id: str) -> None:
        """Drop a reservation whose call never reached the backend."""
        ...

    async def lookup(self, query: LookupQuery) -> LookupPage: ...

    async def read_after(self, seq: int, limit: int) -> list[StoredEvent]:
        """Events with a sequence number above ``seq``, ascending, at most ``limit`` (delivery reads).

        Every event returned is committed, and no event with a lower seq can still appear
        later: a reader that resumes from the last seq it saw never skips one.
        """
        ...

    async def read_seqs(self, seqs: Sequence[int]) -> list[StoredEvent]:
        """The events with these sequence numbers (those still stored), ascending."""
        ...

    async def last_seq(self) -> int:
        """The highest committed sequence number (0 when empty)."""
        ...

    async def prune(self, before: datetime) -> int:
        """Delete events older than ``before`` from history; return how many."""
        ...

    async def get_or_create_secret(self, name: str, factory_bytes: bytes) -> bytes:
        """A server secret shared by every node using this journal (e.g. the STS token key).

        Stored if absent (``factory_bytes``), otherwise the stored value is returned.
        """
        ...
