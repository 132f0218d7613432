"""The trails page in Chromium: status at a glance, and stop/start logging recorded as the API calls."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ALICE, lookup_all, make_client
from tests.e2e.server import TrailkeeperServer

from .support import BUCKET, record_of, screenshot, sign_in


def _newest(url: str, name: str) -> dict:  # type: ignore[type-arg]
    ct = make_client(url, "cloudtrail", ALICE)
    events = lookup_all(ct, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
    return record_of(events[0])


def test_console_trails_stop_and_start_logging(console_server: TrailkeeperServer, page: Page) -> None:
    url = console_server.url
    ct = make_client(url, "cloudtrail", ALICE)
    arn = ct.create_trail(Name="console-trail", S3BucketName=BUCKET)["TrailARN"]
    sign_in(page, url, ALICE)
    page.get_by_role("link", name="Trails").click()
    row = page.locator("table.trails tbody tr", has_text="console-trail")
    expect(row.locator("td[data-label='Logging']")).to_have_text("Off")
    expect(row.locator("td[data-label='Last delivery']")).to_have_text("never")
    ct.start_logging(Name=arn)
    deadline = time.monotonic() + 15  # delivery runs every second on this server
    while (
        "LatestDeliveryTime" not in (status := ct.get_trail_status(Name=arn)) and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    delivered = status["LatestDeliveryTime"].strftime("%Y-%m-%d %H:%M:%S UTC")
    page.reload()
    expect(row.locator("td[data-label='Logging']")).to_have_text("On")
    expect(row.locator("td[data-label='Last delivery']")).to_have_text(delivered)
    screenshot(page, "trails")
    user_agent = page.evaluate("navigator.userAgent")

    row.get_by_role("button", name="Stop logging").click()
    expect(page.get_by_role("status")).to_have_text("Logging stopped for console-trail.")
    assert ct.get_trail_status(Name=arn)["IsLogging"] is False
    stop = _newest(url, "StopLogging")
    assert stop["requestParameters"] == {"name": arn}
    assert (stop["sessionCredentialFromConsole"], stop["userAgent"]) == ("true", user_agent)
    assert stop["userIdentity"]["accessKeyId"].startswith("ASIA")
    expect(row.locator("td[data-label='Logging']")).to_have_text("Off")

    row.get_by_role("button", name="Start logging").click()
    expect(page.get_by_role("status")).to_have_text("Logging started for console-trail.")
    assert ct.get_trail_status(Name=arn)["IsLogging"] is True
    start = _newest(url, "StartLogging")
    assert start["sessionCredentialFromConsole"] == "true"
    assert start["eventID"] != stop["eventID"]
