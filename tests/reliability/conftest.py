"""Fixtures of the reliability suite: the figures every property reports, printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability._support import Figures

_FIGURES = pytest.StashKey[Figures]()


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    collected = Figures()
    request.config.stash[_FIGURES] = collected
    yield collected
    collected.write()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    collected = config.stash.get(_FIGURES, None)
    if collected is None or not collected.values:
        return
    terminalreporter.section("reliability figures")
    for line in collected.lines():
        terminalreporter.write_line(line)
