"""The backend contract: an authenticated call in, the service's HTTP answer out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from trailkeeper.capture.catalog import ServiceEntry
from trailkeeper.capture.identity.sigv4 import Verified
from trailkeeper.capture.request import HttpRequest
from trailkeeper.capture.wire.types import WireResponse

__all__ = ["Backend", "BackendCall"]


@dataclass(frozen=True, slots=True)
class BackendCall:
    entry: ServiceEntry
    operation: str
    request: HttpRequest
    caller: Verified


class Backend(Protocol):
    def describe(self) -> str: ...

    async def invoke(self, call: BackendCall) -> WireResponse:
        """Execute the call. Service errors come back as non-2xx responses; AwsError for ours."""
        ...

    async def close(self) -> None: ...
