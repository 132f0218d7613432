"""resource_refs: which resources a call names, under which ARN and account."""

from __future__ import annotations

from botocore.model import ServiceModel

from trailkeeper.capture.identity.principal import Principal
from trailkeeper.capture.wire.types import Outcome
from trailkeeper.record.build import CallContext, ResourceRef, build_record, resource_refs
from trailkeeper.record.rules import ServiceRules


def test_resource_refs_table_partition_names_table_with_database(
    rules: dict[str, ServiceRules],
) -> None:
    refs = resource_refs(
        rules["glue"],
        "BatchCreatePartition",
        {"DatabaseName": "sales", "TableName": "orders"},
        None,
        account="111122223333",
        region="eu-west-1",
    )
    assert refs == (
        ResourceRef(
            "AWS::Glue::Table",
            "orders",
            "arn:aws:glue:eu-west-1:111122223333:table/sales/orders",
            "111122223333",
        ),
    )


def test_resource_refs_list_values_and_absent_paths(rules: dict[str, ServiceRules]) -> None:
    refs = resource_refs(
        rules["glue"], "BatchGetJobs", {"JobNames": ["a", "b"]}, None, account="1", region="r"
    )
    assert [r.name for r in refs] == ["a", "b"]
    assert resource_refs(rules["glue"], "BatchGetJobs", {}, None, account="1", region="r") == ()
    # A template path that is absent (no table's database) names nothing rather than a wrong ARN.
    assert (
        resource_refs(rules["glue"], "GetPartitions", {"TableName": "t"}, None, account="1", region="r") == ()
    )


def test_resource_refs_arn_values_used_as_given(rules: dict[str, ServiceRules]) -> None:
    schema = "arn:aws-cn:glue:cn-north-1:999988887777:schema/reg/orders"
    refs = resource_refs(
        rules["glue"],
        "GetSchema",
        {"SchemaId": {"SchemaArn": schema}},
        None,
        account="111122223333",
        region="us-east-1",
    )
    assert refs == (ResourceRef("AWS::Glue::Schema", "orders", schema, "999988887777"),)


def test_resource_refs_cloudtrail_trail_indexed_but_not_written(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], iam_user: Principal, ctx: CallContext
) -> None:
    refs = resource_refs(
        rules["cloudtrail"],
        "StartLogging",
        {"Name": "main"},
        None,
        account="111122223333",
        region="us-east-1",
    )
    assert [(r.type, r.name, r.arn, r.in_record) for r in refs] == [
        ("AWS::CloudTrail::Trail", "main", "arn:aws:cloudtrail:us-east-1:111122223333:trail/main", False)
    ]
    record = build_record(
        event_name="StartLogging",
        op=models["cloudtrail"].operation_model("StartLogging"),
        rules=rules["cloudtrail"],
        params={"Name": "main"},
        outcome=Outcome(output={}),
        principal=iam_user,
        ctx=ctx,
    )
    assert "resources" not in record  # real StartLogging records carry none


def test_resource_refs_emr_job_run_from_response_under_application(rules: dict[str, ServiceRules]) -> None:
    refs = resource_refs(
        rules["emr-serverless"],
        "StartJobRun",
        {"applicationId": "app1"},
        {"jobRunId": "jr9"},
        account="111122223333",
        region="us-west-2",
    )
    assert [r.arn for r in refs] == [
        "arn:aws:emr-serverless:us-west-2:111122223333:/applications/app1",
        "arn:aws:emr-serverless:us-west-2:111122223333:/applications/app1/jobruns/jr9",
    ]
