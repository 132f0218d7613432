"""CreateTrail / UpdateTrail settings: request parameters (and the trail they change) in, a checked Trail out.

One table maps each settable request member to the Trail field it sets and how its value is
checked, so CreateTrail and UpdateTrail apply exactly the same rules. In UpdateTrail an empty
string clears an optional setting (``--sns-topic-name ""`` turns notifications off, as on AWS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from trailkeeper.control import errors
from trailkeeper.control.model import Trail
from trailkeeper.control.validation import (
    check_bucket_name,
    check_cloudwatch_logs,
    check_prefix,
    check_tags,
    check_trail_name,
    kms_key_arn,
    topic_arn,
)

__all__ = ["SETTINGS", "apply_settings", "new_trail"]

Convert = Callable[[Any, Trail], Any]


def _bucket(value: str, trail: Trail) -> str:
    check_bucket_name(value)
    return value


def _prefix(value: str, trail: Trail) -> str | None:
    check_prefix(value)
    return value or None


def _topic(value: str, trail: Trail) -> str | None:
    return topic_arn(value, trail.home_region, trail.account_id) if value else None


def _kms(value: str, trail: Trail) -> str | None:
    return kms_key_arn(value, trail.home_region, trail.account_id) if value else None


def _text(value: str, trail: Trail) -> str | None:
    return value or None


def _flag(value: bool, trail: Trail) -> bool:
    return bool(value)


# Request member -> (Trail field, conversion). Order is the order AWS's own checks are assumed to run.
SETTINGS: tuple[tuple[str, str, Convert], ...] = (
    ("S3BucketName", "s3_bucket", _bucket),
    ("S3KeyPrefix", "s3_key_prefix", _prefix),
    ("SnsTopicName", "sns_topic_arn", _topic),
    ("IncludeGlobalServiceEvents", "include_global_service_events", _flag),
    ("IsMultiRegionTrail", "is_multi_region", _flag),
    ("EnableLogFileValidation", "log_file_validation", _flag),
    ("CloudWatchLogsLogGroupArn", "cloudwatch_logs_log_group_arn", _text),
    ("CloudWatchLogsRoleArn", "cloudwatch_logs_role_arn", _text),
    ("KmsKeyId", "kms_key_id", _kms),
    ("IsOrganizationTrail", "is_organization", _flag),
)


def apply_settings(trail: Trail, params: Mapping[str, Any]) -> Trail:
    """``trail`` with every setting present in ``params`` applied and the combination checked."""
    changes = {
        field: convert(params[member], trail) for member, field, convert in SETTINGS if member in params
    }
    updated = replace(trail, **changes)
    if updated.is_multi_region and not updated.include_global_service_events:
        # CONFIRMED text: cloudconformity/auto-remediate#3.
        raise errors.parameter_combination("Multi-Region trail must include global service events.")
    check_cloudwatch_logs(
        updated.cloudwatch_logs_log_group_arn, updated.cloudwatch_logs_role_arn, trail.account_id
    )
    return updated


def new_trail(params: Mapping[str, Any], *, account_id: str, region: str, now_ms: int) -> Trail:
    """The trail CreateTrail describes (not stored yet; bucket, limits and organization unchecked)."""
    name = params["Name"]
    check_trail_name(name)
    tags = check_tags(params.get("TagsList") or [])
    if len(tags) > errors.MAX_TAGS:
        raise errors.tags_limit()
    trail = Trail(account_id, region, name, params["S3BucketName"], tags=tags, created_ms=now_ms)
    return apply_settings(trail, params)
