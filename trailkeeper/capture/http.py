"""ASGI plumbing: read a bounded request into an HttpRequest, and write a WireResponse back."""

from __future__ import annotations

from typing import Any

from trailkeeper.capture.request import HttpRequest, TlsInfo
from trailkeeper.capture.wire.types import WireResponse

__all__ = ["BodyTooLarge", "read_request", "send_response"]

Scope = dict[str, Any]


class BodyTooLarge(Exception):
    """The body exceeds the configured limit; it was not read to the end."""


async def read_request(scope: Scope, receive: Any, max_body: int) -> HttpRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    client = scope.get("client") or ("", 0)
    return HttpRequest(
        method=scope["method"],
        path=raw_path.decode("latin-1").split("?", 1)[0],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=b"".join(chunks),
        peer=str(client[0]),
        scheme=scope.get("scheme", "http"),
        tls=_tls_info(scope, headers.get("host", "")),
    )


def _tls_info(scope: Scope, host: str) -> TlsInfo | None:
    details = (scope.get("extensions") or {}).get("tls")
    if not details:
        return None
    return TlsInfo(details["tls_version"], details["cipher_suite"], host)


async def send_response(send: Any, response: WireResponse) -> None:
    headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in response.headers.items()
        if k != "content-length"
    ]
    # An answer to HEAD declares the length of the body it leaves out (S3 HeadObject's Content-Length).
    declared = response.headers.get("content-length") if not response.body else None
    headers.append((b"content-length", (declared or str(len(response.body))).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
