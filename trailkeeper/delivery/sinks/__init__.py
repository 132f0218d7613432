"""Delivery sinks: notices in; SNS messages, webhook POSTs, CloudWatch Logs and EventBridge events out."""

from trailkeeper.delivery.sinks.awsapi import AwsApi, AwsCallError, display_url, load_model
from trailkeeper.delivery.sinks.backoff import Backoff, Hold
from trailkeeper.delivery.sinks.cloudwatch_logs import CloudWatchLogsSink, RecordReader
from trailkeeper.delivery.sinks.eventbridge import EventBridgeSink
from trailkeeper.delivery.sinks.sns import Publisher, SnsPublisher, SnsSink, notification_messages
from trailkeeper.delivery.sinks.webhook import WebhookPublisher

__all__ = [
    "AwsApi",
    "AwsCallError",
    "Backoff",
    "CloudWatchLogsSink",
    "EventBridgeSink",
    "Hold",
    "Publisher",
    "RecordReader",
    "SnsPublisher",
    "SnsSink",
    "WebhookPublisher",
    "display_url",
    "load_model",
    "notification_messages",
]
