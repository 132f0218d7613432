"""Trails and their status as the API answers them: model values in, output dicts (model member names) out.

String members appear only when they have a value (MODEL DescribeTrails doc); booleans always.
GetTrailStatus's deprecated string members are still answered, as ISO-8601 seconds or "" when
never set, the way the CLI's get-trail-status example shows them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from trailkeeper.control.model import Trail, TrailStatus
from trailkeeper.control.selectors import default_selectors

__all__ = ["created_view", "selectors_view", "status_view", "tags_view", "trail_info", "trail_view"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)


def _old_time(ms: int | None) -> str:
    """A deprecated string time member: "2016-01-28T23:02:24Z", or "" when never set."""
    moment = _time(ms)
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _present(out: dict[str, Any], pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out.update((key, value) for key, value in pairs if value is not None)
    return out


def _topic_name(arn: str | None) -> str | None:
    return None if arn is None else arn.rsplit(":", 1)[-1]


def _view(trail: Trail, *, full: bool) -> dict[str, Any]:
    out = _present(
        {"Name": trail.name, "S3BucketName": trail.s3_bucket},
        [
            ("S3KeyPrefix", trail.s3_key_prefix),
            ("SnsTopicName", _topic_name(trail.sns_topic_arn)),
            ("SnsTopicARN", trail.sns_topic_arn),
        ],
    )
    out["IncludeGlobalServiceEvents"] = trail.include_global_service_events
    out["IsMultiRegionTrail"] = trail.is_multi_region
    if full:
        out["HomeRegion"] = trail.home_region
    out["TrailARN"] = trail.arn
    out["LogFileValidationEnabled"] = trail.log_file_validation
    _present(
        out,
        [
            ("CloudWatchLogsLogGroupArn", trail.cloudwatch_logs_log_group_arn),
            ("CloudWatchLogsRoleArn", trail.cloudwatch_logs_role_arn),
            ("KmsKeyId", trail.kms_key_id),
        ],
    )
    if full:
        custom = trail.event_selectors is not None or trail.advanced_event_selectors is not None
        out["HasCustomEventSelectors"] = custom
        out["HasInsightSelectors"] = False  # Insights are not offered
    out["IsOrganizationTrail"] = trail.is_organization
    return out


def trail_view(trail: Trail) -> dict[str, Any]:
    """The ``Trail`` shape (GetTrail, DescribeTrails)."""
    return _view(trail, full=True)


def created_view(trail: Trail) -> dict[str, Any]:
    """CreateTrail's and UpdateTrail's output: the Trail shape without HomeRegion and Has* members."""
    return _view(trail, full=False)


def trail_info(trail: Trail) -> dict[str, Any]:
    """ListTrails' ``TrailInfo``."""
    return {"TrailARN": trail.arn, "Name": trail.name, "HomeRegion": trail.home_region}


def status_view(status: TrailStatus) -> dict[str, Any]:
    """GetTrailStatus' output, every member of the model."""
    out = _present(
        {"IsLogging": status.is_logging},
        [
            ("LatestDeliveryError", status.latest_delivery_error),
            ("LatestNotificationError", status.latest_notification_error),
            ("LatestDeliveryTime", _time(status.latest_delivery_ms)),
            ("LatestNotificationTime", _time(status.latest_notification_ms)),
            ("StartLoggingTime", _time(status.start_logging_ms)),
            ("StopLoggingTime", _time(status.stop_logging_ms)),
            ("LatestCloudWatchLogsDeliveryError", status.latest_cloudwatch_logs_delivery_error),
            ("LatestCloudWatchLogsDeliveryTime", _time(status.latest_cloudwatch_logs_delivery_ms)),
            ("LatestDigestDeliveryTime", _time(status.latest_digest_delivery_ms)),
            ("LatestDigestDeliveryError", status.latest_digest_delivery_error),
        ],
    )
    out["LatestDeliveryAttemptTime"] = _old_time(status.latest_delivery_attempt_ms)
    out["LatestNotificationAttemptTime"] = _old_time(status.latest_notification_attempt_ms)
    out["LatestNotificationAttemptSucceeded"] = _old_time(status.latest_notification_attempt_succeeded_ms)
    out["LatestDeliveryAttemptSucceeded"] = _old_time(status.latest_delivery_attempt_succeeded_ms)
    out["TimeLoggingStarted"] = _old_time(status.start_logging_ms)
    out["TimeLoggingStopped"] = _old_time(status.stop_logging_ms)
    return out


def selectors_view(trail: Trail) -> dict[str, Any]:
    """GetEventSelectors' / PutEventSelectors' output: the kind of selectors the trail uses, only."""
    if trail.advanced_event_selectors is not None:
        return {"TrailARN": trail.arn, "AdvancedEventSelectors": list(trail.advanced_event_selectors)}
    chosen = trail.event_selectors if trail.event_selectors is not None else default_selectors()
    return {"TrailARN": trail.arn, "EventSelectors": list(chosen)}


def tags_view(trail: Trail) -> list[dict[str, str]]:
    """A TagsList; a tag created without a value is answered without ``Value``."""
    return [{"Key": key, "Value": value} if value else {"Key": key} for key, value in trail.tags]
