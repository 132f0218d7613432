"""Every identity type signs real boto3 calls and is written as AWS writes it in userIdentity."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.e2e.conftest import ACCOUNT_A, ALICE, ROOT_A, ClientFactory, Keys, find_event


def _creds(response: dict[str, Any]) -> Keys:
    c = response["Credentials"]
    return Keys(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def _glue_call(client: ClientFactory, keys: Keys) -> tuple[str, dict[str, Any]]:
    glue = client("glue", keys)
    resp = glue.get_databases()
    record = find_event(client("cloudtrail", keys), resp["ResponseMetadata"]["RequestId"], "GetDatabases")
    return resp["ResponseMetadata"]["RequestId"], record


def test_iam_user_identity_matches_aws_shape(client: ClientFactory) -> None:
    _, record = _glue_call(client, ALICE)
    ident = record["userIdentity"]
    assert list(ident) == ["type", "principalId", "arn", "accountId", "accessKeyId", "userName"]
    assert ident["type"] == "IAMUser"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", ident["principalId"])
    assert ident["arn"] == f"arn:aws:iam::{ACCOUNT_A}:user/alice"
    assert ident["accountId"] == ACCOUNT_A
    assert ident["accessKeyId"] == ALICE.access_key_id
    assert ident["userName"] == "alice"
    assert record["recipientAccountId"] == ACCOUNT_A


def test_root_identity_uses_account_as_principal(client: ClientFactory) -> None:
    _, record = _glue_call(client, ROOT_A)
    ident = record["userIdentity"]
    assert ident["type"] == "Root"
    assert ident["principalId"] == ACCOUNT_A
    assert ident["arn"] == f"arn:aws:iam::{ACCOUNT_A}:root"
    assert ident["accessKeyId"] == ROOT_A.access_key_id
    assert "userName" not in ident


def test_assumed_role_identity_has_session_context(client: ClientFactory) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    resp = client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/Admin", RoleSessionName=session)
    keys = _creds(resp)
    assert keys.access_key_id.startswith("ASIA")
    _, record = _glue_call(client, keys)
    ident = record["userIdentity"]
    assert ident["type"] == "AssumedRole"
    assert ident["arn"] == f"arn:aws:sts::{ACCOUNT_A}:assumed-role/Admin/{session}"
    assert re.fullmatch(rf"AROA[A-Z2-7]+:{session}", ident["principalId"])
    assert ident["accessKeyId"] == keys.access_key_id
    ctx = ident["sessionContext"]
    assert ctx["sessionIssuer"]["type"] == "Role"
    assert ctx["sessionIssuer"]["arn"] == f"arn:aws:iam::{ACCOUNT_A}:role/Admin"
    assert ctx["sessionIssuer"]["userName"] == "Admin"
    assert ctx["sessionIssuer"]["principalId"] == ident["principalId"].split(":")[0]
    assert ctx["attributes"]["mfaAuthenticated"] == "false"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ctx["attributes"]["creationDate"])
    caller = client("sts", keys).get_caller_identity()
    assert caller["Arn"] == ident["arn"]


def test_federated_user_identity_names_its_issuer(client: ClientFactory) -> None:
    resp = client("sts").get_federation_token(Name="fed-bob", DurationSeconds=900)
    keys = _creds(resp)
    _, record = _glue_call(client, keys)
    ident = record["userIdentity"]
    assert ident["type"] == "FederatedUser"
    assert ident["principalId"] == f"{ACCOUNT_A}:fed-bob"
    assert ident["arn"] == f"arn:aws:sts::{ACCOUNT_A}:federated-user/fed-bob"
    assert ident["sessionContext"]["sessionIssuer"]["type"] == "IAMUser"
    assert ident["sessionContext"]["sessionIssuer"]["userName"] == "alice"


def test_session_token_credentials_stay_iam_user(client: ClientFactory) -> None:
    keys = _creds(client("sts").get_session_token(DurationSeconds=900))
    _, record = _glue_call(client, keys)
    ident = record["userIdentity"]
    assert ident["type"] == "IAMUser"
    assert ident["userName"] == "alice"
    assert ident["accessKeyId"] == keys.access_key_id
    assert ident["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"


def test_assume_role_refused_for_untrusted_principal(client: ClientFactory) -> None:
    import botocore.exceptions
    import pytest

    sts = client("sts", ROOT_A)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/Nope", RoleSessionName="x1")
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    record = find_event(
        client("cloudtrail", ROOT_A), info.value.response["ResponseMetadata"]["RequestId"], "AssumeRole"
    )
    assert record["errorCode"] == "AccessDenied"
    assert record["eventSource"] == "sts.amazonaws.com"


def test_assume_role_record_never_holds_the_session_token_or_secret(client: ClientFactory) -> None:
    resp = client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/Admin", RoleSessionName="tokcheck"
    )
    record = find_event(client("cloudtrail"), resp["ResponseMetadata"]["RequestId"], "AssumeRole")
    text = str(record)
    assert resp["Credentials"]["SessionToken"] not in text
    assert resp["Credentials"]["SecretAccessKey"] not in text
    assert record["responseElements"]["credentials"]["accessKeyId"] == resp["Credentials"]["AccessKeyId"]
