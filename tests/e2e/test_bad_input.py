"""Bad input of every kind gets AWS's error (status, code, message), never a 500 or a hang."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.conftest import ALICE, ClientFactory, Keys, find_event
from tests.e2e.server import TrailkeeperServer

GLUE_JSON = {"Content-Type": "application/x-amz-json-1.1"}


def _signed(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    keys: Keys = ALICE,
    service: str = "glue",
    region: str = "us-east-1",
    when: datetime | None = None,
    method: str = "POST",
    path: str = "/",
) -> httpx.Response:
    req = AWSRequest(method=method, url=f"{url}{path}", data=body, headers=headers)
    creds = Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
    if when is None:
        SigV4Auth(creds, service, region).add_auth(req)
    else:
        # sign as if the client's clock said `when`
        with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
            SigV4Auth(creds, service, region).add_auth(req)
    return httpx.request(method, f"{url}{path}", content=body, headers=dict(req.headers.items()), timeout=30)


def _error(resp: httpx.Response) -> tuple[int, str, str]:
    data: dict[str, Any] = resp.json()
    return resp.status_code, data["__type"].rpartition("#")[2], data.get("message") or data.get("Message", "")


def test_malformed_json_is_serialization_exception(server: TrailkeeperServer) -> None:
    resp = _signed(server.url, b'{"Name": ', {**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabase"})
    status, code, _ = _error(resp)
    assert (status, code) == (400, "SerializationException")


def test_unknown_target_is_unknown_operation(server: TrailkeeperServer) -> None:
    resp = _signed(server.url, b"{}", {**GLUE_JSON, "X-Amz-Target": "AWSGlue.StealEverything"})
    status, code, _ = _error(resp)
    assert (status, code) == (400, "UnknownOperationException")


def test_body_over_10_mib_is_refused_with_413(server: TrailkeeperServer) -> None:
    big = b'{"Name": "' + b"x" * (10 * 1024 * 1024 + 10) + b'"}'
    resp = httpx.post(
        server.url, content=big, headers={**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabase"}, timeout=60
    )
    assert resp.status_code == 413
    assert _error(resp)[1] == "RequestEntityTooLargeException"


def test_unsigned_request_is_refused(server: TrailkeeperServer) -> None:
    resp = httpx.post(
        server.url, content=b"{}", headers={**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabases"}
    )
    status, code, message = _error(resp)
    assert (status, code, message) == (
        403,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


def test_unknown_access_key_is_unrecognized_client(server: TrailkeeperServer) -> None:
    stranger = Keys("AKIASTRANGER00000001", "nope")
    resp = _signed(server.url, b"{}", {**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabases"}, keys=stranger)
    assert _error(resp) == (
        400,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_unknown_access_key_on_query_protocol_is_invalid_client_token_id(server: TrailkeeperServer) -> None:
    stranger = Keys("AKIASTRANGER00000001", "nope")
    resp = _signed(
        server.url,
        b"Action=GetCallerIdentity&Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded"},
        keys=stranger,
        service="sts",
    )
    assert resp.status_code == 403
    assert "<Code>InvalidClientTokenId</Code>" in resp.text


def test_wrong_signature_is_refused_and_recorded_in_the_keys_account(
    server: TrailkeeperServer, client: ClientFactory
) -> None:
    forged = Keys(ALICE.access_key_id, "not-alices-secret")
    resp = _signed(server.url, b"{}", {**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabases"}, keys=forged)
    status, code, _ = _error(resp)
    assert (status, code) == (400, "InvalidSignatureException")
    record = find_event(client("cloudtrail"), resp.headers["x-amzn-requestid"], "GetDatabases")
    assert record["errorCode"] == "InvalidSignatureException"
    assert record["userIdentity"]["userName"] == "alice"


def test_tampered_body_under_valid_signature_is_refused(server: TrailkeeperServer) -> None:
    req = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=b'{"Name": "a"}',
        headers={**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabase"},
    )
    SigV4Auth(Credentials(ALICE.access_key_id, ALICE.secret_access_key), "glue", "us-east-1").add_auth(req)
    resp = httpx.post(server.url + "/", content=b'{"Name": "b"}', headers=dict(req.headers.items()))
    assert _error(resp)[:2] == (400, "InvalidSignatureException")


def test_skewed_clock_is_refused(server: TrailkeeperServer) -> None:
    past = datetime.now(UTC) - timedelta(minutes=20)
    resp = _signed(server.url, b"{}", {**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabases"}, when=past)
    status, code, message = _error(resp)
    assert (status, code) == (400, "InvalidSignatureException")
    assert message.startswith("Signature expired:")


def test_expired_session_token_is_refused(server: TrailkeeperServer) -> None:
    from trailkeeper.capture.identity.principal import Principal
    from trailkeeper.capture.identity.sessions import SessionService

    db = sqlite3.connect(server.data_dir / "journal.sqlite3")
    (key,) = db.execute("SELECT value FROM secrets WHERE name = 'sts-session-key'").fetchone()
    db.close()
    principal = Principal(
        type="IAMUser",
        account_id="111122223333",
        arn="arn:aws:iam::111122223333:user/alice",
        principal_id="AIDAEXAMPLE",
        access_key_id="",
        user_name="alice",
    )
    old = SessionService(bytes(key)).mint(
        principal, duration_seconds=900, now=datetime.now(UTC) - timedelta(hours=2)
    )
    keys = Keys(old.access_key_id, old.secret_access_key, old.session_token)
    resp = _signed(server.url, b"{}", {**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabases"}, keys=keys)
    assert _error(resp)[:2] == (400, "ExpiredTokenException")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"\xff\xfe\x00garbage", {**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabase"}),
        (b"[1, 2, 3]", {**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabase"}),
        (
            b'{"Name": {"deep": ' * 5000 + b"1" + b"}" * 10000,
            {**GLUE_JSON, "X-Amz-Target": "AWSGlue.GetDatabase"},
        ),
        (b'{"DatabaseInput": "not-an-object"}', {**GLUE_JSON, "X-Amz-Target": "AWSGlue.CreateDatabase"}),
        (b"{}", {**GLUE_JSON}),
    ],
)
def test_garbage_never_gets_a_500(server: TrailkeeperServer, body: bytes, headers: dict[str, str]) -> None:
    resp = _signed(server.url, body, headers)
    assert 400 <= resp.status_code < 500, resp.text
    assert _error(resp)[1]


def test_emr_unknown_path_gets_rest_json_error(server: TrailkeeperServer) -> None:
    resp = _signed(server.url, b"", {}, service="emr-serverless", method="GET", path="/no/such/thing")
    assert 400 <= resp.status_code < 500
    assert resp.headers.get("x-amzn-errortype", "").startswith("UnknownOperationException")
