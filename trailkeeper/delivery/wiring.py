"""The one place sinks are composed: Settings and the server's components in, the configured sinks out.

A sink exists when its far side is configured: ``[[endpoint]] service = "sns"`` or any
``[[webhook]]`` (SNS notifications), ``service = "logs"`` (CloudWatch Logs), ``service = "events"``
(EventBridge). Each sink gets its own HTTP client, so a slow endpoint exhausts only its own
connections; the runners (notify.py) add the per-sink concurrency limit and timeouts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from trailkeeper.config import EndpointConfig, Settings
from trailkeeper.control.model import Trail
from trailkeeper.control.store import TrailStore
from trailkeeper.delivery.base import Notice, Outbox, Sink
from trailkeeper.delivery.notify import RunnerLimits, SinkRunner
from trailkeeper.delivery.sinks import (
    AwsApi,
    CloudWatchLogsSink,
    EventBridgeSink,
    Publisher,
    SnsPublisher,
    SnsSink,
    WebhookPublisher,
    load_model,
)

if TYPE_CHECKING:
    from trailkeeper.services.registry import AppServices

__all__ = ["HTTP_TIMEOUT", "build_sinks", "start_runners", "stop_runners"]

log = logging.getLogger("trailkeeper.delivery.wiring")

# One request to a sink's far side: 10 s, then it counts as a (retryable) failure. A webhook
# slower than that is retried with backoff and holds nothing but its own trail's notices.
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _client(limits: RunnerLimits) -> httpx.AsyncClient:
    # The pool matches the runner's in-flight limit: the runner, not the pool, queues the work.
    pool = httpx.Limits(max_connections=limits.max_in_flight, max_keepalive_connections=limits.max_in_flight)
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT, limits=pool, follow_redirects=False)


def _endpoint(settings: Settings, service: str) -> EndpointConfig | None:
    return next((e for e in settings.endpoints if e.service == service), None)


def build_sinks(settings: Settings, app: AppServices, limits: RunnerLimits | None = None) -> list[Sink]:
    """The sinks the config asks for; empty when none is configured."""
    limits = limits or RunnerLimits()
    # httpx logs every request's full URL at INFO; a webhook URL may carry a token in its query.
    # Our own log lines show URLs through display_url instead. (Belongs with cli's logging setup.)
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
    sinks: list[Sink] = []
    sns = _endpoint(settings, "sns")
    if sns is not None or settings.webhooks:
        client = _client(limits)
        publishers: list[Publisher] = [WebhookPublisher(w, client) for w in settings.webhooks]
        if sns is not None:
            publishers.append(SnsPublisher(AwsApi(sns, client, load_model("sns"))))
        sinks.append(_Owning(SnsSink(publishers), client))
    if (logs := _endpoint(settings, "logs")) is not None:
        client = _client(limits)
        org = settings.organization.id if settings.organization else None
        api = AwsApi(logs, client, load_model("logs"))
        sinks.append(_Owning(CloudWatchLogsSink(api, app.journal, org), client))
    if (events := _endpoint(settings, "events")) is not None:
        client = _client(limits)
        api = AwsApi(events, client, load_model("events"))
        sinks.append(_Owning(EventBridgeSink(api, app.journal), client))
    return sinks


def start_runners(
    sinks: Sequence[Sink], outbox: Outbox, trails: TrailStore, limits: RunnerLimits | None = None
) -> list[SinkRunner]:
    """One started runner per sink; logs the whole pipeline, one line per sink."""
    runners = [SinkRunner(sink, outbox, trails, limits=limits) for sink in sinks]
    for runner in runners:
        runner.start()
        log.info("%s", runner.describe())
    return runners


async def stop_runners(runners: Sequence[SinkRunner], sinks: Sequence[Sink]) -> None:
    """Stop the runners (notices cut short stay in the outbox), then close the sinks' HTTP clients."""
    for runner in runners:
        await runner.stop()
    for sink in sinks:
        await sink.close()


class _Owning:
    """A sink plus the HTTP client it was built with, closed together."""

    def __init__(self, inner: Sink, client: httpx.AsyncClient) -> None:
        self.inner, self._client = inner, client
        self.name = inner.name

    def describe(self) -> str:
        return self.inner.describe()

    def wants(self, trail: Trail) -> bool:
        return self.inner.wants(trail)

    async def send(self, trail: Trail, notice: Notice) -> None:
        await self.inner.send(trail, notice)

    async def close(self) -> None:
        await self.inner.close()
        await self._client.aclose()
