"""Which SQLite lookup-key partitions may hold an event id: event ids in, one Bloom filter per partition out.

An event id names one event, and with no global index on it (migration 3) an EventId lookup
would have to probe every partition in its window: 500 at 10 M events, each a few cold pages
(measured p99 36 to 101 ms right after a bulk load). Each partition therefore carries a Bloom filter
of its event ids (``lookup_parts.ids``, 32 KB, ~0.2 % false positives when full), written with
its keys; a lookup tests the filters in memory (``IdFilters``, kept by the journal across
lookups) and probes only the partitions that may hold the id.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable

__all__ = ["IdFilters", "add_ids", "fill_missing", "may_hold", "positions"]

_BIT_WIDTH = 18
BITS = 1 << _BIT_WIDTH  # per partition: 13 bits per id at 20 000 ids
_HASHES = 7  # 7 slices of 18 fit the 128 digest bits; (1 - e^(-7 · 20 000 / 2^18))^7 ≈ 0.0021 false positives

# The event ids of one key chunk (as INSERT_KEYS takes it), by partition.
_CHUNK_IDS = "SELECT seq / :part, event_id FROM events WHERE management = 1 AND seq > :after AND seq <= :upto"
_LOAD = "SELECT ids FROM lookup_parts WHERE part = ?"
_SAVE = "UPDATE lookup_parts SET ids = ?, ids_upto = ? WHERE part = ?"
_READ = "SELECT ids_upto, ids FROM lookup_parts WHERE part = ?"


def positions(event_id: str) -> list[int]:
    """The filter bits of one id: seven 18-bit slices of its 128-bit BLAKE2b digest."""
    digest = int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=16).digest(), "little")
    return [(digest >> (_BIT_WIDTH * i)) & (BITS - 1) for i in range(_HASHES)]


def _set(bloom: bytearray, event_ids: Iterable[str]) -> None:
    for event_id in event_ids:
        for bit in positions(event_id):
            bloom[bit >> 3] |= 1 << (bit & 7)


def may_hold(bloom: bytes, bits: list[int]) -> bool:
    return all(bloom[bit >> 3] & (1 << (bit & 7)) for bit in bits)


def add_ids(conn: sqlite3.Connection, chunk: dict[str, int]) -> None:
    """Add the ids of a key chunk to their partitions' filters (inside the chunk's transaction)."""
    by_part: dict[int, list[str]] = {}
    for part, event_id in conn.execute(_CHUNK_IDS, chunk):
        by_part.setdefault(part, []).append(event_id)
    for part, event_ids in by_part.items():
        row = conn.execute(_LOAD, (part,)).fetchone()
        bloom = bytearray(row[0]) if row and row[0] is not None else bytearray(BITS // 8)
        _set(bloom, event_ids)
        conn.execute(_SAVE, (bytes(bloom), chunk["upto"], part))


def fill_missing(conn: sqlite3.Connection, part_events: int) -> int:
    """Build the filters of partitions that have none (a journal keyed before filters existed, or
    a bulk load); returns how many. Runs in the caller's transaction."""
    missing = [row[0] for row in conn.execute("SELECT part FROM lookup_parts WHERE ids IS NULL")]
    for part in missing:
        bloom = bytearray(BITS // 8)
        rows = conn.execute(
            "SELECT event_id FROM events WHERE management = 1 AND seq >= ? AND seq < ?",
            (part * part_events, (part + 1) * part_events),
        )
        _set(bloom, (row[0] for row in rows))
        conn.execute("UPDATE lookup_parts SET ids = ?, ids_upto = -1 WHERE part = ?", (bytes(bloom), part))
    return len(missing)


class IdFilters:
    """The partitions' filters as last read, shared by a journal's read connections.

    Filters only gain bits, so a filter read in any snapshot at least as new as the lookup's own
    holds every id that snapshot has; each lookup decides with the filters it checked or read
    itself, never with one another thread put in the cache meanwhile.
    """

    def __init__(self) -> None:
        self._filters: dict[int, tuple[int | None, bytes | None]] = {}  # part -> (ids_upto, filter)
        self._lock = threading.Lock()

    def candidates(
        self, conn: sqlite3.Connection, parts: list[tuple[int, int, int | None]], oldest: int, event_id: str
    ) -> list[int]:
        """Of ``parts`` (part, max_time_ms, ids_upto), those whose filter may hold ``event_id``;
        ``oldest`` is the lowest partition left (the ones below were pruned)."""
        with self._lock:
            for gone in [part for part in self._filters if part < oldest]:
                del self._filters[gone]
            known = {part: self._filters.get(part) for part, _, _ in parts}
        # One query per stale filter: all of them on the first lookup, then mostly the newest one.
        stale = [part for part, _, upto in parts if (known[part] or (None, None))[0] != upto]
        fresh = {part: conn.execute(_READ, (part,)).fetchone() for part in stale}
        with self._lock:
            self._filters.update(fresh)
        known.update(fresh)
        bits = positions(event_id)
        return [
            part for part, _, _ in parts
            if (entry := known[part]) is None or entry[1] is None or may_hold(entry[1], bits)
        ]  # fmt: skip
