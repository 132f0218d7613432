"""CloudTrail's parameter rules: trail names, ARNs, buckets, prefixes, topics, KMS keys, log groups, tags."""

from __future__ import annotations

from typing import Any

import pytest

from trailkeeper.control.params import apply_settings, new_trail
from trailkeeper.control.validation import (
    check_bucket_name,
    check_cloudwatch_logs,
    check_prefix,
    check_tags,
    check_trail_name,
    kms_key_arn,
    parse_trail_ref,
    topic_arn,
)
from trailkeeper.errors import AwsError

ACCOUNT = "111122223333"
REGION = "eu-west-1"


def _refused(call: Any, *args: Any) -> AwsError:
    with pytest.raises(AwsError) as info:
        call(*args)
    assert info.value.status == 400
    return info.value


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "ab",
            "Trail name too short. Minimum allowed length: 3 characters. "
            "Specified name length: 2 characters.",
        ),
        (
            "a" * 129,
            "Trail name too long. Maximum allowed length: 128 characters. "
            "Specified name length: 129 characters.",
        ),
        ("-trail", "Trail name must starts with a letter or number."),
        ("trail_", "Trail name must ends with a letter or number."),
        (
            "my trail",
            "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, "
            "periods (.), hyphens (-), and underscores (_).",
        ),
        ("my-_namespace", "Trail name cannot contain adjacent periods, underscores or dashes."),
        ("my--namespace", "Trail name cannot contain adjacent periods, underscores or dashes."),
        ("192.168.5.4", "Trail name cannot be formatted as an IP address."),
    ],
)
def test_check_trail_name_refuses_with_aws_text(name: str, message: str) -> None:
    err = _refused(check_trail_name, name)
    assert (err.code, err.message) == ("InvalidTrailNameException", message)


@pytest.mark.parametrize("name", ["abc", "My.Trail_1-x", "a" * 128, "192.168.5"])
def test_check_trail_name_accepts_valid_names(name: str) -> None:
    check_trail_name(name)


def test_parse_trail_ref_reads_names_and_arns() -> None:
    plain = parse_trail_ref("trail-one")
    assert (plain.is_arn, plain.name, plain.region, plain.account_id) == (False, "trail-one", None, None)
    arn = parse_trail_ref(f"arn:aws:cloudtrail:us-east-2:{ACCOUNT}:trail/MyTrail")
    assert (arn.is_arn, arn.name, arn.region, arn.account_id) == (True, "MyTrail", "us-east-2", ACCOUNT)


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:cloudtrail:us-east-2:1234:trail/MyTrail",
        f"arn:aws:cloudtrail:us-east-2:{ACCOUNT}:eventdatastore/EXAMPLE",
        f"arn:aws:s3:::{ACCOUNT}",
        f"arn:aws:cloudtrail:us-east-2:{ACCOUNT}:trail/my trail",
    ],
)
def test_parse_trail_ref_refuses_other_arns(value: str) -> None:
    assert _refused(parse_trail_ref, value).code == "CloudTrailARNInvalidException"


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("audit-logs", True),
        ("logs.example.com", True),
        ("Audit-Logs", False),
        ("ab", False),
        ("a..b", False),
        ("192.168.1.1", False),
        ("-logs", False),
        ("xn--logs", False),
    ],
)
def test_check_bucket_name_follows_s3_rules(name: str, ok: bool) -> None:
    if ok:
        check_bucket_name(name)
    else:
        assert _refused(check_bucket_name, name).code == "InvalidS3BucketNameException"


def test_check_prefix_allows_200_characters() -> None:
    check_prefix("p" * 200)
    assert _refused(check_prefix, "p" * 201).code == "InvalidS3PrefixException"


def test_topic_arn_from_name_or_arn() -> None:
    assert topic_arn("ct-topic", REGION, ACCOUNT) == f"arn:aws:sns:{REGION}:{ACCOUNT}:ct-topic"
    given = f"arn:aws:sns:us-east-1:{ACCOUNT}:other"
    assert topic_arn(given, REGION, ACCOUNT) == given
    assert _refused(topic_arn, "bad topic", REGION, ACCOUNT).code == "InvalidSnsTopicNameException"


@pytest.mark.parametrize(
    ("key", "arn"),
    [
        (
            "12345678-1234-1234-1234-123456789012",
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/12345678-1234-1234-1234-123456789012",
        ),
        ("alias/MyAliasName", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/MyAliasName"),
        (
            "arn:aws:kms:us-east-2:123456789012:alias/MyAliasName",
            "arn:aws:kms:us-east-2:123456789012:alias/MyAliasName",
        ),
        (
            "arn:aws:kms:us-east-2:123456789012:key/12345678-1234-1234-1234-123456789012",
            "arn:aws:kms:us-east-2:123456789012:key/12345678-1234-1234-1234-123456789012",
        ),
    ],
)
def test_kms_key_arn_accepts_the_four_documented_forms(key: str, arn: str) -> None:
    assert kms_key_arn(key, REGION, ACCOUNT) == arn


def test_kms_key_arn_refuses_other_text() -> None:
    assert _refused(kms_key_arn, "my-key", REGION, ACCOUNT).code == "InvalidKmsKeyIdException"


GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:CloudTrail/logs:*"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/CloudTrail_CloudWatchLogs_Role"


@pytest.mark.parametrize(
    ("group", "role", "code"),
    [
        (None, ROLE, "InvalidParameterCombinationException"),
        (GROUP, None, "InvalidParameterCombinationException"),
        (
            "arn:aws:logs:eu-west-1:444455556666:log-group:x:*",
            ROLE,
            "InvalidCloudWatchLogsLogGroupArnException",
        ),
        ("log-group:x", ROLE, "InvalidCloudWatchLogsLogGroupArnException"),
        (GROUP, "arn:aws:iam::444455556666:role/x", "InvalidCloudWatchLogsRoleArnException"),
    ],
)
def test_check_cloudwatch_logs_refuses(group: str | None, role: str | None, code: str) -> None:
    assert _refused(check_cloudwatch_logs, group, role, ACCOUNT).code == code


def test_check_cloudwatch_logs_accepts_group_and_role_of_the_account() -> None:
    check_cloudwatch_logs(GROUP, ROLE, ACCOUNT)
    check_cloudwatch_logs(None, None, ACCOUNT)


def test_check_tags_pairs_and_missing_value() -> None:
    assert check_tags([{"Key": "team", "Value": "data"}, {"Key": "owner"}]) == (
        ("team", "data"),
        ("owner", ""),
    )


@pytest.mark.parametrize(
    "tags",
    [
        [{"Key": ""}],
        [{"Key": "k" * 129}],
        [{"Key": "aws:reserved", "Value": "v"}],
        [{"Key": "bad#key"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": "k", "Value": "a"}, {"Key": "k", "Value": "b"}],
    ],
)
def test_check_tags_refuses_invalid_tags(tags: list[dict[str, str]]) -> None:
    assert _refused(check_tags, tags).code == "InvalidTagParameterException"


def test_new_trail_defaults_match_the_api() -> None:
    trail = new_trail(
        {"Name": "trail-one", "S3BucketName": "audit-logs"}, account_id=ACCOUNT, region=REGION, now_ms=7
    )
    assert trail.arn == f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/trail-one"
    assert (trail.is_multi_region, trail.include_global_service_events, trail.log_file_validation) == (
        False,
        True,
        False,
    )
    assert (trail.is_organization, trail.event_selectors, trail.created_ms) == (False, None, 7)


def test_new_trail_refuses_more_than_50_tags() -> None:
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    params = {"Name": "trail-one", "S3BucketName": "audit-logs", "TagsList": tags}
    assert _refused(lambda: new_trail(params, account_id=ACCOUNT, region=REGION, now_ms=0)).code == (
        "TagsLimitExceededException"
    )


def test_apply_settings_multi_region_needs_global_events() -> None:
    trail = new_trail(
        {"Name": "trail-one", "S3BucketName": "audit-logs"}, account_id=ACCOUNT, region=REGION, now_ms=0
    )
    err = _refused(apply_settings, trail, {"IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": False})
    assert (err.code, err.message) == (
        "InvalidParameterCombinationException",
        "Multi-Region trail must include global service events.",
    )


def test_apply_settings_empty_string_clears_an_optional_setting() -> None:
    trail = new_trail(
        {"Name": "trail-one", "S3BucketName": "audit-logs", "SnsTopicName": "topic", "S3KeyPrefix": "p"},
        account_id=ACCOUNT,
        region=REGION,
        now_ms=0,
    )
    assert trail.sns_topic_arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"
    cleared = apply_settings(trail, {"SnsTopicName": "", "S3KeyPrefix": ""})
    assert (cleared.sns_topic_arn, cleared.s3_key_prefix) == (None, None)
