"""Lookup keys for both journals: the kinds of key LookupEvents finds an event by, and the tail's match.

Each LookupEvents shape is (account, region, kind, value) equality plus a newest-first range of
(time, seq), so both journals keep one table of such keys, filled behind the acknowledgement
path, numbered by ``KIND``. Both derive the keys in SQL (``_sqlite_keys.INSERT_KEYS``,
``_pg_schema.KEYS_OF``), so that keying costs the Python process nothing; the SQLite journal
matches the events not keyed yet (the tail) with ``matches``, the PostgreSQL one in SQL.
"""

from __future__ import annotations

from trailkeeper.journal.base import JournalEntry, LookupAttribute

__all__ = ["KIND", "matches"]

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
