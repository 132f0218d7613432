"""Projection: key casing, sensitive members, omit/hide rules, value rendering."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from trailkeeper.record.project import HIDDEN, format_timestamp, lower_first, project

CANARY = "canary-7f3c-secret"


def _op_shape(models: dict[str, ServiceModel], service: str, op: str, direction: str = "input") -> Shape:
    model = models[service].operation_model(op)
    shape = model.input_shape if direction == "input" else model.output_shape
    assert shape is not None
    return shape


def _sensitive_paths(shape: Shape, path: tuple[str, ...], seen: frozenset[str]) -> Iterator[tuple[str, ...]]:
    """Paths (member names and "[*]") from ``shape`` to every member the model marks sensitive."""
    if shape.metadata.get("sensitive"):
        yield path
        return
    if shape.name in seen:
        return
    seen = seen | {shape.name}
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            yield from _sensitive_paths(member, (*path, name), seen)
    elif isinstance(shape, ListShape):
        yield from _sensitive_paths(shape.member, (*path, "[*]"), seen)
    elif isinstance(shape, MapShape):
        yield from _sensitive_paths(shape.value, (*path, "[*]"), seen)


def _leaf_value(shape: Shape) -> Any:
    kinds: dict[str, Any] = {"map": {"key": CANARY}, "list": [CANARY], "structure": {"X": CANARY}}
    return kinds.get(shape.type_name, b"\x00canary" if shape.type_name == "blob" else CANARY)


def _value_along(shape: Shape, path: tuple[str, ...]) -> Any:
    """A value that is set exactly along ``path``, with a canary at its end."""
    if not path:
        return _leaf_value(shape)
    head, rest = path[0], path[1:]
    if isinstance(shape, ListShape):
        return [_value_along(shape.member, rest)]
    if isinstance(shape, MapShape):
        return {"some-key": _value_along(shape.value, rest)}
    assert isinstance(shape, StructureShape)
    return {head: _value_along(shape.members[head], rest)}


def _projected_at(value: Any, path: tuple[str, ...]) -> Any:
    for token in path:
        if token == "[*]":
            value = value[0] if isinstance(value, list) else next(iter(value.values()))
        else:
            value = value[lower_first(token)]
    return value


def _all_sensitive_cases(models: dict[str, ServiceModel]) -> Iterator[tuple[str, str, str, tuple[str, ...]]]:
    for service in ("glue", "emr-serverless", "sts"):
        model = models[service]
        for op in model.operation_names:
            operation = model.operation_model(op)
            for direction, shape in (("input", operation.input_shape), ("output", operation.output_shape)):
                if shape is not None:
                    for path in _sensitive_paths(shape, (), frozenset()):
                        yield service, op, direction, path


def test_project_every_sensitive_member_in_glue_emr_sts_becomes_hidden(
    models: dict[str, ServiceModel],
) -> None:
    cases = list(_all_sensitive_cases(models))
    # Glue passwords and OAuth tokens, EMR Serverless job drivers, STS secret keys are all there.
    assert {case[0] for case in cases} == {"glue", "emr-serverless", "sts"}
    assert len(cases) > 80
    for service, op, direction, path in cases:
        shape = _op_shape(models, service, op, direction)
        projected = project(shape, _value_along(shape, path))
        assert _projected_at(projected, path) == HIDDEN, (service, op, direction, path)
        assert CANARY.encode() not in orjson.dumps(projected), (service, op, path)


def test_project_structure_members_lower_first_letter_only(models: dict[str, ServiceModel]) -> None:
    shape = _op_shape(models, "cloudtrail", "CreateTrail", "output")
    value = {
        "TrailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/t",
        "S3BucketName": "b",
        "Name": "t",
    }
    assert project(shape, value) == {
        "trailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/t",
        "s3BucketName": "b",
        "name": "t",
    }


def test_project_keys_keep_value_order_not_model_order(models: dict[str, ServiceModel]) -> None:
    shape = _op_shape(models, "glue", "CreateConnection")
    requirements = {"SubnetId": "subnet-1", "AvailabilityZone": "us-east-1a", "SecurityGroupIdList": ["sg-1"]}
    projected = project(shape, {"ConnectionInput": {"PhysicalConnectionRequirements": requirements}})
    inner = projected["connectionInput"]["physicalConnectionRequirements"]
    assert list(inner) == ["subnetId", "availabilityZone", "securityGroupIdList"]


def test_project_map_keys_unchanged_and_unknown_members_dropped(models: dict[str, ServiceModel]) -> None:
    shape = _op_shape(models, "glue", "CreateDatabase")
    value = {
        "DatabaseInput": {
            "Name": "sales",
            "Parameters": {"Owner": "Team", "classification": "x"},
            "Bogus": 1,
        },
        "NotAMember": "dropped",
    }
    assert project(shape, value) == {
        "databaseInput": {"name": "sales", "parameters": {"Owner": "Team", "classification": "x"}}
    }


def test_project_none_values_dropped_everywhere(models: dict[str, ServiceModel]) -> None:
    shape = _op_shape(models, "glue", "BatchGetCrawlers")
    assert project(shape, {"CrawlerNames": ["a", None, "b"]}) == {"crawlerNames": ["a", "b"]}
    assert project(shape, {"CrawlerNames": None}) == {}


def test_project_omit_path_and_everywhere_name_drop_members(models: dict[str, ServiceModel]) -> None:
    shape = _op_shape(models, "glue", "CreateConnection")
    value = {
        "ConnectionInput": {
            "Name": "c",
            "ConnectionProperties": {"PASSWORD": CANARY},
            "SparkProperties": {"secret": CANARY},
        }
    }
    projected = project(
        shape,
        value,
        omit=["ConnectionInput.SparkProperties"],
        omit_everywhere=frozenset({"ConnectionProperties"}),
    )
    assert projected == {"connectionInput": {"name": "c"}}


def test_project_hide_path_through_list_hides_each_element_member(models: dict[str, ServiceModel]) -> None:
    shape = _op_shape(models, "glue", "BatchCreatePartition")
    value = {"PartitionInputList": [{"Values": ["2024"], "Parameters": {"k": "v"}}, {"Values": ["2025"]}]}
    projected = project(shape, value, hide=["PartitionInputList[*].Values"])
    assert projected == {
        "partitionInputList": [{"values": HIDDEN, "parameters": {"k": "v"}}, {"values": HIDDEN}]
    }


def test_project_omit_wins_over_hide_for_same_path(models: dict[str, ServiceModel]) -> None:
    shape = _op_shape(models, "sts", "AssumeRole", "output")
    value = {"Credentials": {"AccessKeyId": "ASIAX", "SecretAccessKey": CANARY, "SessionToken": CANARY}}
    projected = project(
        shape,
        value,
        omit=["Credentials.SecretAccessKey"],
        hide=["Credentials.SessionToken", "Credentials.SecretAccessKey"],
    )
    assert projected == {"credentials": {"accessKeyId": "ASIAX", "sessionToken": HIDDEN}}


def test_project_timestamp_rendered_like_aws_bodies(models: dict[str, ServiceModel]) -> None:
    shape = _op_shape(models, "sts", "AssumeRole", "output")
    value = {"Credentials": {"Expiration": datetime(2023, 7, 10, 12, 9, 47, tzinfo=UTC)}}
    assert project(shape, value) == {"credentials": {"expiration": "Jul 10, 2023, 12:09:47 PM"}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2023, 7, 10, 12, 7, 59, tzinfo=UTC), "Jul 10, 2023, 12:07:59 PM"),
        (datetime(2024, 11, 30, 20, 43, 17, tzinfo=UTC), "Nov 30, 2024, 8:43:17 PM"),
        (datetime(2024, 1, 5, 0, 5, 0, tzinfo=UTC), "Jan 5, 2024, 12:05:00 AM"),
        (datetime(2024, 1, 5, 9, 0, 1, tzinfo=timezone(timedelta(hours=2))), "Jan 5, 2024, 7:00:01 AM"),
        (1688990987, "Jul 10, 2023, 12:09:47 PM"),
        ("2023-07-10T12:09:47Z", "Jul 10, 2023, 12:09:47 PM"),
        ("not a time", "not a time"),
    ],
)
def test_format_timestamp_input_forms_render_aws_style(value: Any, expected: str) -> None:
    assert format_timestamp(value) == expected


def test_project_blob_rendered_as_base64(models: dict[str, ServiceModel]) -> None:
    shape = _op_shape(models, "cloudtrail", "ListPublicKeys", "output")
    projected = project(shape, {"PublicKeyList": [{"Value": b"\x01\x02\xff", "Fingerprint": "ab"}]})
    assert projected == {"publicKeyList": [{"value": "AQL/", "fingerprint": "ab"}]}


def test_project_recursive_shape_compiles_and_projects_every_level(models: dict[str, ServiceModel]) -> None:
    # Glue's Table holds a TableStatus whose StatusDetails.RequestedChange is a Table again.
    shape = _op_shape(models, "glue", "GetTable", "output")
    inner = {"Name": "v2", "Status": {"State": "SUCCESS"}}
    value = {"Table": {"Name": "v1", "Status": {"Details": {"RequestedChange": inner}}}}
    assert project(shape, value) == {
        "table": {
            "name": "v1",
            "status": {"details": {"requestedChange": {"name": "v2", "status": {"state": "SUCCESS"}}}},
        }
    }


def test_project_recursive_emr_configurations_hide_sensitive_properties_at_depth(
    models: dict[str, ServiceModel],
) -> None:
    shape = _op_shape(models, "emr-serverless", "CreateApplication")
    level2 = {"classification": "spark-env", "properties": {"K": CANARY}}
    level1 = {"classification": "spark-defaults", "configurations": [level2]}
    projected = project(shape, {"runtimeConfiguration": [level1]})
    assert projected == {
        "runtimeConfiguration": [
            {
                "classification": "spark-defaults",
                "configurations": [{"classification": "spark-env", "properties": HIDDEN}],
            }
        ]
    }
