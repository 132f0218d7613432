"""userIdentity: each principal type, with AWS's key order and value types."""

from __future__ import annotations

from datetime import UTC, datetime

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer
from trailkeeper.record.identity import user_identity

from .support import invictus_records

CREATED = datetime(2024, 3, 1, 8, 59, 58, 750000, tzinfo=UTC)
EXPIRES = datetime(2024, 3, 1, 20, 59, 58, tzinfo=UTC)


def test_user_identity_root_without_session_has_account_as_principal() -> None:
    root = Principal(
        type="Root",
        account_id="111122223333",
        arn="arn:aws:iam::111122223333:root",
        principal_id="111122223333",
        access_key_id="AKIAEXAMPLEROOT00001",
    )
    assert user_identity(root) == {
        "type": "Root",
        "principalId": "111122223333",
        "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLEROOT00001",
    }


def test_user_identity_iam_user_long_term_key_has_user_name_last(iam_user: Principal) -> None:
    identity = user_identity(iam_user)
    assert list(identity) == ["type", "principalId", "arn", "accountId", "accessKeyId", "userName"]
    assert identity["userName"] == "alice"


def test_user_identity_iam_user_session_token_credentials_has_attributes_only(iam_user: Principal) -> None:
    with_session = Principal(
        type=iam_user.type,
        account_id=iam_user.account_id,
        arn=iam_user.arn,
        principal_id=iam_user.principal_id,
        access_key_id="ASIAEXAMPLEALICE0002",
        user_name=iam_user.user_name,
        session=SessionInfo(issuer=None, creation_date=CREATED, expiration=EXPIRES, mfa_authenticated=True),
    )
    identity = user_identity(with_session)
    assert list(identity) == [
        "type",
        "principalId",
        "arn",
        "accountId",
        "accessKeyId",
        "userName",
        "sessionContext",
    ]
    assert identity["sessionContext"] == {
        "attributes": {"creationDate": "2024-03-01T08:59:58Z", "mfaAuthenticated": "true"}
    }


def test_user_identity_assumed_role_session_context_in_aws_order(assumed_role: Principal) -> None:
    identity = user_identity(assumed_role)
    assert list(identity) == ["type", "principalId", "arn", "accountId", "accessKeyId", "sessionContext"]
    context = identity["sessionContext"]
    assert list(context) == ["sessionIssuer", "webIdFederationData", "attributes"]
    assert context["sessionIssuer"] == {
        "type": "Role",
        "principalId": "AROAEXAMPLEADMIN0001",
        "arn": "arn:aws:iam::111122223333:role/Admin",
        "accountId": "111122223333",
        "userName": "Admin",
    }
    assert context["webIdFederationData"] == {}
    assert context["attributes"] == {"creationDate": "2024-03-01T09:00:00Z", "mfaAuthenticated": "false"}


def test_user_identity_federated_user_has_issuer_and_no_user_name() -> None:
    federated = Principal(
        type="FederatedUser",
        account_id="111122223333",
        arn="arn:aws:sts::111122223333:federated-user/bob",
        principal_id="111122223333:bob",
        access_key_id="ASIAEXAMPLEBOB000001",
        user_name="bob",
        session=SessionInfo(
            issuer=SessionIssuer(
                type="IAMUser",
                principal_id="AIDAEXAMPLEALICE0001",
                arn="arn:aws:iam::111122223333:user/alice",
                account_id="111122223333",
                user_name="alice",
            ),
            creation_date=CREATED,
            expiration=EXPIRES,
        ),
    )
    identity = user_identity(federated)
    assert "userName" not in identity
    assert identity["sessionContext"]["sessionIssuer"]["type"] == "IAMUser"
    assert list(identity["sessionContext"]) == ["sessionIssuer", "webIdFederationData", "attributes"]


def test_user_identity_key_orders_match_real_records(iam_user: Principal, assumed_role: Principal) -> None:
    real: dict[str, list[str]] = {}
    for record in invictus_records():
        identity = record["userIdentity"]
        if identity.get("type") in ("IAMUser", "AssumedRole") and "accessKeyId" in identity:
            keys = [k for k in identity if k != "invokedBy"]  # service-made calls only
            real.setdefault(identity["type"] + str("sessionContext" in identity), keys)
    assert list(user_identity(iam_user)) == real["IAMUserFalse"]
    assert list(user_identity(assumed_role)) == real["AssumedRoleTrue"]


def test_format_event_time_writes_what_strftime_writes() -> None:
    from datetime import timedelta, timezone

    from trailkeeper.record.identity import format_event_time

    samples = [
        datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59),  # naive: taken as UTC
        datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # the day before, in UTC
        datetime(999, 7, 4, 12, 0, 0, tzinfo=UTC),  # strftime leaves such a year unpadded
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
    for moment in samples:
        utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
        assert format_event_time(moment) == utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert format_event_time(samples[2]) == "2025-12-31T23:30:00Z"
