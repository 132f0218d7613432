"""Webhook notifications: a topic's notification message in, a POST of that JSON body to its URL out."""

from __future__ import annotations

import httpx

from trailkeeper.config import WebhookConfig
from trailkeeper.delivery.base import SinkError
from trailkeeper.delivery.sinks.awsapi import display_url

__all__ = ["WebhookPublisher", "topic_matches"]

# Statuses that say "try again later"; any other non-2xx answer is the receiver refusing the body.
_RETRY_STATUSES = frozenset({408, 425, 429})


def topic_matches(configured: str, topic_arn: str) -> bool:
    """A ``[[webhook]] topic`` names a topic by ARN or by bare name (the ARN's last part)."""
    return configured in (topic_arn, topic_arn.rsplit(":", 1)[-1])


class WebhookPublisher:
    """POSTs the message (``application/json``) to the webhook of one topic; 2xx means accepted."""

    def __init__(self, config: WebhookConfig, client: httpx.AsyncClient) -> None:
        self._config, self._client = config, client
        self._shown = display_url(config.url)  # the URL may carry a token: never log it whole

    def describe(self) -> str:
        return f"webhook({self._config.topic}->{self._shown})"

    def handles(self, topic_arn: str) -> bool:
        return topic_matches(self._config.topic, topic_arn)

    async def publish(self, topic_arn: str, message: str, *, account_id: str) -> None:
        headers = {"content-type": "application/json", "x-trailkeeper-topic-arn": topic_arn}
        try:
            response = await self._client.post(self._config.url, content=message.encode(), headers=headers)
        except httpx.TimeoutException as err:
            raise SinkError(f"webhook {self._shown} timed out ({type(err).__name__})") from err
        except httpx.HTTPError as err:
            detail = str(err).replace(self._config.url, self._shown)
            raise SinkError(f"webhook {self._shown} failed: {type(err).__name__}: {detail}") from err
        status = response.status_code
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in _RETRY_STATUSES
        raise SinkError(f"webhook {self._shown} answered HTTP {status}", retryable=retryable)

    async def close(self) -> None:
        """The HTTP client belongs to whoever built this publisher (wiring)."""
