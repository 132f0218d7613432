"""Sign-in and sign-out requests in, a session cookie (or its end) and the ConsoleLogin records out.

A sign-in is durable in the journal before the browser gets its cookie; if the journal cannot
write, nobody signs in. A sign-out always ends the session (keeping a session alive because the
journal is down would be the worse failure) and is recorded when the journal can write.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from trailkeeper.console.auth import Credentials, Proven, Refused, check_credentials, console_principal
from trailkeeper.console.sessions import SESSION_TTL_SECONDS, ConsoleSession
from trailkeeper.console.signin import SignInEvent, sign_in_entry, sign_out_entry, unknown_user
from trailkeeper.console.web import (
    PREFIX,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    Console,
    FormTooLarge,
    client_of,
    console_of,
    csrf_token,
    read_form,
    render,
    set_cookie,
    signed_in,
    to_signin,
    valid_csrf,
)
from trailkeeper.errors import JournalUnavailable

__all__ = ["sign_in_form", "sign_in_submit", "sign_out"]

log = logging.getLogger("trailkeeper.console")

_DEFAULT_REGION = "us-east-1"
_SIGNIN_COOKIE_SECONDS = 3600


def _safe_next(raw: str) -> str:
    """Only a path inside the console: never another site (open redirect) nor the sign-in page."""
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not raw.startswith(f"{PREFIX}/") or raw.startswith("//"):
        return f"{PREFIX}/events"
    return f"{PREFIX}/events" if parts.path.startswith(f"{PREFIX}/signin") else raw


def _form_page(
    request: Request, *, status: int = 200, error: str = "", values: dict[str, str] | None = None
) -> Response:
    console = console_of(request)
    given = request.cookies.get(SIGNIN_COOKIE, "")
    binding = given if 16 <= len(given) <= 64 else secrets.token_urlsafe(24)
    values = values or {}
    response = render(
        request,
        "signin.html",
        status=status,
        csrf=csrf_token(console.csrf_key, "signin", binding),
        regions=console.regions,
        region=values.get("region", _DEFAULT_REGION),
        access_key_id=values.get("access_key_id", ""),
        account=values.get("account", ""),
        next=_safe_next(request.query_params.get("next", values.get("next", ""))),
        error=error,
    )
    set_cookie(request, response, SIGNIN_COOKIE, binding, _SIGNIN_COOKIE_SECONDS)
    return response


async def sign_in_form(request: Request) -> Response:
    if await signed_in(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next", "")), status_code=303)
    return _form_page(request)


def _event(request: Request, console: Console, region: str, next_path: str) -> SignInEvent:
    source_ip, user_agent = client_of(request)
    login_to = f"{request.url.scheme}://{request.url.netloc}{next_path}"
    now = datetime.fromtimestamp(console.clock(), UTC)
    return SignInEvent(now, region, source_ip, user_agent, str(uuid.uuid4()), login_to)


async def sign_in_submit(request: Request) -> Response:
    console = console_of(request)
    try:
        form = await read_form(request)
    except FormTooLarge:
        return render(request, "error.html", status=413, title="Request too large", message="")
    if not valid_csrf(
        console.csrf_key, "signin", request.cookies.get(SIGNIN_COOKIE, ""), form.get("csrf", "")
    ):
        return render(request, "error.html", status=403, title="Forbidden", message=_CSRF_MESSAGE)
    region = form.get("region", "")
    region = region if region in console.regions else _DEFAULT_REGION
    next_path = _safe_next(form.get("next", ""))
    creds = Credentials(
        form.get("access_key_id", "").strip(),
        form.get("secret_access_key", ""),
        form.get("session_token", "").strip(),
        form.get("account", "").strip(),
    )
    event = _event(request, console, region, next_path)
    verdict = check_credentials(
        creds,
        identities=console.services.identities,
        sessions=console.services.sessions,
        accounts=console.services.settings.accounts,
        now=event.time,
    )
    keep = {
        "region": region,
        "access_key_id": creds.access_key_id,
        "account": creds.account,
        "next": next_path,
    }
    if isinstance(verdict, Refused):
        await _record_failure(console, verdict, event, creds)
        return _form_page(request, status=401, error=_FAILED_MESSAGE, values=keep)
    return await _start_session(request, console, verdict, event, next_path, keep)


async def _record_failure(console: Console, verdict: Refused, event: SignInEvent, creds: Credentials) -> None:
    if verdict.account is None:
        # AWS records a failure only in an account it can name; this one names none.
        log.info("console sign-in failed for unknown access key %s (not recorded)", creds.access_key_id[:32])
        return
    known = verdict.principal
    who = (
        known if known is not None and known.account_id == verdict.account else unknown_user(verdict.account)
    )
    try:
        await console.services.journal.append(sign_in_entry(who, event, success=False))
    except JournalUnavailable:
        log.error("could not record a failed console sign-in in %s", verdict.account)


async def _start_session(
    request: Request,
    console: Console,
    verdict: Proven,
    event: SignInEvent,
    next_path: str,
    keep: dict[str, str],
) -> Response:
    try:
        await console.services.journal.append(sign_in_entry(verdict.principal, event, success=True))
    except JournalUnavailable:
        log.error("refused a console sign-in: the journal cannot record it")
        return _form_page(request, status=503, error=_JOURNAL_DOWN, values=keep)
    principal = console_principal(verdict.principal, now=event.time, ttl_seconds=SESSION_TTL_SECONDS)
    assert principal.session is not None
    created_ms = int(event.time.timestamp() * 1000)
    expires_ms = int(principal.session.expiration.timestamp() * 1000)
    if previous := request.cookies.get(SESSION_COOKIE, ""):
        await console.sessions.delete(previous)  # signing in again ends the browser's earlier session
    session = ConsoleSession(principal, event.region, created_ms, expires_ms)
    session_id = await console.sessions.create(session)
    response = RedirectResponse(next_path, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, session_id, max(1, (expires_ms - created_ms) // 1000))
    response.delete_cookie(SIGNIN_COOKIE, path=PREFIX)
    return response


async def sign_out(request: Request) -> Response:
    console = console_of(request)
    signed = await signed_in(request)
    if signed is None:
        return to_signin(request)
    try:
        form = await read_form(request)
    except FormTooLarge:
        return render(request, "error.html", status=413, title="Request too large", message="")
    if not valid_csrf(console.csrf_key, "session", signed.session_id, form.get("csrf", "")):
        return render(request, "error.html", status=403, title="Forbidden", message=_CSRF_MESSAGE)
    event = _event(request, console, signed.session.region, f"{PREFIX}/signin")
    try:
        await console.services.journal.append(sign_out_entry(signed.session.principal, event))
    except JournalUnavailable:
        log.error("could not record a console sign-out; the session is ended anyway")
    await console.sessions.delete(signed.session_id)
    response = RedirectResponse(f"{PREFIX}/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


_FAILED_MESSAGE = (
    "Sign-in failed: the access key ID, secret access key, session token or account is not valid."
)
_JOURNAL_DOWN = "The audit journal cannot record your sign-in right now, so it was refused. Try again later."
_CSRF_MESSAGE = (
    "The form was out of date or not sent by this console. Go back, reload the page and try again."
)
