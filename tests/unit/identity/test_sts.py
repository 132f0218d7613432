"""The STS handlers, called as the gateway calls them, with a real identity store and session service."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from trailkeeper.capture.catalog import Catalog
from trailkeeper.capture.identity import sts
from trailkeeper.capture.identity.principal import Principal
from trailkeeper.capture.identity.sessions import SessionService
from trailkeeper.capture.identity.store import IdentityStore
from trailkeeper.config import AccessKeyConfig, AccountConfig, RoleConfig, Settings, UserConfig
from trailkeeper.errors import AwsError
from trailkeeper.journal.base import Journal
from trailkeeper.services.registry import AppServices, CallEnv, Handler, handler_for

A, B = "111122223333", "444455556666"
ACCOUNTS = (
    AccountConfig(
        A,
        root=AccessKeyConfig("AKIAROOTA00000000001", "root-secret"),
        users=(
            UserConfig("alice", access_keys=(AccessKeyConfig("AKIAALICE00000000001", "alice-secret"),)),
            UserConfig("carol", access_keys=(AccessKeyConfig("AKIACAROL00000000001", "carol-secret"),)),
        ),
        roles=(
            RoleConfig("Admin", (f"arn:aws:iam::{A}:user/alice",), max_session_duration=7200),
            RoleConfig("Reader", (f"arn:aws:iam::{A}:root", f"arn:aws:iam::{A}:role/Admin"), "/team/"),
        ),
    ),
    AccountConfig(
        B, users=(UserConfig("bob", access_keys=(AccessKeyConfig("AKIABOB0000000000001", "bob-secret"),)),)
    ),
)
SETTINGS = Settings(accounts=ACCOUNTS)
STORE = IdentityStore.from_settings(SETTINGS)
SESSIONS = SessionService(bytes(range(32)))
# The STS handlers never touch the journal; AppServices still needs a value in its place.
APP = AppServices(SETTINGS, Catalog([]), cast(Journal, object()), STORE, SESSIONS)
NOW = datetime(2026, 11, 23, 10, 15, 0, tzinfo=UTC)


def _who(access_key_id: str) -> Principal:
    entry = STORE.key(access_key_id)
    assert entry is not None
    return entry.principal


ALICE, CAROL, BOB, ROOT = (
    _who(k)
    for k in ("AKIAALICE00000000001", "AKIACAROL00000000001", "AKIABOB0000000000001", "AKIAROOTA00000000001")
)


def _call(operation: str, caller: Principal, **params: Any) -> dict[str, Any]:
    handler = handler_for("sts", operation)
    assert handler is not None
    env = CallEnv(caller, "us-east-1", "req-1", NOW, "10.0.0.1", APP)

    async def run() -> dict[str, Any]:
        return await handler(env, params)

    return asyncio.run(run())


def _refused(operation: str, caller: Principal, **params: Any) -> AwsError:
    with pytest.raises(AwsError) as info:
        _call(operation, caller, **params)
    return info.value


def _session_of(output: dict[str, Any]) -> Principal:
    creds = output["Credentials"]
    return SESSIONS.resolve(creds["AccessKeyId"], creds["SessionToken"], NOW).principal


def test_handlers_registered_under_sts_operation_names() -> None:
    expected: dict[str, Handler] = {
        "AssumeRole": sts.assume_role,
        "GetSessionToken": sts.get_session_token,
        "GetFederationToken": sts.get_federation_token,
        "GetCallerIdentity": sts.get_caller_identity,
    }
    for operation, handler in expected.items():
        assert handler_for("sts", operation) is handler


def test_get_caller_identity_returns_user_and_root() -> None:
    assert _call("GetCallerIdentity", ALICE) == {"UserId": ALICE.principal_id, "Account": A, "Arn": ALICE.arn}
    assert _call("GetCallerIdentity", ROOT) == {"UserId": A, "Account": A, "Arn": f"arn:aws:iam::{A}:root"}


def test_assume_role_trusted_user_gets_role_session() -> None:
    out = _call("AssumeRole", ALICE, RoleArn=f"arn:aws:iam::{A}:role/Admin", RoleSessionName="nightly")
    role_id = STORE.role_principal_id(A, "Admin")
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role_id}:nightly",
        "Arn": f"arn:aws:sts::{A}:assumed-role/Admin/nightly",
    }
    assert out["Credentials"]["Expiration"] == NOW + timedelta(hours=1)
    session = _session_of(out)
    assert (session.type, session.user_name, session.principal_id) == (
        "AssumedRole",
        "nightly",
        f"{role_id}:nightly",
    )
    assert session.session is not None
    assert session.session.issuer is not None
    assert session.session.issuer.arn == f"arn:aws:iam::{A}:role/Admin"
    assert (session.session.issuer.type, session.session.issuer.user_name) == ("Role", "Admin")
    assert session.session.creation_date == NOW


def test_assume_role_untrusted_user_refused_with_aws_message() -> None:
    role_arn = f"arn:aws:iam::{A}:role/Admin"
    err = _refused("AssumeRole", CAROL, RoleArn=role_arn, RoleSessionName="x1")
    assert (err.code_for("query"), err.status) == ("AccessDenied", 403)
    assert (
        err.message
        == f"User: {CAROL.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )


@pytest.mark.parametrize(
    "role_arn",
    [f"arn:aws:iam::{A}:role/Nope", f"arn:aws:iam::{A}:role/Reader", f"arn:aws:iam::{B}:role/Admin"],
)
def test_assume_role_unknown_role_or_wrong_path_refused(role_arn: str) -> None:
    err = _refused("AssumeRole", ALICE, RoleArn=role_arn, RoleSessionName="x1")
    assert err.code == "AccessDenied"
    assert err.message.endswith(f"on resource: {role_arn}")


def test_assume_role_trusting_account_root_admits_its_users_only() -> None:
    reader = f"arn:aws:iam::{A}:role/team/Reader"
    out = _call("AssumeRole", CAROL, RoleArn=reader, RoleSessionName="ccc")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{A}:assumed-role/Reader/ccc"
    assert _refused("AssumeRole", BOB, RoleArn=reader, RoleSessionName="bbb").code == "AccessDenied"


def test_assume_role_by_root_refused() -> None:
    err = _refused("AssumeRole", ROOT, RoleArn=f"arn:aws:iam::{A}:role/team/Reader", RoleSessionName="r1")
    assert (err.code, err.message) == ("AccessDenied", "Roles may not be assumed by root accounts.")


def test_assume_role_chained_from_trusted_role_limited_to_one_hour() -> None:
    admin_arn = f"arn:aws:iam::{A}:role/Admin"
    admin = _session_of(_call("AssumeRole", ALICE, RoleArn=admin_arn, RoleSessionName="aaa"))
    reader = f"arn:aws:iam::{A}:role/team/Reader"
    out = _call("AssumeRole", admin, RoleArn=reader, RoleSessionName="chained")
    assert out["Credentials"]["Expiration"] == NOW + timedelta(hours=1)
    err = _refused("AssumeRole", admin, RoleArn=reader, RoleSessionName="chained", DurationSeconds=3601)
    assert (err.code_for("query"), err.status) == ("ValidationError", 400)
    assert err.message == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )


def test_assume_role_duration_bounded_by_role_maximum() -> None:
    admin = f"arn:aws:iam::{A}:role/Admin"
    out = _call("AssumeRole", ALICE, RoleArn=admin, RoleSessionName="lll", DurationSeconds=7200)
    assert out["Credentials"]["Expiration"] == NOW + timedelta(hours=2)
    err = _refused("AssumeRole", ALICE, RoleArn=admin, RoleSessionName="lll", DurationSeconds=7201)
    assert err.message == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"RoleSessionName": "a"},
            "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: "
            "Member must have length greater than or equal to 2",
        ),
        (
            {"RoleSessionName": "bad name"},
            "1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ),
        (
            {"RoleSessionName": "ok", "DurationSeconds": 100},
            "1 validation error detected: Value '100' at 'durationSeconds' failed to satisfy constraint: "
            "Member must have value greater than or equal to 900",
        ),
        (
            {"RoleSessionName": "é", "ExternalId": "x"},
            "3 validation errors detected: Value 'é' at 'roleSessionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*; Value 'é' at 'roleSessionName' "
            "failed to satisfy constraint: Member must have length greater than or equal to 2; Value 'x' at "
            "'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2",
        ),
    ],
)
def test_assume_role_invalid_input_refused_with_aws_validation_message(
    params: dict[str, Any], message: str
) -> None:
    err = _refused("AssumeRole", ALICE, RoleArn=f"arn:aws:iam::{A}:role/Admin", **params)
    assert (err.code_for("query"), err.status, err.message) == ("ValidationError", 400, message)


def test_assume_role_missing_required_member_refused() -> None:
    err = _refused("AssumeRole", ALICE, RoleArn=f"arn:aws:iam::{A}:role/Admin")
    assert err.message == (
        "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_assume_role_tags_validated_by_member_path() -> None:
    tags = [{"Key": "team", "Value": "data"}, {"Key": "", "Value": "x"}]
    err = _refused(
        "AssumeRole", ALICE, RoleArn=f"arn:aws:iam::{A}:role/Admin", RoleSessionName="ttt", Tags=tags
    )
    assert "at 'tags.2.member.key' failed to satisfy constraint" in err.message


def test_get_session_token_keeps_user_identity_with_session() -> None:
    out = _call("GetSessionToken", ALICE)
    assert out["Credentials"]["Expiration"] == NOW + timedelta(hours=12)
    session = _session_of(out)
    assert (session.type, session.arn, session.principal_id) == ("IAMUser", ALICE.arn, ALICE.principal_id)
    assert session.access_key_id == out["Credentials"]["AccessKeyId"] != ALICE.access_key_id
    assert session.session is not None
    assert session.session.issuer is None


def test_get_session_token_for_root_lasts_at_most_an_hour() -> None:
    out = _call("GetSessionToken", ROOT, DurationSeconds=129600)
    assert out["Credentials"]["Expiration"] == NOW + timedelta(hours=1)
    assert _session_of(out).type == "Root"


def test_get_session_token_with_session_credentials_refused() -> None:
    session = _session_of(_call("GetSessionToken", ALICE))
    err = _refused("GetSessionToken", session)
    assert (err.code, err.status, err.message) == (
        "AccessDenied",
        403,
        "Cannot call GetSessionToken with session credentials",
    )


def test_get_federation_token_issues_federated_user_named_by_issuer() -> None:
    out = _call(
        "GetFederationToken", ALICE, Name="fed-bob", DurationSeconds=900, Policy='{"Version":"2012-10-17"}'
    )
    assert out["FederatedUser"] == {
        "FederatedUserId": f"{A}:fed-bob",
        "Arn": f"arn:aws:sts::{A}:federated-user/fed-bob",
    }
    assert out["PackedPolicySize"] == 0
    assert out["Credentials"]["Expiration"] == NOW + timedelta(minutes=15)
    session = _session_of(out)
    assert (session.type, session.user_name, session.principal_id) == (
        "FederatedUser",
        "fed-bob",
        f"{A}:fed-bob",
    )
    assert session.session is not None
    assert session.session.issuer is not None
    assert (session.session.issuer.type, session.session.issuer.user_name) == ("IAMUser", "alice")
    assert session.session.issuer.principal_id == ALICE.principal_id


def test_get_federation_token_name_too_long_refused() -> None:
    err = _refused("GetFederationToken", ALICE, Name="n" * 33)
    assert err.message == (
        f"1 validation error detected: Value '{'n' * 33}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 32"
    )


def test_federated_user_cannot_assume_role_or_federate_again() -> None:
    fed = _session_of(_call("GetFederationToken", ALICE, Name="fed"))
    assert _refused(
        "AssumeRole", fed, RoleArn=f"arn:aws:iam::{A}:role/Admin", RoleSessionName="fff"
    ).code == ("AccessDenied")
    assert _refused("GetFederationToken", fed, Name="again").message == (
        "Cannot call GetFederationToken with session credentials"
    )
    assert re.fullmatch(rf"{A}:fed", _call("GetCallerIdentity", fed)["UserId"])


def test_assume_role_echoes_requested_source_identity() -> None:
    out = _call(
        "AssumeRole", ALICE, RoleArn=f"arn:aws:iam::{A}:role/Admin", RoleSessionName="si", SourceIdentity="ci"
    )
    assert out["SourceIdentity"] == "ci"
    assert "SourceIdentity" not in _call(
        "AssumeRole", ALICE, RoleArn=f"arn:aws:iam::{A}:role/Admin", RoleSessionName="si"
    )
