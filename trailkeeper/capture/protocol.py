"""The HTTP/1.1 protocol the server runs: uvicorn's httptools protocol, each answer sent in one write.

uvicorn writes a response's status line and headers (``http.response.start``) and its body
(``http.response.body``) with two ``transport.write`` calls. On a TCP_NODELAY socket each is a
segment of its own, so a keep-alive client is woken for the head and again for the body, and
the server makes two send syscalls: about 40 µs per call on loopback (bench/README.md). Here a
response's head is held until its body is written in the same step and both leave as one write.
A head whose body does not follow at once (HEAD answers, a streamed body) is flushed at the end
of the event-loop iteration, so nothing is ever held longer than that.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["GatewayHttpProtocol"]


class _OneWriteResponse:
    """The transport as one request/response cycle sees it: the response head waits for the body.

    Only the first write after the cycle has started its response is held (a ``100 Continue``
    interim answer is written before that, and goes out at once). Everything else is delegated.
    """

    __slots__ = ("_cycle", "_head", "_held", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._held = False  # the head was seen (held or already sent)

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif not self._held and self._cycle.response_started:
            self._held = True
            self._head = data
            asyncio.get_running_loop().call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        head, self._head = self._head, None
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatewayHttpProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not previous:  # a new request (not an upgrade)
            cycle.transport = _OneWriteResponse(self.transport, cycle)  # type: ignore[assignment]
