"""validate_required words model violations exactly as AWS's validation layer does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.wire._support import entry
from trailkeeper.capture.wire import validate_required
from trailkeeper.errors import AwsError

ROLE_ARN = "arn:aws:iam::123456789012:role/Admin"


def _problem(service: str, operation: str, params: dict[str, Any], *, constraints: bool = True) -> str:
    with pytest.raises(AwsError) as info:
        validate_required(entry(service).model.operation_model(operation), params, constraints=constraints)
    assert (info.value.code, info.value.status, info.value.code_for("query")) == (
        "ValidationException",
        400,
        "ValidationError",
    )
    return info.value.message


def test_validate_missing_required_member_is_named_lower_camel() -> None:
    assert _problem("sts", "AssumeRole", {"RoleSessionName": "s1"}) == (
        "1 validation error detected: "
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
    )


def test_validate_several_problems_are_counted_and_joined() -> None:
    assert _problem("sts", "AssumeRole", {}) == (
        "2 validation errors detected: "
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null; "
        "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
    )


def test_validate_short_string_names_its_minimum_length() -> None:
    assert _problem("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "a"}) == (
        "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 2"
    )


def test_validate_pattern_mismatch_quotes_the_model_pattern() -> None:
    assert _problem("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "bad name!"}) == (
        "1 validation error detected: Value 'bad name!' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    )


def test_validate_number_out_of_range_names_the_bound() -> None:
    assert _problem(
        "sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "s1", "DurationSeconds": 100}
    ) == (
        "1 validation error detected: Value '100' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900"
    )


def test_validate_enum_outside_its_set_lists_the_set() -> None:
    assert _problem("cloudtrail", "LookupEvents", {"EventCategory": "nope"}) == (
        "1 validation error detected: Value 'nope' at 'eventCategory' failed to satisfy constraint: "
        "Member must satisfy enum value set: [insight]"
    )


def test_validate_nested_list_member_path_uses_one_based_member_index() -> None:
    params = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "x"}, {"AttributeKey": "Bogus"}]
    }
    assert _problem("cloudtrail", "LookupEvents", params) == (
        "2 validation errors detected: "
        "Value 'Bogus' at 'lookupAttributes.2.member.attributeKey' failed to satisfy constraint: "
        "Member must satisfy enum value set: "
        "[EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId]; "
        "Value null at 'lookupAttributes.2.member.attributeValue' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_validate_list_too_long_names_its_maximum_length() -> None:
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    message = _problem("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "s1", "Tags": tags})
    assert message.startswith("1 validation error detected: Value '[{Key=k0, Value=v}, ")
    assert message.endswith(
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    )


def test_validate_sensitive_value_is_left_out_of_the_message() -> None:
    params = {"RoleArn": ROLE_ARN, "PrincipalArn": ROLE_ARN, "SAMLAssertion": "abc"}
    assert _problem("sts", "AssumeRoleWithSAML", params) == (
        "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy constraint: "
        "Member must have length greater than or equal to 4"
    )


def test_validate_without_constraints_checks_only_presence() -> None:
    validate_required(
        entry("cloudtrail").model.operation_model("LookupEvents"),
        {"MaxResults": 0, "EventCategory": "nope"},
        constraints=False,
    )
    params = {"LookupAttributes": [{"AttributeKey": "Bogus"}]}
    assert _problem("cloudtrail", "LookupEvents", params, constraints=False) == (
        "1 validation error detected: Value null at 'lookupAttributes.1.member.attributeValue' "
        "failed to satisfy constraint: Member must not be null"
    )


def test_validate_valid_params_pass() -> None:
    params = {
        "RoleArn": ROLE_ARN,
        "RoleSessionName": "alice@example.com",
        "DurationSeconds": 3600,
        "Tags": [{"Key": "team", "Value": "data"}],
    }
    validate_required(entry("sts").model.operation_model("AssumeRole"), params)
    validate_required(entry("sts").model.operation_model("GetCallerIdentity"), {})
