"""Test helpers: requests signed by botocore's own signers, turned into the HttpRequest the gateway builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from botocore.auth import BaseSigner
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from trailkeeper.capture.identity.sessions import SessionService
from trailkeeper.capture.identity.sigv4 import AuthFailure, Verified, verify_request
from trailkeeper.capture.identity.store import IdentityStore
from trailkeeper.capture.request import HttpRequest
from trailkeeper.config import load_settings

__all__ = [
    "ROOT",
    "SESSIONS",
    "STORE",
    "USER",
    "build_request",
    "signed",
    "spelled",
    "to_http",
    "verify",
]

# The demo identities (AWS's documentation example keys).
USER = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
ROOT = Credentials("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
STORE = IdentityStore.from_settings(load_settings(None))
SESSIONS = SessionService(bytes(range(32)))


def build_request(
    method: str = "POST",
    url: str = "http://127.0.0.1:4566/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> AWSRequest:
    return AWSRequest(method=method, url=url, data=body, headers=headers or {})


def to_http(request: AWSRequest) -> HttpRequest:
    """What the gateway sees: the raw path and query as sent, lower-cased headers, the body bytes."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {name.lower(): str(value) for name, value in prepared.headers.items()}
    headers.setdefault("host", parts.netloc)  # the HTTP client adds it on the wire
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    assert isinstance(body, bytes), "the tests sign in-memory bodies only"
    return HttpRequest(prepared.method, parts.path, parts.query, headers, body, "10.0.0.1")


def signed(signer: BaseSigner, request: AWSRequest) -> HttpRequest:
    signer.add_auth(request)
    return to_http(request)


def verify(req: HttpRequest, *, skew: timedelta = timedelta(0), max_skew_seconds: int = 900) -> Verified:
    return verify_request(
        req, store=STORE, sessions=SESSIONS, now=datetime.now(UTC) + skew, max_skew_seconds=max_skew_seconds
    )


def spelled(failure: AuthFailure, protocol: str) -> tuple[str, int, str]:
    """(code, status, message) of a failure as a client of ``protocol`` sees it."""
    return failure.code_for(protocol), failure.status_for(protocol), failure.message_for(protocol)
