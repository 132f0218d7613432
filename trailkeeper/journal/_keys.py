"""Lookup keys for both journals: an event's columns in, the (kind, value) pairs LookupEvents finds it by out.

Each LookupEvents shape is (account, region, kind, value) equality plus a newest-first range of
(time, seq), so both journals keep one table of such keys, filled behind the acknowledgement
path, numbered by ``KIND``. The SQLite journal builds them with ``event_keys`` and matches the
events not keyed yet (the tail) with ``matches``; the PostgreSQL journal does both in SQL
(``_pg_schema.KEYS_OF`` and ``_pg_reads``) so that keying costs its Python process nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from trailkeeper.journal.base import JournalEntry, LookupAttribute

__all__ = ["KIND", "event_keys", "matches"]

# The kind column; EventId is served by the events table's own unique index instead.
KIND: dict[LookupAttribute | None, int] = {
    None: 0,
    "EventName": 1,
    "EventSource": 2,
    "Username": 3,
    "AccessKeyId": 4,
    "ReadOnly": 5,
    "ResourceType": 6,
    "ResourceName": 7,
}


def event_keys(
    name: str, source: str, user: str, key: str, read_only: bool, resources: Iterable[tuple[str, str]]
) -> list[tuple[int, str]]:
    """The (kind, value) keys of one management event (data events have none: history never shows them).

    Resource keys are distinct per event (an ARN and its short name share a type), so a range
    scan meets each event at most once and can stop at exactly limit + 1 rows.
    """
    pairs = tuple(resources)
    keys = [(0, ""), (1, name), (2, source), (3, user), (4, key), (5, "true" if read_only else "false")]
    keys += [(6, t) for t in dict.fromkeys(t for t, _ in pairs)]
    keys += [(7, n) for n in dict.fromkeys(n for _, n in pairs)]
    return keys


def matches(e: JournalEntry, attribute: tuple[LookupAttribute, str] | None) -> bool:
    """Whether a tail event has the key ``attribute`` (account, region and time are checked by SQL)."""
    if attribute is None:
        return True
    key, value = attribute
    if key == "ResourceType":
        return any(t == value for t, _ in e.resources)
    if key == "ResourceName":
        return any(n == value for _, n in e.resources)
    own = {
        "EventId": e.event_id,
        "EventName": e.event_name,
        "EventSource": e.event_source,
        "Username": e.username,
        "AccessKeyId": e.access_key_id,
        "ReadOnly": "true" if e.read_only else "false",
    }
    return own[key] == value
