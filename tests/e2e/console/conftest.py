"""Fixtures for the console's browser tests: one real server for this package, one Debian Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.conftest import ACCOUNT_A, ALICE, CONFIG
from tests.e2e.server import TrailkeeperServer

from .support import BUCKET, CHROMIUM, CHROMIUM_ARGS, DESKTOP, sign_in


@pytest.fixture(scope="package")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrailkeeperServer]:
    """A server of its own, so other tests' calls do not show up in the pages compared here."""
    root = tmp_path_factory.mktemp("console")
    config = root / "trailkeeper.toml"
    # The shared test accounts, and a local bucket with 1 s delivery so the trails page has news.
    config.write_text(
        CONFIG
        + f'\n[delivery]\ninterval_seconds = 1\n\n[[bucket]]\nname = "{BUCKET}"\naccount = "{ACCOUNT_A}"\n'
    )
    srv = TrailkeeperServer(root / "data", config=config)
    srv.start()
    yield srv
    srv.stop()


# Package scope, not session: Playwright's sync API keeps an event loop running in this thread while
# it is open, which would break later tests that call asyncio.run().
@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh (Debian's chromium package)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def alice_page(browser: Browser, console_server: TrailkeeperServer) -> Iterator[Page]:
    """One profile signed in as alice, shared by a module's read-only tests (signing in costs a second)."""
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    sign_in(tab, console_server.url, ALICE)
    yield tab
    context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no cookies) per test, at 1280x800."""
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()
