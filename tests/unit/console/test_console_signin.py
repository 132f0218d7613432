"""ConsoleLogin / sign-out records against AWS's documented and real sign-in records (shared samples)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from trailkeeper.capture.identity.principal import Principal, SessionInfo
from trailkeeper.console.signin import (
    HIDDEN_USER,
    SIGN_OUT_EVENT,
    SignInEvent,
    sign_in_entry,
    sign_out_entry,
    unknown_user,
)

# The shared reference material beside the checkout (as the other sample-based tests find it).
SAMPLES = Path("/work/shared/data/cloudtrail-samples")
AWSDOCS = SAMPLES / "awsdocs_examples" / "awsdocs_cloudtrail_examples.jsonl"
STRATUS = SAMPLES / "stratus-red-team_detonation-logs" / "aws.initial-access.console-login-without-mfa.json"
NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
EVENT = SignInEvent(
    NOW,
    "eu-west-1",
    "192.0.2.7",
    "Mozilla/5.0 test",
    "5d6f0e7a-0000-4000-8000-000000000001",
    "http://127.0.0.1:4566/console/events",
)
ALICE = Principal(
    "IAMUser",
    "111122223333",
    "arn:aws:iam::111122223333:user/alice",
    "AIDAALICE",
    "AKIAALICE0000000001X",
    "alice",
)
ROOT = Principal(
    "Root", "111122223333", "arn:aws:iam::111122223333:root", "111122223333", "AKIAROOTA00000000001"
)


def record(entry: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(entry.record)
    return parsed


def real_sign_ins() -> list[dict[str, Any]]:
    if not (AWSDOCS.exists() and STRATUS.exists()):
        pytest.skip(f"real sign-in samples not available under {SAMPLES}")
    lines = [json.loads(line) for line in AWSDOCS.read_text().splitlines() if line.strip()]
    stratus: list[dict[str, Any]] = json.loads(STRATUS.read_text())
    return [r for r in lines if r["eventName"] == "ConsoleLogin"] + stratus


def _order(keys: list[str], reference: list[str]) -> list[str]:
    return [k for k in reference if k in keys]


def test_signin_success_matches_real_iam_user_record() -> None:
    entry = sign_in_entry(ALICE, EVENT, success=True)
    got = record(entry)
    assert got["userIdentity"] == {
        "type": "IAMUser",
        "principalId": "AIDAALICE",
        "arn": ALICE.arn,
        "accountId": "111122223333",
        "userName": "alice",
    }
    assert got["eventSource"] == "signin.amazonaws.com"
    assert got["eventType"] == "AwsConsoleSignIn"
    assert got["responseElements"] == {"ConsoleLogin": "Success"}
    assert got["requestParameters"] is None
    assert got["additionalEventData"] == {"LoginTo": EVENT.login_to, "MobileVersion": "No", "MFAUsed": "No"}
    assert "requestID" not in got
    assert "errorCode" not in got
    assert "errorMessage" not in got
    assert (got["awsRegion"], got["readOnly"], got["managementEvent"]) == ("eu-west-1", False, True)
    # The invictus-ir / stratus records (1.08) order their keys the same way.
    reference = [
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "eventID",
        "readOnly",
        "eventType",
        "managementEvent",
        "recipientAccountId",
        "eventCategory",
    ]
    assert list(got) == reference
    assert (entry.username, entry.access_key_id, entry.event_name) == ("alice", "", "ConsoleLogin")


def test_signin_records_carry_every_field_real_ones_carry() -> None:
    ours = record(sign_in_entry(ALICE, EVENT, success=True))
    successes = [
        real
        for real in real_sign_ins()
        if real["responseElements"] == {"ConsoleLogin": "Success"}
        and real["userIdentity"]["type"] == "IAMUser"
    ]
    assert len(successes) >= 3
    for real in successes:
        missing = set(real) - set(ours) - {"tlsDetails"}  # we are served over plain http here
        assert not missing, missing
        assert set(real["additionalEventData"]) - {"MFAIdentifier"} <= set(ours["additionalEventData"])


def test_signin_root_is_recorded_in_us_east_1_with_empty_key() -> None:
    got = record(sign_in_entry(ROOT, EVENT, success=True))
    assert got["awsRegion"] == "us-east-1"
    assert got["userIdentity"] == {
        "type": "Root",
        "principalId": "111122223333",
        "arn": ROOT.arn,
        "accountId": "111122223333",
        "accessKeyId": "",
    }


def test_signin_failure_names_the_user_without_arn_and_no_error_code() -> None:
    got = record(sign_in_entry(ALICE, EVENT, success=False))
    assert got["userIdentity"] == {
        "type": "IAMUser",
        "principalId": "AIDAALICE",
        "accountId": "111122223333",
        "accessKeyId": "",
        "userName": "alice",
    }
    assert got["errorMessage"] == "Failed authentication"
    assert "errorCode" not in got
    assert got["responseElements"] == {"ConsoleLogin": "Failure"}
    assert list(got).index("errorMessage") == list(got).index("userAgent") + 1  # where real failures put it
    docs_failure = next(r for r in real_sign_ins() if r.get("errorMessage") == "Failed authentication")
    assert list(got["userIdentity"]) == list(docs_failure["userIdentity"])


def test_signin_unknown_user_is_hidden_in_the_named_account() -> None:
    entry = sign_in_entry(unknown_user("444455556666"), EVENT, success=False)
    got = record(entry)
    assert got["userIdentity"] == {
        "type": "IAMUser",
        "accountId": "444455556666",
        "accessKeyId": "",
        "userName": HIDDEN_USER,
    }
    assert got["errorMessage"] == "No username found in supplied account"
    assert (got["recipientAccountId"], entry.account_id, entry.username) == (
        "444455556666",
        "444455556666",
        HIDDEN_USER,
    )


def test_signin_with_temporary_credentials_records_the_session_identity() -> None:
    session = SessionInfo(None, NOW - timedelta(minutes=5), NOW + timedelta(hours=1), mfa_authenticated=True)
    temp = Principal(
        "IAMUser", "111122223333", ALICE.arn, "AIDAALICE", "ASIATEMP000000000001", "alice", session
    )
    got = record(sign_in_entry(temp, EVENT, success=True))
    assert got["userIdentity"]["accessKeyId"] == "ASIATEMP000000000001"
    assert got["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"
    assert got["additionalEventData"]["MFAUsed"] == "Yes"


@pytest.mark.parametrize("who", [ALICE, ROOT])
def test_signout_is_recorded_as_the_console_session(who: Principal) -> None:
    session = SessionInfo(None, NOW, NOW + timedelta(hours=12))
    console = Principal(
        who.type, who.account_id, who.arn, who.principal_id, "ASIACONSOLE000000001", who.user_name, session
    )
    entry = sign_out_entry(console, EVENT)
    got = record(entry)
    assert got["eventName"] == SIGN_OUT_EVENT
    assert got["responseElements"] == {SIGN_OUT_EVENT: "Success"}
    assert got["userIdentity"]["accessKeyId"] == "ASIACONSOLE000000001"
    assert "additionalEventData" not in got
    assert "requestID" not in got
    assert entry.access_key_id == "ASIACONSOLE000000001"
