"""The server's components in, the web console out: one ASGI app answering every ``/console`` path.

Opened by the server after its own startup (the console needs the journal, identity store and
session service) and closed before the journal. Routes, the session store, the CSRF key and
the templates are wired here and nowhere else.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import botocore.session
import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from trailkeeper.capture.sources import SourceAddress
from trailkeeper.console import signin_views, trails, views
from trailkeeper.console.calls import ConsoleCalls
from trailkeeper.console.sessions import Sessions, SessionStore
from trailkeeper.console.web import PREFIX, SECURITY_HEADERS, Console
from trailkeeper.services.registry import AppServices

__all__ = ["CSRF_KEY_NAME", "ConsoleApp", "console_path"]

log = logging.getLogger("trailkeeper.console")

CSRF_KEY_NAME = "console-csrf-key"  # shared by every node of one journal, like the STS key


def console_path(path: str) -> bool:
    """Whether the server routes ``path`` to the console rather than to the gateway."""
    return path == PREFIX or path.startswith(f"{PREFIX}/")


async def _home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/events", status_code=303)


def _routes() -> list[BaseRoute]:
    return [
        Route(PREFIX, _home),
        Route(f"{PREFIX}/", _home),
        Route(f"{PREFIX}/signin", signin_views.sign_in_form, methods=["GET"]),
        Route(f"{PREFIX}/signin", signin_views.sign_in_submit, methods=["POST"]),
        Route(f"{PREFIX}/signout", signin_views.sign_out, methods=["POST"]),
        Route(f"{PREFIX}/events", views.events, methods=["GET"]),
        Route(f"{PREFIX}/events/download.csv", views.download_csv, methods=["GET"]),
        Route(f"{PREFIX}/events/download.json", views.download_json, methods=["GET"]),
        Route(f"{PREFIX}/events/{{event_id}}", views.event_detail, methods=["GET"]),
        Route(f"{PREFIX}/activity", views.activity, methods=["GET"]),
        Route(f"{PREFIX}/trails", trails.trails_page, methods=["GET"]),
        Route(f"{PREFIX}/trails/logging", trails.set_logging, methods=["POST"]),
        Mount(f"{PREFIX}/static", StaticFiles(packages=[("trailkeeper.console", "static")]), name="static"),
    ]


class ConsoleApp:
    """ASGI app for ``/console``; every answer carries the console's security headers."""

    def __init__(self, services: AppServices, *, clock: Callable[[], float] = time.time) -> None:
        self._services = services
        self._clock = clock
        state = services.state
        self._sessions: Sessions = (
            state.console_sessions()
            if state is not None
            else SessionStore(services.settings.data_dir / "state.sqlite3")
        )
        self._app: Starlette | None = None

    def describe(self) -> str:
        return f"web console at {PREFIX} ({self._sessions.describe()})"

    async def open(self) -> None:
        await self._sessions.open()
        services = self._services
        csrf_key = await services.journal.get_or_create_secret(CSRF_KEY_NAME, os.urandom(32))
        templates = jinja2.Environment(
            loader=jinja2.PackageLoader("trailkeeper.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        regions = tuple(botocore.session.get_session().get_available_regions("cloudtrail"))
        templates.globals["regions_all"] = regions
        app = Starlette(routes=_routes())
        app.state.console = Console(
            services=services,
            sessions=self._sessions,
            calls=ConsoleCalls(services, clock=self._clock),
            templates=templates,
            csrf_key=csrf_key,
            regions=regions,
            sources=SourceAddress(services.settings.trusted_proxies),
            clock=self._clock,
        )
        self._app = app

    async def close(self) -> None:
        await self._sessions.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert self._app is not None, "ConsoleApp.open() was not awaited"

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in names
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self._app(scope, receive, send_with_headers)
        except Exception:
            # Starlette has already answered 500; the error must not reach the gateway's handler,
            # which would try to answer a second time.
            log.exception("unhandled error in the console")
