"""The table of operations trailkeeper serves itself, keyed by (botocore service name, operation).

A handler receives the verified call's environment and the parsed request parameters (typed
values keyed by the input shape's member names) and returns the output (keyed by the output
shape's member names), or raises AwsError. Handler modules register themselves on import;
``load_handlers`` imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trailkeeper.capture.catalog import Catalog
    from trailkeeper.capture.identity.principal import Principal
    from trailkeeper.capture.identity.sessions import SessionService
    from trailkeeper.capture.identity.store import IdentityStore
    from trailkeeper.config import Settings
    from trailkeeper.control.store import TrailStore
    from trailkeeper.journal.base import Journal
    from trailkeeper.services.state import StateBackend
    from trailkeeper.storage.base import BucketRegistry

__all__ = ["AppServices", "CallEnv", "Handler", "handler_for", "load_handlers", "register"]

# Modules that register handlers when imported.
HANDLER_MODULES = (
    "trailkeeper.capture.identity.sts",
    "trailkeeper.history.lookup",
    "trailkeeper.control.handlers",
    "trailkeeper.storage.s3api",
    "trailkeeper.integrity.public_keys",
)


@dataclass(slots=True)
class AppServices:
    """The long-lived components a handler may use, built once by the server."""

    settings: Settings
    catalog: Catalog
    journal: Journal
    identities: IdentityStore
    sessions: SessionService
    # Filled in by the server once the trails work is wired (None only while it is being built).
    trails: TrailStore | None = None
    buckets: BucketRegistry | None = None
    # Where the trail store, delivery state and console sessions live (None: SQLite in data_dir).
    state: StateBackend | None = None


@dataclass(frozen=True, slots=True)
class CallEnv:
    principal: Principal
    region: str
    request_id: str
    now: datetime  # UTC, aware
    source_ip: str
    app: AppServices


Handler = Callable[[CallEnv, dict[str, Any]], Awaitable[dict[str, Any]]]

_HANDLERS: dict[tuple[str, str], Handler] = {}


def register(service: str, operation: str) -> Callable[[Handler], Handler]:
    def add(fn: Handler) -> Handler:
        key = (service, operation)
        if key in _HANDLERS:
            raise RuntimeError(f"two handlers for {service}.{operation}")
        _HANDLERS[key] = fn
        return fn

    return add


def handler_for(service: str, operation: str) -> Handler | None:
    return _HANDLERS.get((service, operation))


def load_handlers() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)
