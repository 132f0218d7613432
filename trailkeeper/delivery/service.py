"""The delivery loop: the server's components in; a background task flushing every interval until stopped out.

The first flush runs at once, so batches a crash left behind (manifests) are finished on start.
A flush that fails as a whole (the journal or the trail store unreadable) is logged and retried
at the next interval; per-trail failures back off inside the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from trailkeeper.control.selectors import entry_matches
from trailkeeper.delivery.base import Sink
from trailkeeper.delivery.engine import DeliveryEngine, FlushReport
from trailkeeper.delivery.state import DeliveryState
from trailkeeper.delivery.store import DeliveryStore
from trailkeeper.pgstate.leases import NO_LEASES

if TYPE_CHECKING:
    from trailkeeper.services.registry import AppServices

__all__ = ["STATE_FILE", "DeliveryService", "start_delivery"]

log = logging.getLogger("trailkeeper.delivery")

STATE_FILE = "state.sqlite3"  # shared with the trail store, in separate tables


class DeliveryService:
    """Runs ``engine.flush`` every ``interval_seconds`` (measured start to start)."""

    def __init__(self, engine: DeliveryEngine, state: DeliveryStore, interval_seconds: float) -> None:
        self.engine, self.state, self._interval = engine, state, interval_seconds
        self._task: asyncio.Task[None] | None = None
        self.last_report: FlushReport | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="trailkeeper-delivery")

    async def stop(self) -> None:
        """Stop between two writes; a batch cut short keeps its manifest and is finished on next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.state.close()

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.last_report = await self.engine.flush()
            except Exception:  # the worker loop: log, count on the next round, never die
                log.exception("delivery flush failed; retrying in %gs", self._interval)
            await asyncio.sleep(max(0.0, self._interval - (time.monotonic() - started)))


async def start_delivery(app: AppServices, sinks: Sequence[Sink] = ()) -> DeliveryService | None:
    """Open the delivery state, build the engine from ``app`` and start the loop (None: no trail store)."""
    if app.trails is None or app.buckets is None:
        log.warning("delivery not started: no trail store or bucket registry")
        return None
    settings = app.settings
    backend = app.state
    state = backend.delivery_state() if backend is not None else DeliveryState(settings.data_dir / STATE_FILE)
    await state.open()
    engine = DeliveryEngine(
        journal=app.journal,
        trails=app.trails,
        buckets=app.buckets,
        state=state,
        config=settings.delivery,
        selector=entry_matches,
        organization=settings.organization,
        sinks=sinks,
        leases=backend.leases if backend is not None else NO_LEASES,
    )
    service = DeliveryService(engine, state, settings.delivery.interval_seconds)
    service.start()
    log.info("%s", engine.describe())
    return service
