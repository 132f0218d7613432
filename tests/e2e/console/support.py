"""Helpers for the console's browser tests: sign in through the form, read the table, compare with boto3."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, ViewportSize

from tests.e2e.conftest import Keys, lookup_all, make_client

__all__ = [
    "ARTIFACTS",
    "BUCKET",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DESKTOP",
    "PHONE",
    "apply_filter",
    "iso",
    "lookup_before",
    "now_ms",
    "record_of",
    "screenshot",
    "shown_ids",
    "sign_in",
]

CHROMIUM = "/usr/bin/chromium"  # Debian's build; Playwright never downloads a browser here
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
BUCKET = "console-audit-bucket"  # the console server's local bucket (account A's)
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "console"


def sign_in(page: Page, url: str, keys: Keys, *, region: str = "us-east-1", account: str = "") -> None:
    """Fill the sign-in form as a user would and submit it."""
    page.goto(f"{url}/console/signin")
    page.get_by_label("Access key ID").fill(keys.access_key_id)
    page.get_by_label("Secret access key").fill(keys.secret_access_key)
    if keys.session_token:
        page.get_by_label("Session token").fill(keys.session_token)
    if account:
        page.get_by_label("Account ID or alias").fill(account)
    page.get_by_label("Region", exact=True).select_option(region)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("domcontentloaded")


def apply_filter(
    page: Page,
    *,
    attribute: str = "",
    value: str = "",
    show_read_only: bool = False,
    size: str = "50",
    time_range: str = "24h",
) -> None:
    page.get_by_label("Lookup attribute").select_option(attribute)
    page.get_by_label("Lookup value").fill(value)
    page.get_by_label("Time range").select_option(time_range)
    if page.get_by_label("Per page").count():
        page.get_by_label("Per page").select_option(size)
    page.get_by_label("Show read-only events").set_checked(show_read_only)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state("domcontentloaded")


def shown_ids(page: Page) -> list[str]:
    """The event IDs of the table's rows, top to bottom (from each row's details permalink)."""
    links = page.locator("tr.event a[data-expand]").all()
    return [str(link.get_attribute("href")).split("/events/")[1].split("?")[0] for link in links]


def lookup_before(
    url: str, keys: Keys, moment_ms: int, region: str = "us-east-1", **kwargs: Any
) -> list[dict[str, Any]]:
    """LookupEvents through boto3, keeping the events recorded before ``moment_ms`` (newest first)."""
    ct = make_client(url, "cloudtrail", keys, region)
    events = lookup_all(ct, **kwargs)
    return [e for e in events if int(e["EventTime"].timestamp() * 1000) < moment_ms]


def now_ms() -> int:
    return int(time.time() * 1000)


def screenshot(page: Page, name: str) -> Path:
    """Save the page at desktop and phone size into test-artifacts/console/ (kept out of git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    saved = ARTIFACTS / f"{name}-1280x800.png"
    page.set_viewport_size(DESKTOP)
    page.evaluate("window.scrollTo(0, 0)")  # the top of the page, as a user arriving sees it
    page.screenshot(path=saved)
    # A phone loads the page at its own width (the filters fold away), then the test goes on at desktop size.
    page.set_viewport_size(PHONE)
    page.reload()
    page.screenshot(path=ARTIFACTS / f"{name}-390x844.png")
    page.set_viewport_size(DESKTOP)
    page.reload()
    return saved


def record_of(event: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(event["CloudTrailEvent"])
    return parsed


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")
