"""The HTTP request as the gateway received it: the one input every capture step reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

__all__ = ["HttpRequest", "TlsInfo"]


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What CloudTrail writes as ``tlsDetails`` when the call came over TLS."""

    tls_version: str  # "TLSv1.3"
    cipher_suite: str  # "TLS_AES_128_GCM_SHA256"
    client_provided_host_header: str


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One received request.

    ``path`` and ``query`` are raw (still percent-encoded) because SigV4 signs the bytes the
    client sent. ``headers`` has lower-cased names; repeated headers are joined with ",".
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    peer: str
    scheme: str = "http"
    tls: TlsInfo | None = None
    _query_pairs: list[tuple[str, str]] | None = field(default=None, compare=False, repr=False)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def query_pairs(self) -> list[tuple[str, str]]:
        """Decoded query parameters in order, blank values kept."""
        return parse_qsl(self.query, keep_blank_values=True)

    @property
    def host(self) -> str:
        return self.headers.get("host", "")
