"""Lookup keys for both journals: the kinds of key LookupEvents finds an event by.

Each LookupEvents shape is (account, region, kind, value) equality plus a newest-first range of
(time, seq), so both journals keep one table of such keys, filled behind the acknowledgement
path, numbered by ``KIND``. Both derive the keys in SQL (``_sqlite_keys.INSERT_KEYS``,
``_pg_schema.KEYS_OF``), so that keying costs the Python process nothing, and both match the
events not keyed yet (the tail) in SQL too.
"""

from __future__ import annotations

from trailkeeper.journal.base import LookupAttribute

__all__ = ["KIND"]

# The kind column. EventId is a key in the SQLite journal only: PostgreSQL finds it by the
# events table's unique index, which SQLite no longer has (see _sqlite_schema, migration 3).
KIND: dict[LookupAttribute | None, int] = {
    None: 0,
    "EventName": 1,
    "EventSource": 2,
    "Username": 3,
    "AccessKeyId": 4,
    "ReadOnly": 5,
    "ResourceType": 6,
    "ResourceName": 7,
    "EventId": 8,
}
