"""Request plumbing shared by the console's views: a Starlette request in, the signed-in session,
CSRF checks, bounded forms, rendered pages and their security headers out."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from trailkeeper.capture.request import HttpRequest
from trailkeeper.capture.sources import SourceAddress
from trailkeeper.console.calls import Caller, ConsoleCalls
from trailkeeper.console.sessions import ConsoleSession, Sessions
from trailkeeper.services.registry import AppServices

__all__ = [
    "PREFIX",
    "SECURITY_HEADERS",
    "SESSION_COOKIE",
    "SIGNIN_COOKIE",
    "Console",
    "FormTooLarge",
    "Signed",
    "caller",
    "client_of",
    "console_of",
    "csrf_token",
    "read_form",
    "render",
    "secure_cookies",
    "set_cookie",
    "signed_in",
    "to_signin",
    "valid_csrf",
]

PREFIX = "/console"
SESSION_COOKIE = "tk_console_session"
SIGNIN_COOKIE = "tk_console_signin"  # binds the sign-in form's CSRF token before a session exists
_MAX_FORM_BYTES = 64 * 1024  # a session token is ~1 KB; nothing the console posts comes close

# Pages are self-contained: no inline script or style, nothing from another origin.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Console:
    """The long-lived parts every view uses (one per server)."""

    services: AppServices
    sessions: Sessions
    calls: ConsoleCalls
    templates: jinja2.Environment
    csrf_key: bytes
    regions: tuple[str, ...]
    sources: SourceAddress
    clock: Callable[[], float]

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


@dataclass(frozen=True, slots=True)
class Signed:
    """A request's live session: its cookie id, the session, and the CSRF token bound to it."""

    session_id: str
    session: ConsoleSession
    csrf: str


class FormTooLarge(Exception):
    """A POST body over the console's limit."""


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def csrf_token(key: bytes, purpose: str, bound_to: str) -> str:
    mac = hmac.new(key, f"{purpose}\x00{bound_to}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def valid_csrf(key: bytes, purpose: str, bound_to: str, given: str) -> bool:
    return bool(bound_to) and hmac.compare_digest(csrf_token(key, purpose, bound_to), given)


async def signed_in(request: Request) -> Signed | None:
    """The live session named by the request's cookie; None if absent, forged, expired or ended."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if not session_id or len(session_id) > 128:
        return None
    console = console_of(request)
    session = await console.sessions.get(session_id, console.now_ms())
    if session is None:
        return None
    return Signed(session_id, session, csrf_token(console.csrf_key, "session", session_id))


def to_signin(request: Request) -> RedirectResponse:
    """303 to the sign-in page, remembering where the user was going."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"{PREFIX}/signin?next={quote(target, safe='')}", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, read no further than the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_FORM_BYTES:
        raise FormTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise FormTooLarge
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def client_of(request: Request) -> tuple[str, str]:
    """(source IP, user agent) of the browser, X-Forwarded-For believed from trusted proxies only."""
    console = console_of(request)
    client = request.client
    raw = HttpRequest(
        method=request.method,
        path=request.url.path,
        query="",
        headers={k.lower(): v for k, v in request.headers.items()},
        body=b"",
        peer=client.host if client else "",
        scheme=request.url.scheme,
    )
    return console.sources.of(raw), request.headers.get("user-agent", "")


def caller(request: Request, session: ConsoleSession, region: str) -> Caller:
    """The console session as the caller of an API call made for this request."""
    source_ip, user_agent = client_of(request)
    return Caller(session.principal, region, source_ip, user_agent)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    console = console_of(request)
    page = console.templates.get_template(template).render(prefix=PREFIX, **context)
    return HTMLResponse(page, status_code=status)


def secure_cookies(request: Request) -> bool:
    """Cookies get the Secure flag when the console is served over https."""
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )
