"""The caller's address: the TCP peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from trailkeeper.capture.request import HttpRequest

__all__ = ["SourceAddress"]


class SourceAddress:
    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    def of(self, req: HttpRequest) -> str:
        """Walk X-Forwarded-For from the right past trusted proxies; the first other hop is the source."""
        if not self._trusted or not self._is_trusted(req.peer):
            return req.peer
        hops = [h.strip() for h in req.header("x-forwarded-for").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop if _is_ip(hop) else req.peer
        return hops[0] if hops and _is_ip(hops[0]) else req.peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
