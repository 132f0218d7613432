"""Event history in Chromium: each lookup attribute, the read-only toggle, paging, details, downloads, chart.

Every comparison is against boto3's LookupEvents on the same server, limited to the events that
existed when the page asked (the console's own lookups are recorded too, after their answer).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ALICE, ROOT_A, make_client
from tests.e2e.server import TrailkeeperServer

from .support import apply_filter, lookup_before, now_ms, record_of, screenshot, shown_ids


@pytest.fixture(scope="module")
def activity(console_server: TrailkeeperServer) -> dict[str, str]:
    """Some account-A activity: writes, reads, an error, two users, two event sources."""
    glue = make_client(console_server.url, "glue", ALICE)
    for i in range(3):
        glue.create_database(DatabaseInput={"Name": f"hist-db-{i}"})
    glue.get_databases()
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_database(Name="no-such-db")
    make_client(console_server.url, "sts", ALICE).get_caller_identity()
    make_client(console_server.url, "glue", ROOT_A).create_database(DatabaseInput={"Name": "root-db"})
    failed = lookup_before(
        console_server.url,
        ALICE,
        now_ms() + 1,
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetDatabase"}],
    )
    return {"failed_id": failed[0]["EventId"]}


ATTRIBUTES = [
    ("EventName", "CreateDatabase"),
    ("ReadOnly", "true"),
    ("Username", "alice"),
    ("ResourceType", "AWS::Glue::Database"),
    ("ResourceName", "hist-db-1"),
    ("EventSource", "sts.amazonaws.com"),
    ("AccessKeyId", ALICE.access_key_id),
    ("EventId", ""),  # the failed GetDatabase's id, filled in below
]


@pytest.mark.parametrize(("attribute", "value"), ATTRIBUTES, ids=[a for a, _ in ATTRIBUTES])
def test_console_filter_by_each_attribute_matches_lookup_events(
    console_server: TrailkeeperServer, alice_page: Page, activity: dict[str, str], attribute: str, value: str
) -> None:
    url = console_server.url
    value = value or activity["failed_id"]
    page = alice_page
    page.goto(f"{url}/console/events")
    asked = now_ms()
    apply_filter(page, attribute=attribute, value=value)
    expected = lookup_before(
        url, ALICE, asked, LookupAttributes=[{"AttributeKey": attribute, "AttributeValue": value}]
    )
    assert expected, "the fixture made events for every attribute"
    assert shown_ids(page) == [e["EventId"] for e in expected][:50]


def test_console_read_only_toggle(
    console_server: TrailkeeperServer, alice_page: Page, activity: dict[str, str]
) -> None:
    url = console_server.url
    page = alice_page
    page.goto(f"{url}/console/events")
    asked = now_ms()
    page.reload()
    writes = lookup_before(
        url, ALICE, asked, LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}]
    )
    assert shown_ids(page) == [e["EventId"] for e in writes][:50]  # AWS's default: read-only hidden
    asked = now_ms()
    apply_filter(page, show_read_only=True)
    everything = lookup_before(url, ALICE, asked)
    assert shown_ids(page) == [e["EventId"] for e in everything][:50]
    assert any(e["ReadOnly"] == "true" for e in everything[:50])


def test_console_paging_stays_correct_while_events_arrive(
    console_server: TrailkeeperServer, alice_page: Page, activity: dict[str, str]
) -> None:
    url = console_server.url
    glue = make_client(url, "glue", ROOT_A)
    for i in range(23):
        glue.create_database(DatabaseInput={"Name": f"page-db-{i:02}"})
    page = alice_page
    page.goto(f"{url}/console/events")
    asked = now_ms()
    apply_filter(page, attribute="Username", value="root", size="10")
    expected = [
        e["EventId"]
        for e in lookup_before(
            url, ALICE, asked, LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "root"}]
        )
    ]
    assert len(expected) == 24  # 23 here and root-db from the module fixture
    assert shown_ids(page) == expected[:10]
    for i in range(3):  # newer events arrive while the user pages back in time
        glue.create_database(DatabaseInput={"Name": f"late-db-{i}"})
    page.get_by_role("link", name="Older events").click()
    assert shown_ids(page) == expected[10:20]
    expect(page.get_by_text("Page 2")).to_be_visible()
    page.get_by_role("link", name="Older events").click()
    assert shown_ids(page) == expected[20:24]
    expect(page.get_by_role("link", name="Older events")).to_have_count(0)
    page.get_by_role("link", name="Newer events").click()
    assert shown_ids(page) == expected[10:20]
    page.get_by_role("link", name="Newer events").click()
    first = shown_ids(page)  # the first page is the newest again: the three late ones on top
    assert first[3:] == expected[:7]
    assert len(set(first[:3]) - set(expected)) == 3


def test_console_rows_expand_to_the_full_record(
    console_server: TrailkeeperServer, alice_page: Page, activity: dict[str, str]
) -> None:
    url = console_server.url
    page = alice_page
    page.goto(f"{url}/console/events")
    apply_filter(page, attribute="EventName", value="CreateDatabase")
    ids = shown_ids(page)
    ct = make_client(url, "cloudtrail", ALICE)

    def record(event_id: str) -> dict[str, Any]:
        found = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": event_id}])
        return record_of(found["Events"][0])

    first = page.locator("#detail-1")
    expect(first).to_be_hidden()
    page.get_by_role("button", name="Details").first.click()
    expect(first).to_be_visible()
    assert json.loads(first.locator("pre").inner_text()) == record(ids[0])
    # Keyboard: Enter and Space open rows too, and say so to assistive technology.
    second = page.locator("a[data-expand='detail-2']")
    second.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#detail-2")).to_be_visible()
    expect(second).to_have_attribute("aria-expanded", "true")
    page.locator("a[data-expand='detail-3']").focus()
    page.keyboard.press("Space")
    expect(page.locator("#detail-3")).to_be_visible()
    screenshot(page, "events")
    page.goto(f"{url}/console/events/{ids[1]}")
    assert json.loads(page.locator("pre.record").inner_text()) == record(ids[1])
    screenshot(page, "event-detail")


def test_console_downloads_match_lookup_events(
    console_server: TrailkeeperServer, alice_page: Page, activity: dict[str, str]
) -> None:
    url = console_server.url
    page = alice_page
    page.goto(f"{url}/console/events")
    apply_filter(page, attribute="EventSource", value="glue.amazonaws.com")
    asked = now_ms()
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    with page.expect_download() as json_download:
        page.get_by_role("link", name="Download JSON").click()
    expected = lookup_before(
        url,
        ALICE,
        asked,
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "glue.amazonaws.com"}],
    )
    assert len(expected) > 25  # more than a page: the download is the whole result set
    assert csv_download.value.suggested_filename == "event_history.csv"
    with open(csv_download.value.path(), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["Event ID"] for r in rows] == [e["EventId"] for e in expected]
    for row, event in zip(rows, expected, strict=True):
        record = record_of(event)
        assert (row["Event name"], row["User name"], row["Event source"], row["Read-only"]) == (
            event["EventName"],
            event.get("Username", ""),
            event["EventSource"],
            event["ReadOnly"],
        )
        assert row["Error code"] == record.get("errorCode", "")
        assert row["Event time"] == record["eventTime"]
        assert row["Resource name"] == ", ".join(r["ResourceName"] for r in event["Resources"])
    downloaded = json.loads(Path(json_download.value.path()).read_text("utf-8"))
    assert downloaded == {"Records": [record_of(e) for e in expected]}


def test_console_activity_chart_counts_match_lookup_events(
    console_server: TrailkeeperServer, alice_page: Page, activity: dict[str, str]
) -> None:
    url = console_server.url
    page = alice_page
    page.goto(f"{url}/console/activity")
    asked = now_ms()
    apply_filter(page, show_read_only=True, time_range="1h")
    events = lookup_before(url, ALICE, asked)
    by_source: dict[str, list[int]] = {}
    for e in events:
        record = record_of(e)
        counts = by_source.setdefault(e["EventSource"], [0, 0])
        counts[0] += 1
        counts[1] += bool(record.get("errorCode") or record.get("errorMessage"))
    table = {
        row.locator("th").inner_text(): [int(row.locator("td").nth(i).inner_text()) for i in (0, 1)]
        for row in page.locator("table.totals tbody tr").all()
    }
    assert table == by_source
    assert by_source["glue.amazonaws.com"][1] >= 1
    expect(page.locator("svg.chart rect.error").first).to_be_attached()
    expect(page.get_by_text("calls per minute (UTC)")).to_be_attached()
    screenshot(page, "activity")
