"""Values that cross the wire layer: a response on the wire and the outcome parsed from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallError", "Outcome", "WireResponse"]


@dataclass(slots=True)
class WireResponse:
    """An HTTP response as bytes: what a backend returned or what we answer."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class CallError:
    """A failed call as CloudTrail records it (``errorCode``/``errorMessage``)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The parsed result of an executed call: ``output`` on success, ``error`` on failure.

    ``output`` holds typed values as botocore's parsers produce them (datetime, bytes, ...),
    keyed by the output shape's member names.
    """

    output: dict[str, Any] | None = None
    error: CallError | None = None
