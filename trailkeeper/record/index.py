"""A built record, its bytes, principal and resource refs in; the JournalEntry that indexes it out.

The lookup columns are read from the record itself (so they can never disagree with the stored
bytes) plus what the record does not spell the way LookupEvents matches: the principal's lookup
user name and each resource under both its short name and its ARN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trailkeeper.capture.identity.principal import Principal
from trailkeeper.journal.base import JournalEntry
from trailkeeper.record.build import ResourceRef, short_name

__all__ = ["index_entry", "resource_columns"]


def resource_columns(record: Mapping[str, Any], refs: Iterable[ResourceRef]) -> tuple[tuple[str, str], ...]:
    """(type, name) pairs, each resource under its short name and its ARN, duplicates dropped.

    ``refs`` are what ``resource_refs`` resolved, including index-only resources; the record's own
    ``resources[]`` are added too, their short name read back from the ARN, so a caller that has
    no refs at hand still gets every written resource under both names.
    """
    pairs: dict[tuple[str, str], None] = {}
    for ref in refs:
        pairs[(ref.type, ref.name)] = None
        pairs[(ref.type, ref.arn)] = None
    for item in record.get("resources") or ():
        pairs[(item["type"], short_name(item["ARN"]))] = None
        pairs[(item["type"], item["ARN"])] = None
    return tuple(pairs)


def index_entry(
    record: Mapping[str, Any],
    record_bytes: bytes,
    principal: Principal,
    event_time_ms: int,
    resource_names: Iterable[ResourceRef] = (),
) -> JournalEntry:
    """The journal row for ``record``; ``record_bytes`` must be ``encode_record(record)``."""
    return JournalEntry(
        record=record_bytes,
        account_id=record["recipientAccountId"],
        region=record["awsRegion"],
        event_time_ms=event_time_ms,
        event_id=record["eventID"],
        event_name=record["eventName"],
        event_source=record["eventSource"],
        read_only=record["readOnly"],
        username=principal.lookup_username,
        access_key_id=principal.access_key_id,
        resources=resource_columns(record, resource_names),
        management=record["managementEvent"],
    )
