"""index_entry: the lookup columns of a built record."""

from __future__ import annotations

from botocore.model import ServiceModel

from trailkeeper.capture.identity.principal import Principal
from trailkeeper.capture.wire.types import Outcome
from trailkeeper.record.build import CallContext, build_record, encode_record, resource_refs
from trailkeeper.record.index import index_entry
from trailkeeper.record.rules import ServiceRules


def test_index_entry_columns_come_from_record_and_principal(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], assumed_role: Principal, ctx: CallContext
) -> None:
    params = {"DatabaseName": "sales", "Name": "orders"}
    refs = resource_refs(
        rules["glue"], "GetTable", params, None, account=assumed_role.account_id, region=ctx.region
    )
    record = build_record(
        event_name="GetTable",
        op=models["glue"].operation_model("GetTable"),
        rules=rules["glue"],
        params=params,
        outcome=Outcome(output={}),
        principal=assumed_role,
        ctx=ctx,
        resources=refs,
    )
    data = encode_record(record)
    entry = index_entry(record, data, assumed_role, 1709285415123, refs)
    assert entry.record == data
    assert (entry.account_id, entry.region, entry.event_time_ms) == (
        "111122223333",
        "us-east-1",
        1709285415123,
    )
    assert (entry.event_id, entry.event_name, entry.event_source) == (
        ctx.event_id,
        "GetTable",
        "glue.amazonaws.com",
    )
    assert entry.read_only is True
    assert entry.management is True
    assert entry.username == "alice-session"  # the role session name, as LookupEvents matches it
    assert entry.access_key_id == "ASIAEXAMPLEALICE0001"
    assert entry.resources == (
        ("AWS::Glue::Table", "orders"),
        ("AWS::Glue::Table", "arn:aws:glue:us-east-1:111122223333:table/sales/orders"),
    )


def test_index_entry_without_refs_indexes_written_resources_by_name_and_arn(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], ctx: CallContext
) -> None:
    root = Principal(
        type="Root",
        account_id="111122223333",
        arn="arn:aws:iam::111122223333:root",
        principal_id="111122223333",
        access_key_id="AKIAEXAMPLEROOT00001",
    )
    record = build_record(
        event_name="DeleteJob",
        op=models["glue"].operation_model("DeleteJob"),
        rules=rules["glue"],
        params={"JobName": "nightly"},
        outcome=Outcome(output={"JobName": "nightly"}),
        principal=root,
        ctx=ctx,
    )
    entry = index_entry(record, encode_record(record), root, 0)
    assert entry.username == "root"
    assert entry.read_only is False
    assert entry.resources == (
        ("AWS::Glue::Job", "nightly"),
        ("AWS::Glue::Job", "arn:aws:glue:us-east-1:111122223333:job/nightly"),
    )


def test_index_entry_index_only_resources_searchable_by_name_and_arn(
    models: dict[str, ServiceModel], rules: dict[str, ServiceRules], iam_user: Principal, ctx: CallContext
) -> None:
    params = {"Name": "main"}
    refs = resource_refs(
        rules["cloudtrail"], "DeleteTrail", params, None, account="111122223333", region="us-east-1"
    )
    record = build_record(
        event_name="DeleteTrail",
        op=models["cloudtrail"].operation_model("DeleteTrail"),
        rules=rules["cloudtrail"],
        params=params,
        outcome=Outcome(output={}),
        principal=iam_user,
        ctx=ctx,
        resources=refs,
    )
    entry = index_entry(record, encode_record(record), iam_user, 0, refs)
    assert "resources" not in record
    assert entry.resources == (
        ("AWS::CloudTrail::Trail", "main"),
        ("AWS::CloudTrail::Trail", "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"),
    )
