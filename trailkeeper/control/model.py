"""Trails and their status: the values the control plane stores and delivery reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Trail", "TrailStatus", "trail_arn"]


def trail_arn(region: str, account_id: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:cloudtrail:{region}:{account_id}:trail/{name}"


@dataclass(frozen=True, slots=True)
class Trail:
    """One trail, owned by ``account_id`` in ``home_region``.

    ``event_selectors`` / ``advanced_event_selectors`` hold the API shapes exactly as
    PutEventSelectors received them (PascalCase keys); both None means the default
    (all management events, read and write).
    """

    account_id: str
    home_region: str
    name: str
    s3_bucket: str
    s3_key_prefix: str | None = None
    sns_topic_arn: str | None = None
    include_global_service_events: bool = True
    is_multi_region: bool = False
    is_organization: bool = False
    log_file_validation: bool = False
    cloudwatch_logs_log_group_arn: str | None = None
    cloudwatch_logs_role_arn: str | None = None
    kms_key_id: str | None = None
    event_selectors: tuple[dict[str, Any], ...] | None = None
    advanced_event_selectors: tuple[dict[str, Any], ...] | None = None
    tags: tuple[tuple[str, str], ...] = ()
    created_ms: int = 0

    @property
    def arn(self) -> str:
        return trail_arn(self.home_region, self.account_id, self.name)


@dataclass(frozen=True, slots=True)
class TrailStatus:
    """What GetTrailStatus reports, plus the journal positions that bound delivery.

    Times are epoch milliseconds (None = never). ``logging_since_seq``: events with a seq
    above it are delivered while logging; ``stopped_at_seq``: the last seq delivered before
    StopLogging (None while logging); ``paused``: seq ranges (after, upto] journaled while the
    trail was stopped, skipped by delivery while the events around them are still delivered.
    """

    is_logging: bool = False
    start_logging_ms: int | None = None
    stop_logging_ms: int | None = None
    logging_since_seq: int = 0
    stopped_at_seq: int | None = None
    paused: tuple[tuple[int, int], ...] = ()
    latest_delivery_ms: int | None = None
    latest_delivery_error: str | None = None
    latest_delivery_attempt_ms: int | None = None
    latest_delivery_attempt_succeeded_ms: int | None = None
    latest_notification_ms: int | None = None
    latest_notification_error: str | None = None
    latest_notification_attempt_ms: int | None = None
    latest_notification_attempt_succeeded_ms: int | None = None
    latest_cloudwatch_logs_delivery_ms: int | None = None
    latest_cloudwatch_logs_delivery_error: str | None = None
    latest_digest_delivery_ms: int | None = None
    latest_digest_delivery_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
