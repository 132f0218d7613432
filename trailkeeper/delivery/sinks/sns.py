"""SNS notifications: a notice's files in, ``{"s3Bucket", "s3ObjectKey"}`` messages to the trail's topic out.

The message is published through an SNS-compatible endpoint, or POSTed to a webhook configured
for the topic (cloudtrail-spec.md §5.1). One message per bucket; a message that would pass
SNS's 256 KiB limit is split, so a large backlog still reaches the topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import orjson

from trailkeeper.control.model import Trail
from trailkeeper.delivery.base import DeliveredFile, Notice, SinkError
from trailkeeper.delivery.sinks.awsapi import AwsApi, AwsCallError

__all__ = ["MAX_MESSAGE_BYTES", "Publisher", "SnsPublisher", "SnsSink", "notification_messages"]

MAX_MESSAGE_BYTES = 262_144  # SNS Publish: a message is at most 256 KiB of UTF-8


class Publisher(Protocol):
    """One way to get a notification to a topic's subscribers."""

    def describe(self) -> str: ...

    def handles(self, topic_arn: str) -> bool: ...

    async def publish(self, topic_arn: str, message: str, *, account_id: str) -> None:
        """Raise SinkError if the message was not accepted."""
        ...

    async def close(self) -> None: ...


def notification_messages(files: Sequence[DeliveredFile], limit: int = MAX_MESSAGE_BYTES) -> list[str]:
    """CloudTrail's message bodies for ``files``: keys grouped by bucket, in delivery order."""
    by_bucket: dict[str, list[str]] = {}
    for file in files:
        by_bucket.setdefault(file.bucket, []).append(file.key)
    messages: list[str] = []
    for bucket, keys in by_bucket.items():
        messages += _split(bucket, keys, limit)
    return messages


def _body(bucket: str, keys: list[str]) -> str:
    # Key order as in AWS's example: s3Bucket, then s3ObjectKey; compact JSON.
    return orjson.dumps({"s3Bucket": bucket, "s3ObjectKey": keys}).decode()


def _split(bucket: str, keys: list[str], limit: int) -> list[str]:
    out: list[str] = []
    size = len(_body(bucket, []).encode())
    current: list[str] = []
    for key in keys:
        grow = len(orjson.dumps(key)) + (1 if current else 0)  # the quoted key and its comma
        if current and size + grow > limit:
            out.append(_body(bucket, current))
            current, size, grow = [], len(_body(bucket, []).encode()), grow - 1
        current.append(key)
        size += grow
    out.append(_body(bucket, current))
    return out


class SnsPublisher:
    """Publishes through the configured SNS-compatible endpoint (the ``Publish`` API)."""

    def __init__(self, api: AwsApi) -> None:
        self._api = api

    def describe(self) -> str:
        return self._api.describe()

    def handles(self, topic_arn: str) -> bool:
        return True

    async def publish(self, topic_arn: str, message: str, *, account_id: str) -> None:
        region = self._api.region_for(_arn_region(topic_arn))
        params: dict[str, object] = {"TopicArn": topic_arn, "Message": message}
        try:
            await self._api.call("Publish", params, region=region, account_id=account_id)
        except AwsCallError as err:
            raise SinkError(str(err), retryable=err.retryable) from err

    async def close(self) -> None:
        """The HTTP client belongs to wiring."""


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[3] else "us-east-1"


class SnsSink:
    """The ``sns`` sink: each notice becomes one message per bucket for the trail's topic."""

    name = "sns"

    def __init__(self, publishers: Sequence[Publisher]) -> None:
        self._publishers = tuple(publishers)  # the first that handles a topic wins (webhooks first)

    def describe(self) -> str:
        return f"sns[{', '.join(p.describe() for p in self._publishers)}]"

    def wants(self, trail: Trail) -> bool:
        return trail.sns_topic_arn is not None

    async def send(self, trail: Trail, notice: Notice) -> None:
        topic = trail.sns_topic_arn
        if topic is None:
            raise SinkError("the trail has no SNS topic", retryable=False)
        publisher = next((p for p in self._publishers if p.handles(topic)), None)
        if publisher is None:
            raise SinkError(f"no SNS endpoint or webhook is configured for topic {topic}", retryable=False)
        for message in notification_messages(notice.files):
            await publisher.publish(topic, message, account_id=trail.account_id)

    async def close(self) -> None:
        for publisher in self._publishers:
            await publisher.close()
