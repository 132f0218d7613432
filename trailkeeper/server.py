"""The server: builds every component from Settings and exposes them as one ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

import orjson

from trailkeeper.capture.backends import Backend, EmbeddedBackend, UpstreamBackend
from trailkeeper.capture.catalog import BACKEND_SERVICES, load_catalog
from trailkeeper.capture.gateway import Gateway
from trailkeeper.capture.http import BodyTooLarge, read_request, send_response
from trailkeeper.capture.identity.sessions import SessionService
from trailkeeper.capture.identity.store import IdentityStore
from trailkeeper.capture.wire import render_error
from trailkeeper.capture.wire.types import WireResponse
from trailkeeper.config import Settings
from trailkeeper.console.app import ConsoleApp, console_path
from trailkeeper.delivery.base import Sink
from trailkeeper.delivery.notify import SinkRunner
from trailkeeper.delivery.service import DeliveryService, start_delivery
from trailkeeper.delivery.wiring import build_sinks, start_runners, stop_runners
from trailkeeper.errors import AwsError, internal_failure
from trailkeeper.history.retention import run_retention
from trailkeeper.integrity.writer import DigestService, start_digests
from trailkeeper.journal import open_journal
from trailkeeper.services.registry import AppServices, load_handlers
from trailkeeper.services.state import StateBackend, state_backend
from trailkeeper.storage.registry import BucketRegistry
from trailkeeper.storage.retention import run_local_retention

__all__ = ["TrailkeeperApp", "build_app"]

log = logging.getLogger("trailkeeper.server")

HEALTH_PATH = "/_trailkeeper/health"


def _too_large(limit: int) -> AwsError:
    return AwsError(
        "RequestEntityTooLargeException",
        f"Request body must be at most {limit} bytes.",
        413,
        codes={"query": "RequestEntityTooLarge", "rest-xml": "EntityTooLarge"},
    )


class TrailkeeperApp:
    """ASGI entry point. Components are opened in the lifespan startup and closed at shutdown."""

    def __init__(self, settings: Settings, *, gateway: bool = True, background: bool = True) -> None:
        """``gateway``: answer HTTP (AWS APIs, console); ``background``: delivery, digests, sinks, retention.

        ``serve`` runs both; ``serve --no-delivery`` only the gateway and ``deliver`` only the
        background work (several of each can share one PostgreSQL journal).
        """
        self.settings = settings
        self.roles = (gateway, background)
        self.services: AppServices | None = None
        self.gateway: Gateway | None = None
        self._backends: dict[str, Backend] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._delivery: DeliveryService | None = None
        self._digests: DigestService | None = None
        self._sinks: list[Sink] = []
        self._runners: list[SinkRunner] = []
        self._state: StateBackend | None = None
        self.console: ConsoleApp | None = None

    async def startup(self) -> None:
        settings = self.settings
        gateway, background = self.roles
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        load_handlers()
        journal = open_journal(settings)
        await journal.open()
        # In the journal, so every node sharing it verifies the temporary credentials any node issued.
        session_key = await journal.get_or_create_secret("sts-session-key", os.urandom(32))
        self._state = state = state_backend(settings)
        await state.open()
        trails = state.trail_store()
        await trails.open()
        buckets = BucketRegistry.from_settings(settings)
        self.services = AppServices(
            settings=settings,
            catalog=load_catalog(),
            journal=journal,
            identities=IdentityStore.from_settings(settings),
            sessions=SessionService(session_key),
            trails=trails,
            buckets=buckets,
            state=state,
        )
        log.info("control-plane state: %s", state.describe())
        log.info("buckets %s", buckets.describe())
        if gateway:
            upstreams = {u.service: u for u in settings.upstreams}
            embedded = EmbeddedBackend()
            for service in BACKEND_SERVICES:
                self._backends[service] = (
                    UpstreamBackend(upstreams[service]) if service in upstreams else embedded
                )
            self.gateway = Gateway(self.services, self._backends)
            log.info(
                "journal %s; backends %s",
                journal.describe(),
                {k: v.describe() for k, v in self._backends.items()},
            )
        if background:
            await self._start_background(self.services, buckets)
        else:
            log.info("delivery, digests, sinks and retention are off on this node (--no-delivery)")
        if gateway:
            self.console = ConsoleApp(self.services)
            await self.console.open()

    async def _start_background(self, services: AppServices, buckets: BucketRegistry) -> None:
        settings, journal = self.settings, services.journal
        self._tasks.append(asyncio.create_task(run_retention(journal, days=settings.retention_days)))
        if (bucket_days := settings.delivery.local_retention_days) is not None:
            self._tasks.append(asyncio.create_task(run_local_retention(buckets, days=bucket_days)))
        # After the trail store and buckets open. The sinks' outbox is the delivery state.
        self._sinks = build_sinks(settings, services)
        self._delivery = await start_delivery(services, self._sinks)
        if self._delivery is not None and services.trails is not None:
            self._runners = start_runners(self._sinks, self._delivery.state, services.trails)
        self._digests = await start_digests(services, self._delivery)  # reads the delivered files

    async def shutdown(self) -> None:
        if self._digests is not None:  # before delivery: it reads the delivery state
            await self._digests.stop()
        await stop_runners(self._runners, self._sinks)  # before the outbox (delivery state) closes
        if self._delivery is not None:  # first: it reads the journal, trails and buckets closed below
            await self._delivery.stop()
        if self.console is not None:
            await self.console.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for backend in {id(b): b for b in self._backends.values()}.values():
            await backend.close()
        if self.services is not None:
            if self.services.trails is not None:
                await self.services.trails.close()
            if self.services.buckets is not None:
                await self.services.buckets.close()
            await self.services.journal.close()
        if self._state is not None:
            await self._state.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self.console is not None and console_path(scope["path"]):
            await self.console(scope, receive, send)  # the web console answers for itself
            return
        try:
            response = await self._http(scope, receive)
        except Exception:
            # Last line of defence: an AWS-style 500, never a dropped connection or a hang.
            log.exception("unhandled error")
            response = render_error("json", internal_failure(), "-")
        await send_response(send, response)

    async def _http(self, scope: dict[str, Any], receive: Any) -> WireResponse:
        if scope["path"] == HEALTH_PATH:
            body = orjson.dumps(
                {"status": "ok", "journalWritable": self.services and self.services.journal.writable()}
            )
            return WireResponse(200, {"content-type": "application/json"}, body)
        assert self.gateway is not None
        try:
            req = await read_request(scope, receive, self.settings.max_body_bytes)
        except BodyTooLarge:
            return render_error("json", _too_large(self.settings.max_body_bytes), "-")
        return await self.gateway.handle(req)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_app(settings: Settings, *, background: bool = True) -> TrailkeeperApp:
    return TrailkeeperApp(settings, background=background)
