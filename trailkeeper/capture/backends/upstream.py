"""Upstream backend: forward the call to an AWS-compatible endpoint, re-signed for that endpoint.

The caller's signature covered our host name, so the request is signed again (botocore's
SigV4 signer) with the upstream's configured credentials, or with the caller's own key when
none are configured (useful when the upstream shares the identity store).
"""

from __future__ import annotations

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from trailkeeper.capture.backends.base import BackendCall
from trailkeeper.capture.wire.types import WireResponse
from trailkeeper.config import UpstreamConfig
from trailkeeper.errors import AwsError

__all__ = ["UpstreamBackend"]

# Hop-by-hop and signature headers are not forwarded; the new signature replaces them.
_NOT_FORWARDED = frozenset(
    {
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "x-forwarded-for",
    }
)


class UpstreamBackend:
    def __init__(self, upstream: UpstreamConfig, *, timeout: float = 60.0) -> None:
        self._upstream = upstream
        self._base = upstream.url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout)

    def describe(self) -> str:
        return f"upstream({self._upstream.service}={self._base})"

    async def close(self) -> None:
        await self._client.aclose()

    def _credentials(self, call: BackendCall) -> Credentials:
        if self._upstream.access_key_id and self._upstream.secret_access_key:
            return Credentials(self._upstream.access_key_id, self._upstream.secret_access_key)
        return Credentials(call.caller.principal.access_key_id, call.caller.secret_access_key)

    async def invoke(self, call: BackendCall) -> WireResponse:
        req = call.request
        url = f"{self._base}{req.path}" + (f"?{req.query}" if req.query else "")
        headers = {k: v for k, v in req.headers.items() if k not in _NOT_FORWARDED}
        signed = AWSRequest(method=req.method, url=url, headers=headers, data=req.body)
        SigV4Auth(self._credentials(call), call.entry.signing_name, call.caller.scope.region).add_auth(signed)
        try:
            resp = await self._client.request(
                req.method, url, headers=dict(signed.headers.items()), content=req.body
            )
        except httpx.HTTPError as exc:
            raise AwsError(
                "ServiceUnavailableException",
                f"The upstream {call.entry.name} endpoint {self._base} did not answer "
                f"({type(exc).__name__}).",
                503,
                codes={"query": "ServiceUnavailable"},
                sender_fault=False,
            ) from None
        return WireResponse(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)
