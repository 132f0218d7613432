"""Authentication attacks are refused and execute nothing: checked afterwards through the rightful account.

Replays outside the clock-skew window, signatures moved to another region or service, bodies,
headers, paths and queries changed under a valid signature, expired presigned URLs, forged,
expired, unknown or transplanted session tokens, and one account's valid credentials aimed at
another account's Glue databases and EMR Serverless applications.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import botocore.exceptions
import httpx
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.conftest import ACCOUNT_A, ALICE, BOB, Keys
from tests.reliability._support import Figures, ReliabilityServer, config_file, make_client, records

GLUE = {"content-type": "application/x-amz-json-1.1"}


@dataclass(frozen=True)
class Signed:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def send(self) -> httpx.Response:
        return httpx.request(self.method, self.url, headers=self.headers, content=self.body, timeout=10)


def sign(
    url: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    keys: Keys = ALICE,
    service: str = "glue",
    region: str = "us-east-1",
    method: str = "POST",
    when: datetime | None = None,
) -> Signed:
    """A request signed by botocore's SigV4Auth, as of ``when`` on the signer's clock (default now)."""
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    creds = Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
    at = (when or datetime.now(UTC)).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at):
        SigV4Auth(creds, service, region).add_auth(req)
    return Signed(method, url, dict(req.headers.items()), body)


def glue_call(operation: str, params: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return json.dumps(params).encode(), {**GLUE, "x-amz-target": f"AWSGlue.{operation}"}


@dataclass
class Tally:
    """Attacks tried, per category; each must be refused (4xx) and leave the backend as it was."""

    tried: dict[str, int]

    def refused(self, category: str, resp: httpx.Response, *codes: str) -> None:
        self.tried[category] = self.tried.get(category, 0) + 1
        assert 400 <= resp.status_code < 500, f"{category}: {resp.status_code} {resp.text[:200]}"
        code = resp.headers.get("x-amzn-errortype", "") or resp.text
        assert any(c in code for c in codes), f"{category}: expected one of {codes}, got {resp.text[:200]}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReliabilityServer]:
    root = tmp_path_factory.mktemp("auth")
    server = ReliabilityServer(root / "data", config=config_file(root))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tally(figures: Figures) -> Iterator[Tally]:
    found = Tally({})
    yield found
    figures.record("auth attacks", tried=found.tried, total=sum(found.tried.values()), executed=0)


def _databases(url: str, keys: Keys = ALICE) -> set[str]:
    glue = make_client(url, "glue", keys)
    return {
        d["Name"] for page in glue.get_paginator("get_databases").paginate() for d in page["DatabaseList"]
    }


def _name() -> str:
    return f"atk{uuid.uuid4().hex[:10]}"


def test_replays_outside_the_skew_window_are_refused_unexecuted(srv: ReliabilityServer, tally: Tally) -> None:
    names = []
    for minutes, expected in (
        (-16, "Signature expired"),
        (16, "Signature not yet current"),
        (-600, "expired"),
    ):
        name = _name()
        names.append(name)
        body, headers = glue_call("CreateDatabase", {"DatabaseInput": {"Name": name}})
        when = datetime.now(UTC) + timedelta(minutes=minutes)
        resp = sign(srv.url + "/", body=body, headers=headers, when=when).send()
        tally.refused("replay outside skew window", resp, "InvalidSignatureException")
        assert expected in resp.json()["message"]
    assert not set(names) & _databases(srv.url)


def _rescope(signed: Signed, pattern: str, replacement: str) -> Signed:
    auth = re.sub(pattern, replacement, signed.headers["Authorization"])
    return replace(signed, headers={**signed.headers, "Authorization": auth})


def test_signatures_moved_to_another_region_or_service_are_refused(
    srv: ReliabilityServer, tally: Tally
) -> None:
    name = _name()
    body, headers = glue_call("CreateDatabase", {"DatabaseInput": {"Name": name}})
    for_eu = sign(srv.url + "/", body=body, headers=headers, region="eu-west-1")
    moved = _rescope(for_eu, r"/eu-west-1/", "/us-east-1/")
    tally.refused("signature for another region", moved.send(), "InvalidSignatureException")
    for_emr = sign(srv.url + "/", body=body, headers=headers, service="emr-serverless")
    moved = _rescope(for_emr, r"/emr-serverless/", "/glue/")
    tally.refused("signature for another service", moved.send(), "InvalidSignatureException")
    # Validly signed, but for STS: the scope names the service, so Glue's target is not STS's.
    as_sts = sign(srv.url + "/", body=body, headers=headers, service="sts")
    tally.refused(
        "signed for sts, sent to glue", as_sts.send(), "InvalidAction", "UnrecognizedClient", "Unknown"
    )
    assert name not in _databases(srv.url)
    assert name not in _databases_in(srv.url, "eu-west-1")


def _databases_in(url: str, region: str) -> set[str]:
    glue = make_client(url, "glue", ALICE, region=region)
    return {d["Name"] for d in glue.get_databases()["DatabaseList"]}


def test_tampering_under_a_valid_signature_is_refused_unexecuted(
    srv: ReliabilityServer, tally: Tally
) -> None:
    keep = _name()
    make_client(srv.url, "glue", ALICE).create_database(DatabaseInput={"Name": keep})
    name = _name()
    body, headers = glue_call("CreateDatabase", {"DatabaseInput": {"Name": name}})
    signed = sign(srv.url + "/", body=body, headers=headers)
    other = json.dumps({"DatabaseInput": {"Name": _name()}}).encode()
    tally.refused("tampered body", replace(signed, body=other).send(), "InvalidSignatureException")
    target = {**signed.headers, "X-Amz-Target": "AWSGlue.DeleteDatabase"}
    delete_body = json.dumps({"Name": keep}).encode()
    tally.refused(
        "tampered signed header", replace(signed, headers=target, body=delete_body).send(), "Invalid"
    )
    unsigned = {k: v for k, v in signed.headers.items() if k != "X-Amz-Date"}
    tally.refused("signed header removed", replace(signed, headers=unsigned).send(), "Incomplete", "Invalid")
    wrong_hash = {**signed.headers, "X-Amz-Content-SHA256": "0" * 64}
    tally.refused("payload hash mismatch", replace(signed, headers=wrong_hash).send(), "InvalidSignature")
    truncated = _rescope(signed, r"Signature=(\w+)\w{4}", r"Signature=\1")
    tally.refused("signature truncated", truncated.send(), "Invalid")
    assert name not in _databases(srv.url)
    assert keep in _databases(srv.url)


def _emr_app(url: str, keys: Keys = ALICE) -> str:
    emr = make_client(url, "emr-serverless", keys)
    app_id: str = emr.create_application(name=_name(), releaseLabel="emr-6.6.0", type="SPARK")[
        "applicationId"
    ]
    return app_id


def _state(url: str, app_id: str, keys: Keys = ALICE) -> str:
    state: str = make_client(url, "emr-serverless", keys).get_application(applicationId=app_id)[
        "application"
    ]["state"]
    return state


def test_emr_path_and_query_changed_under_a_valid_signature_are_refused(
    srv: ReliabilityServer, tally: Tally
) -> None:
    signed_for, target = _emr_app(srv.url), _emr_app(srv.url)
    signed = sign(f"{srv.url}/applications/{signed_for}/stop", service="emr-serverless")
    moved = replace(signed, url=f"{srv.url}/applications/{target}/stop")
    tally.refused("tampered path", moved.send(), "InvalidSignatureException")
    deleting = sign(f"{srv.url}/applications/{signed_for}", service="emr-serverless", method="DELETE")
    queried = replace(deleting, url=f"{deleting.url}?applicationId={target}")
    tally.refused("query added under signature", queried.send(), "InvalidSignatureException")
    assert _state(srv.url, signed_for) == _state(srv.url, target) == "STARTED"


def _presigned(url: str, *, method: str, expires: int, when: datetime) -> str:
    req = AWSRequest(method=method, url=url)
    creds = Credentials(ALICE.access_key_id, ALICE.secret_access_key)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        SigV4QueryAuth(creds, "emr-serverless", "us-east-1", expires=expires).add_auth(req)
    return str(req.url)


def test_presigned_urls_past_expiry_are_refused_unexecuted(srv: ReliabilityServer, tally: Tally) -> None:
    app_id = _emr_app(srv.url)
    url = f"{srv.url}/applications/{app_id}"
    fresh = _presigned(url, method="GET", expires=300, when=datetime.now(UTC))
    assert httpx.get(fresh, timeout=10).status_code == 200  # the same URL, in time, is served
    for age, expires in ((timedelta(minutes=10), 60), (timedelta(seconds=3), 1), (timedelta(days=8), 604800)):
        stale = _presigned(url, method="DELETE", expires=expires, when=datetime.now(UTC) - age)
        resp = httpx.delete(stale, timeout=10)
        tally.refused("presigned URL past expiry", resp, "AccessDeniedException")
        assert resp.json()["message"] == "Request has expired"
    assert _state(srv.url, app_id) == "STARTED"


def _session(url: str, name: str) -> Keys:
    sts = make_client(url, "sts", ALICE)
    role = f"arn:aws:iam::{ACCOUNT_A}:role/Admin"
    creds = sts.assume_role(RoleArn=role, RoleSessionName=name)["Credentials"]
    return Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def _minted(key: bytes, *, hours_ago: float) -> Keys:
    """Temporary credentials minted by a SessionService with ``key``, as of ``hours_ago`` (15 min long)."""
    from trailkeeper.capture.identity.principal import Principal
    from trailkeeper.capture.identity.sessions import SessionService

    alice = Principal(
        "IAMUser", ACCOUNT_A, f"arn:aws:iam::{ACCOUNT_A}:user/alice", "AIDAEXAMPLE", "", "alice"
    )
    when = datetime.now(UTC) - timedelta(hours=hours_ago)
    made = SessionService(key).mint(alice, duration_seconds=900, now=when)
    return Keys(made.access_key_id, made.secret_access_key, made.session_token)


def _server_session_key(srv: ReliabilityServer) -> bytes:
    """The server's STS key, read as an operator with file access could (to mint an expired session)."""
    db = sqlite3.connect(srv.data_dir / "journal.sqlite3")
    try:
        (key,) = db.execute("SELECT value FROM secrets WHERE name = 'sts-session-key'").fetchone()
    finally:
        db.close()
    return bytes(key)


def test_forged_expired_unknown_or_moved_session_tokens_are_refused(
    srv: ReliabilityServer, tally: Tally
) -> None:
    one, two = _session(srv.url, "one"), _session(srv.url, "two")
    attempts = {
        "session token moved to another key": replace(one, session_token=two.session_token),
        "session token on a long-term key": replace(ALICE, session_token=one.session_token),
        "temporary key without its token": replace(one, session_token=None),
        "unknown session token": replace(one, session_token="IQoJb3JpZ2luX2Vj" + "A" * 200),
        "token from another server's key": _minted(bytes(32), hours_ago=0),
        "expired session": _minted(_server_session_key(srv), hours_ago=2),
    }
    names = []
    for category, keys in attempts.items():
        name = _name()
        names.append(name)
        body, headers = glue_call("CreateDatabase", {"DatabaseInput": {"Name": name}})
        resp = sign(srv.url + "/", body=body, headers=headers, keys=keys).send()
        tally.refused(category, resp, "UnrecognizedClientException", "ExpiredTokenException", "Invalid")
    assert not set(names) & _databases(srv.url)
    assert "DatabaseList" in make_client(srv.url, "glue", one).get_databases()  # the real sessions work


def _attempts_by_b(url: str, db: str, app_id: str) -> list[Callable[[], Any]]:
    """B's valid credentials aimed at A's database (by name and by A's CatalogId), app and role."""
    glue_b, emr_b = make_client(url, "glue", BOB), make_client(url, "emr-serverless", BOB)
    app_arn = f"arn:aws:emr-serverless:us-east-1:{ACCOUNT_A}:/applications/{app_id}"
    return [
        lambda: glue_b.get_database(Name=db),
        lambda: glue_b.get_database(CatalogId=ACCOUNT_A, Name=db),
        lambda: glue_b.delete_database(CatalogId=ACCOUNT_A, Name=db),
        lambda: glue_b.update_database(CatalogId=ACCOUNT_A, Name=db, DatabaseInput={"Name": db}),
        lambda: glue_b.delete_table(CatalogId=ACCOUNT_A, DatabaseName=db, Name="t"),
        lambda: emr_b.get_application(applicationId=app_id),
        lambda: emr_b.stop_application(applicationId=app_id),
        lambda: emr_b.update_application(applicationId=app_id, autoStopConfiguration={"enabled": False}),
        lambda: emr_b.delete_application(applicationId=app_id),
        # By ARN (the embedded backend has no EMR tagging: refused there before any lookup).
        lambda: emr_b.tag_resource(resourceArn=app_arn, tags={"owner": "b"}),
        lambda: emr_b.list_tags_for_resource(resourceArn=app_arn),
        lambda: make_client(url, "sts", BOB).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/Admin", RoleSessionName="intruder"
        ),
    ]


def _status(attempt: Callable[[], Any]) -> int:
    try:
        attempt()
    except botocore.exceptions.ClientError as err:
        status: int = err.response["ResponseMetadata"]["HTTPStatusCode"]
        return status
    return 200


def test_one_accounts_credentials_reach_nothing_of_another_account(
    srv: ReliabilityServer, tally: Tally
) -> None:
    glue_a, glue_b = make_client(srv.url, "glue", ALICE), make_client(srv.url, "glue", BOB)
    db, app_id = _name(), _emr_app(srv.url)
    glue_a.create_database(DatabaseInput={"Name": db, "Description": "A's"}, Tags={"owner": "a"})
    glue_a.create_table(DatabaseName=db, TableInput={"Name": "t"})
    statuses = [_status(attempt) for attempt in _attempts_by_b(srv.url, db, app_id)]
    served = [i for i, status in enumerate(statuses) if not 400 <= status < 500]
    assert not served, f"attempts {served} by B on A's resources were not refused: {statuses}"
    # Tags by ARN: B sees none of A's and cannot change them (moto answers an unknown ARN with {}).
    arn = f"arn:aws:glue:us-east-1:{ACCOUNT_A}:database/{db}"
    assert _tags_or_error(glue_b, arn) in ({}, None)
    with contextlib.suppress(botocore.exceptions.ClientError):
        glue_b.tag_resource(ResourceArn=arn, TagsToAdd={"owner": "b"})
    with contextlib.suppress(botocore.exceptions.ClientError):
        glue_b.untag_resource(ResourceArn=arn, TagsToRemove=["owner"])
    tally.tried["cross-account"] = tally.tried.get("cross-account", 0) + len(statuses) + 3
    assert glue_a.get_tags(ResourceArn=arn)["Tags"] == {"owner": "a"}
    assert db not in _databases(srv.url, BOB)  # B's own catalog did not get A's database either
    assert glue_a.get_database(Name=db)["Database"]["Description"] == "A's"
    assert [t["Name"] for t in glue_a.get_tables(DatabaseName=db)["TableList"]] == ["t"]
    assert _state(srv.url, app_id) == "STARTED"


def _tags_or_error(glue: Any, arn: str) -> dict[str, str] | None:
    try:
        tags: dict[str, str] = glue.get_tags(ResourceArn=arn)["Tags"]
    except botocore.exceptions.ClientError:
        return None
    return tags


def test_signed_body_members_cannot_steer_the_backend_away_from_the_record(srv: ReliabilityServer) -> None:
    named, hidden = _emr_app(srv.url), _emr_app(srv.url)
    body = json.dumps({"applicationId": hidden}).encode()
    resp = sign(
        f"{srv.url}/applications/{named}/stop",
        body=body,
        headers={"content-type": "application/json"},
        service="emr-serverless",
    ).send()
    recorded = [
        r
        for r in records(make_client(srv.url, "cloudtrail", ALICE))
        if r["requestID"] == resp.headers["x-amzn-requestid"]
    ]
    assert [r["requestParameters"]["applicationId"] for r in recorded] == [named]
    assert _state(srv.url, hidden) == "STARTED", "the call stopped an application its record does not name"
