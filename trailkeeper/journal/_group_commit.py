"""Group commit: work items in from many tasks, one writer thread, one transaction per batch, results out.

Shared by the SQLite and PostgreSQL journals. The writer thread owns the only write connection
(inside a ``BatchStore``) and commits everything queued in ONE transaction, so throughput grows
with concurrency while a lone append costs one durable commit. A batch the store cannot write
fails as a whole with JournalUnavailable, and ``healthy`` stays False until a heartbeat write
(``BatchStore.probe``, retried every half second) succeeds. A store may defer work that no
caller waits for (the lookup keys): the writer calls ``catch_up`` once the queue has been empty
for IDLE_SECONDS, or between batches when ``backlog()`` reaches ``max_backlog``. The SQLite
store writes keys there itself; the PostgreSQL store's indexer thread writes them, reports a
backlog only past its bound, and its ``catch_up`` waits for the indexer (backpressure).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from trailkeeper.errors import JournalUnavailable

__all__ = [
    "IDLE_SECONDS",
    "PROBE_SECONDS",
    "BatchFailed",
    "BatchStore",
    "GroupCommitter",
    "ItemError",
    "Kind",
    "Outcome",
    "Work",
]

PROBE_SECONDS = 0.5
# Long enough that back-to-back appends (tens of microseconds apart) never pay for deferred
# work, short enough that a quiet journal is fully keyed almost at once.
IDLE_SECONDS = 0.002

Kind = Literal["append", "reserve", "release", "prune", "secret"]


@dataclass(slots=True)
class Work:
    kind: Kind
    arg: Any  # by kind: JournalEntry, event id, cutoff in ms, (secret name, value)
    future: asyncio.Future[object]
    size: int = 0
    total: int = 0  # prune: rows deleted by earlier chunks
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)


Outcome = tuple[Work, object, BaseException | None]


class ItemError(Exception):
    """One work item cannot be applied (a caller bug); its batch is redone without it."""

    def __init__(self, work: Work, error: BaseException) -> None:
        super().__init__(str(error))
        self.work, self.error = work, error


class BatchFailed(Exception):
    """The store cannot write (disk full, I/O error, connection lost): the whole batch fails closed."""


class BatchStore(Protocol):
    """What a backend gives the writer thread; every method runs on that thread only."""

    prune_chunk: int
    max_backlog: int  # deferred items that make the writer catch up between batches

    def start(self) -> None:
        """Connect, migrate and recover; whatever it raises makes ``open()`` fail."""
        ...

    def transaction(self, batch: Sequence[Work]) -> list[Outcome]:
        """Apply and commit ``batch`` in one transaction; raises ItemError or BatchFailed."""
        ...

    def probe(self) -> bool:
        """One heartbeat write: True once the store can commit again."""
        ...

    def backlog(self) -> int:
        """Deferred work items not done yet (0: none)."""
        ...

    def catch_up(self) -> None:
        """Do a chunk of the deferred work in its own transaction; raises BatchFailed."""
        ...

    def stop(self) -> None: ...


class GroupCommitter:
    """The writer thread and its queue (see the module docstring)."""

    def __init__(self, store: BatchStore, name: str, *, max_items: int, max_bytes: int) -> None:
        self._store, self._name = store, name
        self._max_items, self._max_bytes = max_items, max_bytes
        self._queue: queue.SimpleQueue[Work | None] = queue.SimpleQueue()  # None = stop
        self._thread: threading.Thread | None = None
        self.healthy = True  # False from a failed write until the heartbeat probe succeeds
        self.commits = 0

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def start(self) -> None:
        if self._thread is not None:
            return
        ready: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="journal-writer", daemon=True)
        self._thread.start()
        try:
            await ready
        except JournalUnavailable:
            self._thread = None  # open() may be tried again once the cause is fixed
            raise

    async def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)  # behind everything already queued: that still gets committed
            await asyncio.to_thread(self._thread.join)

    async def submit(self, kind: Kind, arg: object, size: int = 0) -> object:
        work = Work(kind, arg, asyncio.get_running_loop().create_future(), size)
        self._queue.put(work)
        return await work.future

    # -- writer thread ---------------------------------------------------------------------------

    def _run(self, ready: asyncio.Future[object]) -> None:
        try:
            self._store.start()
        except Exception as err:  # whatever stops the journal opening must reach open(), not die here
            failure = JournalUnavailable(f"cannot open journal {self._name}: {err}")
            ready.get_loop().call_soon_threadsafe(_resolve, ready, None, failure)
            return
        ready.get_loop().call_soon_threadsafe(_resolve, ready, None, None)
        try:
            self._serve()
        finally:
            self._store.stop()
            self.healthy = False
            while not self._queue.empty():  # queued after the stop (or a crash): nobody will commit it
                if (work := self._queue.get()) is not None:
                    _settle_all([(work, None, JournalUnavailable(f"journal {self._name} closed"))])

    def _serve(self) -> None:
        while True:
            try:  # while unwritable, wake up regularly to probe; with deferred work, when idle
                first = self._queue.get(timeout=self._wait())
            except queue.Empty:
                if self.healthy:
                    self._catch_up()
                else:
                    self.healthy = self._store.probe()
                continue
            batch, stop = self._drain(first)
            self._commit(batch)
            if self.healthy and self._store.backlog() >= self._store.max_backlog > 0:
                self._catch_up()  # bounds the deferred work even when the queue is never idle
            if stop:
                return

    def _wait(self) -> float | None:
        if not self.healthy:
            return PROBE_SECONDS
        return IDLE_SECONDS if self._store.backlog() > 0 else None

    def _catch_up(self) -> None:
        try:
            self._store.catch_up()
        except BatchFailed:
            self.healthy = False  # appends fail closed until the probe commits again

    def _drain(self, item: Work | None) -> tuple[list[Work], bool]:
        batch: list[Work] = []
        size = 0
        while item is not None:
            batch.append(item)
            size += item.size
            if len(batch) >= self._max_items or size >= self._max_bytes:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _commit(self, batch: list[Work]) -> None:
        while batch:
            try:
                outcomes = self._store.transaction(batch)
            except ItemError as bad:  # drop the bad item and redo its neighbours
                _settle_all([(bad.work, None, bad.error)])
                batch = [work for work in batch if work is not bad.work]
                continue
            except BatchFailed as err:  # the store cannot write: fail closed
                self.healthy = False
                message = f"journal {self._name} could not commit: {err}"
                _settle_all([(work, None, JournalUnavailable(message)) for work in batch])
                return
            self.commits += 1
            self.healthy = True
            _settle_all(self._continue_prunes(outcomes))
            return

    def _continue_prunes(self, outcomes: list[Outcome]) -> list[Outcome]:
        # A prune deletes one chunk per transaction, so appends never wait behind a long delete.
        settled: list[Outcome] = []
        for work, value, err in outcomes:
            if work.kind == "prune" and isinstance(value, int):
                work.total += value
                if value >= self._store.prune_chunk:
                    self._queue.put(work)
                    continue
                value = work.total
            settled.append((work, value, err))
        return settled


def _resolve(future: asyncio.Future[object], value: object, err: BaseException | None) -> None:
    if future.done():
        return  # the caller gave up waiting; the work itself is done all the same
    if err is None:
        future.set_result(value)
    else:
        future.set_exception(err)


def _settle_all(outcomes: Iterable[Outcome]) -> None:
    # One wake-up per event loop per batch, not one per future: that keeps group commit cheap.
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve_many, items)


def _resolve_many(outcomes: list[Outcome]) -> None:
    for work, value, err in outcomes:
        _resolve(work.future, value, err)
