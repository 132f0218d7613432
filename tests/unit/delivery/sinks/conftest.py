"""Fixtures of the sink tests: one moto server for the session (each test uses its own names)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.delivery.sinks.farside import MotoServer


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    server.start()
    yield server
    server.stop()
