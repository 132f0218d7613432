"""Event history retention: a journal and a number of days in, old events deleted (and how many) out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from trailkeeper.errors import JournalUnavailable
from trailkeeper.journal.base import Journal

__all__ = ["prune_once", "run_retention"]

_log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def prune_once(journal: Journal, days: int, now: datetime) -> int:
    """Delete events that happened more than ``days`` days before ``now``; return how many."""
    return await journal.prune(now - timedelta(days=days))


async def run_retention(
    journal: Journal,
    *,
    days: int,
    every_seconds: float = 3600,
    clock: Callable[[], datetime] = _utc_now,
) -> None:
    """Prune now and then every ``every_seconds`` until cancelled.

    A journal that cannot write right now is retried on the next round: retention is never
    urgent, and the journal recovers by itself when the disk does.
    """
    while True:
        try:
            deleted = await prune_once(journal, days, clock())
        except JournalUnavailable as err:
            _log.warning("retention: %s; retrying in %.0f s", err, every_seconds)
        else:
            if deleted:
                _log.info("retention: deleted %d events older than %d days", deleted, days)
        await asyncio.sleep(every_seconds)
