"""delivery/service.py: the loop flushes every interval until stopped; the package's public names resolve."""

from __future__ import annotations

import asyncio
import importlib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from tests.unit.journal.support import opened
from trailkeeper.config import Settings
from trailkeeper.delivery.service import DeliveryService, start_delivery
from trailkeeper.delivery.state import StateError
from trailkeeper.services.registry import AppServices

from .support import trail, world

if TYPE_CHECKING:
    from trailkeeper.capture.catalog import Catalog
    from trailkeeper.capture.identity.sessions import SessionService
    from trailkeeper.capture.identity.store import IdentityStore

MODULES = ("engine", "logfile", "service", "state")


def test_loop_flushes_every_interval_until_stopped(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            await w.logging(trail())
            service = DeliveryService(w.engine, w.state, interval_seconds=0.05)
            service.start()
            made = await w.append(3)
            for _ in range(100):  # the clock is frozen, so this waits on flushes, not on time
                if len(await w.records()) == 3:
                    break
                await asyncio.sleep(0.02)
            await service.stop()
            assert Counter(r["eventID"] for r in await w.records()) == Counter(e.event_id for e in made)
            assert service.last_report is not None
            with pytest.raises(StateError, match="not open"):  # stop closed the state
                await w.state.cursor(trail().arn)

    asyncio.run(scenario())


def test_start_delivery_without_a_trail_store_starts_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "journal.sqlite3") as journal:
            app = AppServices(
                settings=Settings(data_dir=tmp_path),
                catalog=cast("Catalog", None),
                journal=journal,
                identities=cast("IdentityStore", None),
                sessions=cast("SessionService", None),
            )
            assert await start_delivery(app) is None

    asyncio.run(scenario())


@pytest.mark.parametrize("module", MODULES)
def test_module_all_names_every_public_name_once(module: str) -> None:
    loaded = importlib.import_module(f"trailkeeper.delivery.{module}")
    assert len(set(loaded.__all__)) == len(loaded.__all__)
    assert all(hasattr(loaded, name) for name in loaded.__all__)
