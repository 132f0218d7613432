"""TLS details for records: an HTTP protocol that exposes the negotiated TLS version and cipher to the app.

uvicorn does not put the TLS session in the ASGI scope, so this subclass of the server's httptools
protocol copies it into ``scope["extensions"]["tls"]`` for each request on a TLS connection.
"""

from __future__ import annotations

from typing import Any

from trailkeeper.capture.protocol import GatewayHttpProtocol

__all__ = ["TlsDetailsProtocol", "tls_extension"]


def tls_extension(transport: Any) -> dict[str, str] | None:
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    # Python reports TLS 1.3 suites by their IANA names (TLS_AES_128_GCM_SHA256) and TLS 1.2 ones by
    # OpenSSL's (ECDHE-RSA-AES128-GCM-SHA256): the same spellings CloudTrail's tlsDetails use.
    return {"tls_version": str(ssl_object.version()), "cipher_suite": str(cipher[0]) if cipher else ""}


class TlsDetailsProtocol(GatewayHttpProtocol):
    def on_message_begin(self) -> None:
        super().on_message_begin()
        details = tls_extension(self.transport)
        if details is not None:
            scope: dict[str, Any] = self.scope  # type: ignore[assignment]
            scope["extensions"] = {"tls": details}
