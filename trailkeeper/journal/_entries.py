"""JournalEntry <-> bytes for reservations, and the lookup columns of a row back into a StoredEvent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from trailkeeper.journal.base import JournalEntry

__all__ = ["decode_entry", "encode_entry", "epoch_ms"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_entry(e: JournalEntry) -> bytes:
    # The record keeps its own column, untouched; this holds only the columns it is looked up by.
    return orjson.dumps(
        [e.account_id, e.region, e.event_time_ms, e.event_id, e.event_name, e.event_source,
         e.read_only, e.username, e.access_key_id, e.resources, e.management]
    )  # fmt: skip


def decode_entry(blob: bytes, record: bytes) -> JournalEntry:
    acct, region, time_ms, event_id, name, source, read_only, user, key, resources, mgmt = orjson.loads(blob)
    pairs = tuple((rtype, rname) for rtype, rname in resources)
    return JournalEntry(
        record, acct, region, time_ms, event_id, name, source, read_only, user, key, pairs, mgmt
    )


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch; a naive datetime is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)
