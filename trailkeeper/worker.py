"""`trailkeeper deliver`: the background half of the server without HTTP, until SIGTERM or SIGINT.

Delivery, digests, notification sinks and retention, on the journal and state that gateways
(`serve --no-delivery`) write. Several workers may run against one PostgreSQL journal: each
trail's delivery and digests are leased to one of them at a time (see ``pgstate/leases.py``).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from trailkeeper.config import Settings
from trailkeeper.server import TrailkeeperApp

__all__ = ["READY_LINE", "run_worker"]

log = logging.getLogger("trailkeeper.worker")

READY_LINE = "delivery worker running"  # logged once started (tests and supervisors wait for it)


async def run_worker(settings: Settings) -> None:
    """Start the background components, run until a stop signal, then stop between two writes."""
    app = TrailkeeperApp(settings, gateway=False, background=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.startup()
    try:
        log.info("%s (journal %s)", READY_LINE, app.services.journal.describe() if app.services else "?")
        await stop.wait()
        log.info("stopping: batches cut short keep their manifest and are finished by the next holder")
    finally:
        await app.shutdown()
