"""The ids of a journal's latest appends: event ids in, "seen recently?" out.

The SQLite journal keeps no unique index on event ids (see its migration 3), so its writer asks
this instead, to refuse an entry appended twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

__all__ = ["RecentIds"]


class RecentIds:
    """The ids of the latest appends (oldest dropped first), and those of the open transaction."""

    def __init__(self, size: int) -> None:
        self._order: deque[str] = deque()
        self._ids: set[str] = set()
        self._pending: set[str] = set()
        self._size = size

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids or event_id in self._pending

    def add(self, event_id: str) -> None:
        self._pending.add(event_id)

    def commit(self, committed: Iterable[str] | None = None) -> None:
        """Remember the open transaction's ids (or ``committed`` ones), dropping the oldest."""
        for event_id in self._pending if committed is None else committed:
            self._order.append(event_id)
            self._ids.add(event_id)
        self._pending.clear()
        while len(self._order) > self._size:
            self._ids.discard(self._order.popleft())

    def rollback(self) -> None:
        self._pending.clear()
