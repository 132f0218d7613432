"""A few read connections on a small thread pool: a read function in, its result out (off the event loop)."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from trailkeeper.errors import JournalUnavailable

__all__ = ["ReaderPool"]

_C = TypeVar("_C")
_T = TypeVar("_T")


class ReaderPool(Generic[_C]):
    """``size`` connections, each used by one thread at a time; closed connections are never reused."""

    def __init__(self, name: str, conns: list[_C], close: Callable[[_C], None]) -> None:
        self._name, self._close = name, close
        self._conns: queue.SimpleQueue[_C] = queue.SimpleQueue()
        for conn in conns:
            self._conns.put(conn)
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            len(conns), thread_name_prefix="journal-reader"
        )

    async def run(self, fn: Callable[[_C], _T]) -> _T:
        if self._executor is None:
            raise JournalUnavailable(f"journal {self._name} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._with_conn, fn)

    def _with_conn(self, fn: Callable[[_C], _T]) -> _T:
        conn = self._conns.get()
        try:
            return fn(conn)
        finally:
            self._conns.put(conn)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        while not self._conns.empty():
            self._close(self._conns.get())
