"""Who sees what: another account's events, another region's, and forged, expired or signed-out cookies."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ACCOUNT_B, ALICE, BOB, make_client
from tests.e2e.server import TrailkeeperServer

from .support import apply_filter, now_ms, record_of, shown_ids, sign_in

COOKIE = "tk_console_session"


@pytest.fixture(scope="module")
def alice_event(console_server: TrailkeeperServer) -> str:
    make_client(console_server.url, "glue", ALICE).create_database(DatabaseInput={"Name": "alice-private"})
    ct = make_client(console_server.url, "cloudtrail", ALICE)
    found = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "alice-private"}]
    )
    event_id: str = found["Events"][0]["EventId"]
    return event_id


def _session_cookie(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)


def test_console_another_accounts_events_are_invisible(
    console_server: TrailkeeperServer, page: Page, alice_event: str
) -> None:
    url = console_server.url
    sign_in(page, url, BOB)
    apply_filter(page, attribute="EventId", value=alice_event)
    assert shown_ids(page) == []
    expect(page.get_by_text("No events match this filter")).to_be_visible()
    response = page.goto(f"{url}/console/events/{alice_event}")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Event not found")).to_be_visible()
    page.goto(f"{url}/console/events")
    apply_filter(page, show_read_only=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download JSON").click()
    records = json.loads(Path(download.value.path()).read_text("utf-8"))["Records"]
    assert records
    assert {r["recipientAccountId"] for r in records} == {ACCOUNT_B}


def test_console_shows_only_the_region_picked(console_server: TrailkeeperServer, page: Page) -> None:
    url = console_server.url
    make_client(url, "glue", ALICE, region="us-west-2").create_database(DatabaseInput={"Name": "west-db"})
    sign_in(page, url, ALICE, region="us-west-2")
    apply_filter(page, attribute="ResourceName", value="west-db")
    assert len(shown_ids(page)) == 1
    page.get_by_label("Region", exact=True).select_option("us-east-1")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("heading", name="Event history")).to_contain_text("us-east-1")
    apply_filter(page, attribute="ResourceName", value="west-db")
    assert shown_ids(page) == []


def _refused(url: str, cookie: str) -> None:
    """A page answers 303 to the sign-in page and a download answers 401, nothing else."""
    with httpx.Client(base_url=url, cookies={COOKIE: cookie}, follow_redirects=False) as client:
        page = client.get("/console/events?readonly=show")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/console/signin?next=")
        assert "<table" not in page.text
        for path in ("/console/events/download.csv", "/console/events/download.json"):
            download = client.get(path)
            assert download.status_code == 401
            assert "eventID" not in download.text


def test_console_forged_expired_and_signed_out_cookies_get_nothing(
    console_server: TrailkeeperServer, page: Page, alice_event: str
) -> None:
    url = console_server.url
    _refused(url, "forged-session-id-000000000000000000000000000")
    sign_in(page, url, ALICE)
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"], cookie["secure"]) == (
        True,
        "Strict",
        "/console",
        False,
    )
    assert 12 * 3600 - 120 < cookie["expires"] - time.time() <= 12 * 3600
    with httpx.Client(base_url=url, cookies={COOKIE: cookie["value"]}) as client:
        assert client.get("/console/events/download.csv").status_code == 200  # the live cookie works

    # Expired: the server's own clock decides, whatever the browser keeps.
    with sqlite3.connect(console_server.data_dir / "state.sqlite3") as db:
        db.execute("UPDATE console_sessions SET expires_ms = ?", (now_ms() - 1,))
    _refused(url, cookie["value"])

    sign_in(page, url, ALICE)
    live = _session_cookie(page)
    page.get_by_role("button", name="Sign out").click()
    _refused(url, live)  # signed out: the old cookie is dead on the server too


def test_console_forms_need_their_csrf_token(console_server: TrailkeeperServer, page: Page) -> None:
    url = console_server.url
    sign_in(page, url, ALICE)
    cookie = _session_cookie(page)
    with httpx.Client(base_url=url, cookies={COOKIE: cookie}, follow_redirects=False) as client:
        assert client.post("/console/signout", data={}).status_code == 403
        assert client.post("/console/signout", data={"csrf": "x" * 43}).status_code == 403
        logging = {"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/t", "action": "stop"}
        assert client.post("/console/trails/logging", data=logging).status_code == 403
        assert client.get("/console/events").status_code == 200  # still signed in: nothing happened
    with httpx.Client(base_url=url) as anonymous:
        form = {
            "access_key_id": ALICE.access_key_id,
            "secret_access_key": ALICE.secret_access_key,
            "csrf": "x",
        }
        assert anonymous.post("/console/signin", data=form).status_code == 403
    ct = make_client(url, "cloudtrail", ALICE)
    assert all(
        record_of(e)["eventName"] != "ConsoleLogout"
        for e in ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "alice"}])[
            "Events"
        ][:3]
    )
