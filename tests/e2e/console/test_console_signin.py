"""Signing in and out of the console in Chromium, and the AwsConsoleSignIn records it leaves."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ACCOUNT_A, ACCOUNT_B, ALICE, BOB, Keys, lookup_all, make_client
from tests.e2e.server import TrailkeeperServer

from .support import record_of, screenshot, sign_in

LOGIN = [{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}]


def _logins(url: str, keys: Keys) -> list[dict]:  # type: ignore[type-arg]
    return [record_of(e) for e in lookup_all(make_client(url, "cloudtrail", keys), LookupAttributes=LOGIN)]


def test_console_keyboard_only_sign_in_lands_on_history_and_is_recorded(
    console_server: TrailkeeperServer, page: Page
) -> None:
    url = console_server.url
    page.goto(f"{url}/console/events")
    expect(page).to_have_url(f"{url}/console/signin?next=%2Fconsole%2Fevents")
    screenshot(page, "signin")
    # Only the keyboard from here: the key field has focus, Tab moves on, Enter submits.
    assert page.evaluate("document.activeElement.id") == "access_key_id"
    assert (
        page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    )  # focus is visible
    page.keyboard.type(ALICE.access_key_id)
    page.keyboard.press("Tab")
    page.keyboard.type(ALICE.secret_access_key)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{url}/console/events")
    expect(page.get_by_role("heading", name="Event history")).to_be_visible()
    user_agent = page.evaluate("navigator.userAgent")

    login = _logins(url, ALICE)[0]
    assert login["userIdentity"]["type"] == "IAMUser"
    assert login["userIdentity"]["userName"] == "alice"
    assert "accessKeyId" not in login["userIdentity"]  # real successful IAM-user sign-ins carry none
    assert login["responseElements"] == {"ConsoleLogin": "Success"}
    assert login["additionalEventData"] == {
        "LoginTo": f"{url}/console/events",
        "MobileVersion": "No",
        "MFAUsed": "No",
    }
    assert (login["eventType"], login["eventSource"], login["userAgent"]) == (
        "AwsConsoleSignIn",
        "signin.amazonaws.com",
        user_agent,
    )
    assert "requestID" not in login

    # The page's own query is a LookupEvents call by the console session, recorded as AWS does.
    ct = make_client(url, "cloudtrail", ALICE)
    reads = lookup_all(ct, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "LookupEvents"}])
    console_call = next(record_of(e) for e in reads if record_of(e).get("sessionCredentialFromConsole"))
    assert console_call["sessionCredentialFromConsole"] == "true"
    assert console_call["userAgent"] == user_agent
    session_key = console_call["userIdentity"]["accessKeyId"]
    assert session_key.startswith("ASIA")
    assert session_key != ALICE.access_key_id
    assert set(console_call["userIdentity"]["sessionContext"]) == {"attributes"}

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{url}/console/signin")
    by_key = lookup_all(ct, LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": session_key}])
    logout = record_of(by_key[0])
    assert (logout["eventName"], logout["responseElements"]) == (
        "ConsoleLogout",
        {"ConsoleLogout": "Success"},
    )
    page.goto(f"{url}/console/events")
    expect(page).to_have_url(f"{url}/console/signin?next=%2Fconsole%2Fevents")


def test_console_failed_sign_ins_are_recorded_where_aws_records_them(
    console_server: TrailkeeperServer, page: Page
) -> None:
    url = console_server.url
    wrong = Keys(ALICE.access_key_id, "not-alices-secret")
    sign_in(page, url, wrong)
    expect(page.get_by_role("alert")).to_contain_text("Sign-in failed")
    failure = _logins(url, ALICE)[0]
    assert failure["responseElements"] == {"ConsoleLogin": "Failure"}
    assert failure["errorMessage"] == "Failed authentication"
    assert "errorCode" not in failure
    assert failure["userIdentity"]["userName"] == "alice"
    assert failure["userIdentity"]["accessKeyId"] == ""

    # An unknown key naming account B: an unknown user *there*, its name hidden.
    before_a = len(_logins(url, ALICE))
    sign_in(page, url, Keys("AKIAUNKNOWN000000042", "whatever"), account=ACCOUNT_B)
    hidden = _logins(url, BOB)[0]
    assert hidden["userIdentity"] == {
        "type": "IAMUser",
        "accountId": ACCOUNT_B,
        "accessKeyId": "",
        "userName": "HIDDEN_DUE_TO_SECURITY_REASONS",
    }
    assert hidden["errorMessage"] == "No username found in supplied account"
    # An unknown key naming no account is recorded nowhere (AWS has no account to put it in).
    before_b = len(_logins(url, BOB))
    sign_in(page, url, Keys("AKIAUNKNOWN000000043", "whatever"))
    expect(page.get_by_role("alert")).to_be_visible()
    assert len(_logins(url, BOB)) == before_b
    assert len(_logins(url, ALICE)) == before_a  # (our own lookups are LookupEvents, not ConsoleLogin)
    assert ACCOUNT_A not in {r["recipientAccountId"] for r in _logins(url, BOB)}


def test_console_temporary_credentials_sign_in_and_no_secret_is_stored(
    console_server: TrailkeeperServer, page: Page
) -> None:
    url = console_server.url
    creds = make_client(url, "sts", ALICE).get_session_token(DurationSeconds=900)["Credentials"]
    temp = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    sign_in(page, url, temp)
    expect(page.get_by_role("heading", name="Event history")).to_be_visible()
    login = _logins(url, ALICE)[0]
    assert login["userIdentity"]["accessKeyId"] == temp.access_key_id
    assert "attributes" in login["userIdentity"]["sessionContext"]
    cookie = next(str(c["value"]) for c in page.context.cookies() if c["name"] == "tk_console_session")

    # Canary: no secret, token or session cookie in any stored byte or in the server's log.
    secrets = [
        ALICE.secret_access_key,
        temp.secret_access_key,
        str(temp.session_token),
        cookie,
        "not-alices-secret",
    ]
    stored = [p for p in Path(console_server.data_dir).rglob("*") if p.is_file()]
    assert stored
    blobs = [p.read_bytes() for p in stored] + [console_server.log_text().encode()]
    for secret in secrets:
        assert not any(secret.encode() in blob for blob in blobs), "a secret reached a stored byte or the log"
