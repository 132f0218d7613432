"""The runner tests' doubles: trails kept in memory and a scripted sink (the runner's delegate)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from trailkeeper.control.model import Trail, TrailStatus
from trailkeeper.delivery.base import Notice, SinkError

__all__ = ["Clock", "MemoryTrails", "ScriptedSink", "fail", "until"]


class MemoryTrails:
    """The TrailStore contract in a dict (the control plane owns the SQLite store)."""

    def __init__(self, *trails: Trail) -> None:
        self.trails = {t.arn: t for t in trails}
        self.statuses: dict[str, TrailStatus] = {t.arn: TrailStatus() for t in trails}

    def describe(self) -> str:
        return "memory"

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, trail: Trail) -> None:
        self.trails[trail.arn] = trail
        self.statuses[trail.arn] = TrailStatus()

    async def replace(self, trail: Trail) -> None:
        self.trails[trail.arn] = trail

    async def delete(self, arn: str) -> bool:
        self.statuses.pop(arn, None)
        return self.trails.pop(arn, None) is not None

    async def get(self, arn: str) -> Trail | None:
        return self.trails.get(arn)

    async def trails_of(self, account_id: str) -> list[Trail]:
        return [t for t in self.trails.values() if t.account_id == account_id]

    async def all(self) -> list[Trail]:
        return list(self.trails.values())

    async def status(self, arn: str) -> TrailStatus:
        return self.statuses[arn]

    async def update_status(self, arn: str, **changes: Any) -> TrailStatus:
        self.statuses[arn] = dataclasses.replace(self.statuses[arn], **changes)
        return self.statuses[arn]


Behaviour = Callable[[Trail, Notice], Awaitable[None]]


class ScriptedSink:
    """Runs ``behaviour`` for each send and records what it was given; wants trails with a topic."""

    name = "sns"

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour
        self.sent: list[tuple[str, int]] = []  # (trail ARN, notice id), in completion order
        self.calls = 0
        self.concurrent = 0
        self.peak_concurrent = 0

    def describe(self) -> str:
        return "scripted"

    def wants(self, trail: Trail) -> bool:
        return trail.sns_topic_arn is not None

    async def send(self, trail: Trail, notice: Notice) -> None:
        self.calls += 1
        self.concurrent += 1
        self.peak_concurrent = max(self.peak_concurrent, self.concurrent)
        try:
            if self.behaviour is not None:
                await self.behaviour(trail, notice)
            self.sent.append((trail.arn, notice.id))
        finally:
            self.concurrent -= 1

    async def close(self) -> None: ...


def fail(message: str, *, retryable: bool = True) -> Behaviour:
    async def behaviour(trail: Trail, notice: Notice) -> None:
        raise SinkError(message, retryable=retryable)

    return behaviour


class Clock:
    """A settable wall clock (seconds), so hold expiry is tested without sleeping."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
