"""The record: seed samples reproduced, errors, null responses, caps, resources, key order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from botocore.model import ServiceModel

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer
from trailkeeper.capture.request import TlsInfo
from trailkeeper.capture.wire.types import CallError, Outcome
from trailkeeper.record.build import (
    MAX_BODY_BYTES,
    CallContext,
    build_record,
    encode_record,
)
from trailkeeper.record.project import HIDDEN
from trailkeeper.record.rules import ServiceRules, rules_from_toml

from .support import AWS_ORDER, seed_records

# Fields our 1.11 records carry that the 1.05 Glue seed samples lack (allowed to differ).
NEWER_THAN_105 = ("readOnly", "managementEvent", "eventCategory", "resources")
CANARY = "canary-password-9d41"


def _build(
    models: dict[str, ServiceModel],
    rules: dict[str, ServiceRules],
    service: str,
    op: str,
    params: dict[str, Any] | None,
    outcome: Outcome,
    principal: Principal,
    ctx: CallContext,
) -> dict[str, Any]:
    return build_record(
        event_name=op,
        op=models[service].operation_model(op),
        rules=rules[service],
        params=params,
        outcome=outcome,
        principal=principal,
        ctx=ctx,
    )


def _ctx_like(seed: dict[str, Any]) -> CallContext:
    return CallContext(
        event_time=datetime.fromisoformat(seed["eventTime"].replace("Z", "+00:00")),
        region=seed["awsRegion"],
        source_ip=seed["sourceIPAddress"],
        user_agent=seed["userAgent"],
        request_id=seed["requestID"],
        event_id=seed["eventID"],
    )


def _johndoe() -> Principal:
    return Principal(
        type="IAMUser",
        account_id="123456789012",
        arn="arn:aws:iam::123456789012:user/johndoe",
        principal_id="AKIAIOSFODNN7EXAMPLE",
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        user_name="johndoe",
    )


def _without(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in keys}


def _assert_same_with_order(ours: dict[str, Any], seed: dict[str, Any]) -> None:
    assert ours == seed
    assert orjson.dumps(ours) == orjson.dumps(seed)  # equal bytes: same key order at every depth


def _in_aws_order(record: dict[str, Any]) -> bool:
    positions = [AWS_ORDER.index(k) for k in record if k in AWS_ORDER]
    return positions == sorted(positions)


def test_build_record_glue_seed_delete_crawler_reproduced(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules]
) -> None:
    seed = seed_records("000")[0]
    ours = _build(
        models,
        rules,
        "glue",
        "DeleteCrawler",
        {"Name": "tes-alpha"},
        Outcome(output={}),
        _johndoe(),
        _ctx_like(seed),
    )
    assert ours["eventVersion"] == "1.11"
    assert ours["resources"] == [
        {
            "accountId": "123456789012",
            "type": "AWS::Glue::Crawler",
            "ARN": "arn:aws:glue:us-east-1:123456789012:crawler/tes-alpha",
        }
    ]
    _assert_same_with_order(_without(ours, "eventVersion", *NEWER_THAN_105), _without(seed, "eventVersion"))


def test_build_record_glue_seed_create_connection_reproduced_without_connection_properties(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules]
) -> None:
    seed = seed_records("000")[1]
    params = {
        "ConnectionInput": {
            "Name": "test-connection-alpha",
            "ConnectionType": "JDBC",
            "ConnectionProperties": {"JDBC_CONNECTION_URL": "jdbc:mysql://db:3306/x", "PASSWORD": CANARY},
            "PhysicalConnectionRequirements": {
                "SubnetId": "subnet-323232",
                "AvailabilityZone": "us-east-1a",
                "SecurityGroupIdList": ["sg-12121212"],
            },
        }
    }
    ours = _build(
        models, rules, "glue", "CreateConnection", params, Outcome(output={}), _johndoe(), _ctx_like(seed)
    )
    _assert_same_with_order(_without(ours, "eventVersion", *NEWER_THAN_105), _without(seed, "eventVersion"))
    assert CANARY.encode() not in encode_record(ours)
    assert b"jdbc:mysql" not in encode_record(ours)


def test_build_record_emr_serverless_seed_create_application_reproduced(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules]
) -> None:
    seed = seed_records("001")[0]
    admin = Principal(
        type="AssumedRole",
        account_id="012345678910",
        arn="arn:aws:sts::012345678910:assumed-role/Admin/admin",
        principal_id="AIDACKCEVSQ6C2EXAMPLE:admin",
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        user_name="admin",
        session=SessionInfo(
            issuer=SessionIssuer(
                type="Role",
                principal_id="AIDACKCEVSQ6C2EXAMPLE",
                arn="arn:aws:iam::012345678910:role/Admin",
                account_id="012345678910",
                user_name="Admin",
            ),
            creation_date=datetime(2022, 6, 1, 23, 46, 52, tzinfo=UTC),
            expiration=datetime(2022, 6, 2, 0, 46, 52, tzinfo=UTC),
        ),
    )
    params = {
        "name": "my-serverless-application",
        "releaseLabel": "emr-6.6",
        "type": "SPARK",
        "clientToken": "0a1b234c-de56-7890-1234-567890123456",
    }
    output = {
        "name": "my-serverless-application",
        "applicationId": "1234567890abcdef0",
        "arn": "arn:aws:emr-serverless:us-west-2:555555555555:/applications/1234567890abcdef0",
    }
    ours = _build(
        models,
        rules,
        "emr-serverless",
        "CreateApplication",
        params,
        Outcome(output=output),
        admin,
        _ctx_like(seed),
    )
    assert ours["resources"] == [
        {
            "accountId": "012345678910",
            "type": "AWS::EMRServerless::Application",
            "ARN": "arn:aws:emr-serverless:us-west-2:012345678910:/applications/1234567890abcdef0",
        }
    ]
    _assert_same_with_order(_without(ours, "eventVersion", "resources"), _without(seed, "eventVersion"))


def test_build_record_error_outcome_has_error_fields_and_null_response(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], iam_user: Principal, ctx: CallContext
) -> None:
    outcome = Outcome(
        error=CallError("EntityNotFoundException", "Cannot find partition."), output={"Partition": {}}
    )
    params = {"DatabaseName": "db", "TableName": "t", "PartitionValues": ["2021"]}
    record = _build(models, rules, "glue", "GetPartition", params, outcome, iam_user, ctx)
    assert record["errorCode"] == "EntityNotFoundException"
    assert record["errorMessage"] == "Cannot find partition."
    assert record["requestParameters"] == {
        "databaseName": "db",
        "tableName": "t",
        "partitionValues": ["2021"],
    }
    assert record["responseElements"] is None
    assert record["readOnly"] is True
    assert list(record).index("errorMessage") == list(record).index("requestParameters") - 1
    assert _in_aws_order(record)


@pytest.mark.parametrize(
    ("service", "op"),
    [("glue", "GetDatabase"), ("sts", "GetCallerIdentity"), ("cloudtrail", "DescribeTrails")],
)
def test_build_record_null_response_operation_logs_null_response(
    service: str,
    op: str,
    models: dict[str, ServiceModel],
    rules: dict[str, ServiceRules],
    iam_user: Principal,
    ctx: CallContext,
) -> None:
    output = {"Database": {"Name": "db"}, "Account": "111122223333", "trailList": [{"Name": "t"}]}
    record = _build(models, rules, service, op, {}, Outcome(output=output), iam_user, ctx)
    assert record["responseElements"] is None
    assert record["requestParameters"] is None  # no parameters: null, as in real GetDatabases records


def test_build_record_glue_get_tags_response_logged(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], iam_user: Principal, ctx: CallContext
) -> None:
    arn = "arn:aws:glue:us-west-1:111122223333:devEndpoint/AshuTest"
    record = _build(
        models,
        rules,
        "glue",
        "GetTags",
        {"ResourceArn": arn},
        Outcome(output={"Tags": {"Name": "TestDevEndPoint"}}),
        iam_user,
        ctx,
    )
    assert record["requestParameters"] == {"resourceArn": arn}
    assert record["responseElements"] == {"tags": {"Name": "TestDevEndPoint"}}


def test_build_record_sts_assume_role_hides_token_and_drops_secret(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], iam_user: Principal, ctx: CallContext
) -> None:
    role = "arn:aws:iam::444455556666:role/Deploy"
    output = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLENEW00001",
            "SecretAccessKey": CANARY,
            "SessionToken": CANARY,
            "Expiration": datetime(2023, 7, 10, 12, 9, 47, tzinfo=UTC),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": "AROAEXAMPLE:s",
            "Arn": "arn:aws:sts::444455556666:assumed-role/Deploy/s",
        },
    }
    record = _build(
        models,
        rules,
        "sts",
        "AssumeRole",
        {"RoleArn": role, "RoleSessionName": "s", "DurationSeconds": 900},
        Outcome(output=output),
        iam_user,
        ctx,
    )
    assert record["responseElements"]["credentials"] == {
        "accessKeyId": "ASIAEXAMPLENEW00001",
        "sessionToken": HIDDEN,
        "expiration": "Jul 10, 2023, 12:09:47 PM",
    }
    assert record["readOnly"] is True
    assert record["resources"] == [{"accountId": "444455556666", "type": "AWS::IAM::Role", "ARN": role}]
    assert CANARY.encode() not in encode_record(record)


def test_build_record_unknown_operation_has_null_params_and_read_only_false(
    rules: dict[str, ServiceRules], iam_user: Principal, ctx: CallContext
) -> None:
    record = build_record(
        event_name="GetObjects",
        op=None,
        rules=rules["glue"],
        params={"X": 1},
        outcome=Outcome(error=CallError("UnknownOperationException", "")),
        principal=iam_user,
        ctx=ctx,
    )
    assert record["requestParameters"] is None
    assert record["responseElements"] is None
    assert record["readOnly"] is False
    assert record["eventName"] == "GetObjects"


def test_build_record_oversized_parameters_nulled_and_marked_omitted(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], iam_user: Principal, ctx: CallContext
) -> None:
    params = {"DatabaseInput": {"Name": "db", "Description": "x" * (MAX_BODY_BYTES + 1)}}
    record = _build(models, rules, "glue", "CreateDatabase", params, Outcome(output={}), iam_user, ctx)
    assert record["requestParameters"] is None
    assert record["omitted"] is True
    keys = list(record)
    assert keys.index("omitted") == keys.index("responseElements") + 1
    assert record["resources"][0]["ARN"].endswith(":database/db")  # the call is still attributed


def test_build_record_long_text_fields_truncated_to_one_kilobyte(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], iam_user: Principal, ctx: CallContext
) -> None:
    long_ctx = replace(ctx, user_agent="é" * 600)  # 1200 bytes; a cut may not split "é"
    outcome = Outcome(error=CallError("E" * 2000, "m" * 5000))
    record = _build(models, rules, "glue", "GetDatabases", None, outcome, iam_user, long_ctx)
    assert record["userAgent"] == "é" * 512
    assert len(record["errorCode"].encode()) == 1024
    assert len(record["errorMessage"].encode()) == 1024


def test_build_record_tls_details_last_in_aws_shape(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], iam_user: Principal, ctx: CallContext
) -> None:
    tls_ctx = replace(ctx, tls=TlsInfo("TLSv1.3", "TLS_AES_128_GCM_SHA256", "glue.us-east-1.amazonaws.com"))
    record = _build(models, rules, "glue", "GetDatabases", None, Outcome(output={}), iam_user, tls_ctx)
    assert list(record)[-1] == "tlsDetails"
    assert record["tlsDetails"] == {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": "glue.us-east-1.amazonaws.com",
    }
    assert record["eventTime"] == "2024-03-01T09:30:15Z"


def test_build_record_data_event_operation_marked_data_category(
    models: dict[str, ServiceModel], iam_user: Principal, ctx: CallContext
) -> None:
    text = '[service]\nevent_source = "glue.amazonaws.com"\n[operations]\ndata_events = ["GetTable"]\n'
    data_rules = rules_from_toml(text, models["glue"], service="glue", source="data.toml")
    record = build_record(
        event_name="GetTable",
        op=models["glue"].operation_model("GetTable"),
        rules=data_rules,
        params={"DatabaseName": "d", "Name": "t"},
        outcome=Outcome(output={}),
        principal=iam_user,
        ctx=ctx,
    )
    assert record["managementEvent"] is False
    assert record["eventCategory"] == "Data"


@pytest.mark.parametrize("failed", [False, True])
def test_build_record_keys_follow_aws_top_level_order(
    failed: bool,
    models: dict[str, ServiceModel],
    rules: dict[str, ServiceRules],
    assumed_role: Principal,
    ctx: CallContext,
) -> None:
    outcome = (
        Outcome(error=CallError("AccessDeniedException", "no"))
        if failed
        else Outcome(output={"JobRunId": "jr"})
    )
    tls_ctx = replace(ctx, tls=TlsInfo("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "glue.amazonaws.com"))
    record = _build(models, rules, "glue", "StartJobRun", {"JobName": "etl"}, outcome, assumed_role, tls_ctx)
    assert set(record) <= set(AWS_ORDER)
    assert _in_aws_order(record)
    assert ("errorCode" in record) is failed


def test_encode_record_compact_and_order_preserving() -> None:
    record = {"b": 1, "a": {"y": None, "x": True}}
    assert encode_record(record) == b'{"b":1,"a":{"y":null,"x":true}}'
