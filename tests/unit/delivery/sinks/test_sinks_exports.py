"""Sink modules export their public names in ruff's order; each sink is a Sink, each publisher a Publisher."""

from __future__ import annotations

import asyncio
import inspect
from types import ModuleType

import httpx
import pytest

from trailkeeper.config import EndpointConfig, WebhookConfig
from trailkeeper.delivery import notify, wiring
from trailkeeper.delivery.base import Sink
from trailkeeper.delivery.sinks import (
    AwsApi,
    CloudWatchLogsSink,
    EventBridgeSink,
    Publisher,
    SnsPublisher,
    SnsSink,
    WebhookPublisher,
    awsapi,
    backoff,
    batching,
    cloudwatch_logs,
    eventbridge,
    load_model,
    sns,
    webhook,
)
from trailkeeper.journal.sqlite import SqliteJournal

MODULES = [awsapi, backoff, batching, cloudwatch_logs, eventbridge, sns, webhook, notify, wiring]


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_exports_name_every_public_function_and_class(module: ModuleType) -> None:
    defined = {
        name
        for name, value in vars(module).items()
        if (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
        and not name.startswith("_")
    }
    assert module.__all__ == sorted(module.__all__, key=_isort_key)
    assert all(hasattr(module, name) for name in module.__all__)
    assert defined <= set(module.__all__)


def test_sinks_and_publishers_satisfy_their_protocols() -> None:
    """Checked by mypy (the annotated assignments) and at run time (the names the runner reads)."""
    client = httpx.AsyncClient()
    journal = SqliteJournal.__new__(SqliteJournal)  # never opened: only its type matters here
    api = AwsApi(EndpointConfig("logs", "http://127.0.0.1:9"), client, load_model("logs"))
    publishers: list[Publisher] = [
        SnsPublisher(api),
        WebhookPublisher(WebhookConfig("t", "http://h/"), client),
    ]
    sinks: list[Sink] = [SnsSink(publishers), CloudWatchLogsSink(api, journal), EventBridgeSink(api, journal)]
    assert [s.name for s in sinks] == ["sns", "cloudwatch-logs", "eventbridge"]
    assert all(s.describe() for s in sinks)
    asyncio.run(client.aclose())
