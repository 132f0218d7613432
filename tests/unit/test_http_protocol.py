"""The server's HTTP protocol: each answer leaves in one write, and HTTP/1.1 behaves as uvicorn's own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from trailkeeper.capture.protocol import GatewayHttpProtocol

Exchange = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bytes]]


class _Recorder:
    """The real transport, with every write noted."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = b"echo:" + body if body else b"hello"
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else answer})


def _exchange(talk: Exchange) -> tuple[bytes, list[bytes]]:
    """Run ``talk`` against a loopback server speaking GatewayHttpProtocol; (what it read, writes)."""
    writes: list[bytes] = []

    async def run() -> bytes:
        config = Config(app=_app, lifespan="off", proxy_headers=False, log_level="warning")
        config.load()
        state = ServerState()

        class Recording(GatewayHttpProtocol):
            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(_Recorder(transport, writes))  # type: ignore[arg-type]

        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: Recording(config=config, server_state=state, app_state={}), "127.0.0.1", 0
        )
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(talk(reader, writer), 5)
        finally:
            writer.close()
            for connection in list(state.connections):
                connection.shutdown()
            server.close()
            await server.wait_closed()

    return asyncio.run(run()), writes


async def _response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


def test_response_head_and_body_leave_in_one_write() -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        return await _response(reader)

    received, writes = _exchange(talk)
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b"\r\n\r\nhello")
    assert writes == [received]


def test_head_answer_without_body_is_not_held_back() -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        writer.write(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        return await reader.readuntil(b"\r\n\r\n")

    received, writes = _exchange(talk)
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 5" in received
    assert writes == [received]


def test_expect_continue_interim_answer_goes_out_before_the_body_is_sent() -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        interim = await reader.readuntil(b"\r\n\r\n")  # would hang here if it were held
        writer.write(b"abc")
        return interim + await _response(reader)

    received, writes = _exchange(talk)
    assert received.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert received.endswith(b"echo:abc")
    assert len(writes) == 2


def test_pipelined_requests_answered_in_order() -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        writer.write(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1"
            b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n3"
        )
        first = await _response(reader)
        second = await reader.readuntil(b"\r\n\r\n")
        return first + second + await _response(reader)

    received, _ = _exchange(talk)
    assert received.count(b"HTTP/1.1 200 OK") == 3
    assert received.index(b"echo:1") < received.index(b"echo:3")
    assert received.endswith(b"echo:3")
