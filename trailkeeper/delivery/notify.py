"""The sink runner: a sink, the outbox and trail store in; notices sent or retried, trail status out.

One runner per sink. It reads a bounded page of due notices, sends each in its own task (at most
``max_in_flight`` at once, one per trail, each under a hard timeout), then marks it done or
schedules its retry. A slow or dead destination therefore holds only its own trail: other
trails' notices keep flowing, and memory holds at most ``page + max_in_flight`` notices however
long the outbox grows.

Backoff is per destination (``Hold``): after a failure, the trail's other notices wait behind the
hold without being sent, and one probe goes out when it expires. A non-retryable failure (the
topic does not exist, access denied) holds for the backoff cap and is probed again after it, or
at once when the trail's destination changes; its notices stay in the outbox with the error.
Nothing is dropped, except notices of a trail that was deleted or no longer uses the sink —
those are logged and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from trailkeeper.control.model import Trail
from trailkeeper.control.store import TrailStore
from trailkeeper.delivery.base import Notice, Outbox, Sink, SinkError
from trailkeeper.delivery.sinks.backoff import Backoff, Hold

__all__ = ["RunnerLimits", "RunnerStats", "SinkRunner", "StatusFields", "destination_of"]

log = logging.getLogger("trailkeeper.delivery.notify")

_WAITING_MAX = 1_000  # notice ids remembered per held trail, to release them early


@dataclass(frozen=True, slots=True)
class StatusFields:
    """The TrailStatus fields one sink reports in (None: GetTrailStatus has no field for it)."""

    time: str | None = None
    error: str | None = None
    attempt: str | None = None
    succeeded: str | None = None


# GetTrailStatus fields per sink name. EventBridge has none on AWS: its failures are logged only.
_STATUS = {
    "sns": StatusFields(
        "latest_notification_ms",
        "latest_notification_error",
        "latest_notification_attempt_ms",
        "latest_notification_attempt_succeeded_ms",
    ),
    "cloudwatch-logs": StatusFields(
        "latest_cloudwatch_logs_delivery_ms", "latest_cloudwatch_logs_delivery_error"
    ),
}


def destination_of(trail: Trail) -> Hashable:
    """What a trail sends to: a hold is lifted when this changes (UpdateTrail to another topic…)."""
    return (trail.sns_topic_arn, trail.cloudwatch_logs_log_group_arn, trail.account_id)


@dataclass(frozen=True, slots=True)
class RunnerLimits:
    max_in_flight: int = 8  # concurrent sends of one sink (each for a different trail)
    page: int = 16  # notices read per poll: with max_in_flight, the bound on notices in memory
    poll_seconds: float = 0.5
    send_timeout_seconds: float = 30.0  # hard bound on one notice, whatever the sink's own timeouts
    slow_send_seconds: float = 1.0  # a send this old no longer keeps its trail's queue in order
    recheck_seconds: float = 2.0  # how often held trails are checked for a new destination
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(slots=True)
class RunnerStats:
    sent: int = 0
    failed: int = 0
    parked: int = 0  # non-retryable failures (stay in the outbox)
    deferred: int = 0  # notices put back behind a hold without being sent
    discarded: int = 0  # notices of deleted trails or trails that stopped using the sink
    peak_in_memory: int = 0


class SinkRunner:
    def __init__(
        self,
        sink: Sink,
        outbox: Outbox,
        trails: TrailStore,
        *,
        limits: RunnerLimits | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.sink, self._outbox, self._trails = sink, outbox, trails
        self.limits = limits or RunnerLimits()
        self._clock, self._rand = clock, rand
        self._fields = _STATUS.get(sink.name, StatusFields())
        self._holds: dict[str, Hold] = {}
        self._waiting: dict[str, list[int]] = {}  # trail ARN -> notices put back behind its hold
        self._rechecked = 0.0
        self._in_flight: dict[asyncio.Task[None], Notice] = {}
        self._since: dict[str, float] = {}  # trail ARN -> when its send in flight started (monotonic)
        self._task: asyncio.Task[None] | None = None
        self.stats = RunnerStats()

    def describe(self) -> str:
        return f"runner<{self.sink.describe()}, {self.limits.max_in_flight} in flight>"

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"trailkeeper-sink-{self.sink.name}")

    async def stop(self) -> None:
        """Stop sending; notices cut short stay in the outbox and go out after the next start."""
        tasks = [t for t in (self._task, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        self._in_flight.clear()
        self._since.clear()

    async def run(self) -> None:
        while True:
            try:
                started = await self.step()
            except Exception:  # the worker loop: an outbox or store failure is logged, then retried
                log.exception("sink %s: polling the outbox failed", self.sink.name)
                started = 0
            await self._wait(again=started > 0)

    async def step(self) -> int:
        """Start sends for the due notices there is room for; return how many started."""
        room = self.limits.max_in_flight - len(self._in_flight)
        if room <= 0:
            return 0
        now = self._now_ms()
        await self._recheck_holds(now)
        page = await self._outbox.due(self.sink.name, now, self.limits.page)
        self._note_memory(len(page))
        busy = {n.trail_arn for n in self._in_flight.values()}
        sending = {n.id for n in self._in_flight.values()}
        behind: list[Notice] = []  # due, but their trail already has a notice in flight
        started = 0
        for notice in page:
            if started >= room or notice.id in sending:
                continue
            if notice.trail_arn in busy:
                behind.append(notice)
                continue
            trail = await self._trails.get(notice.trail_arn)
            if not await self._ready(notice, trail, now) or trail is None:
                continue
            busy.add(notice.trail_arn)
            self._launch(notice, trail)
            started += 1
        if not started and len(page) >= self.limits.page:
            await self._step_aside(behind, now)
        return started

    def _launch(self, notice: Notice, trail: Trail) -> None:
        task = asyncio.create_task(self._deliver(notice, trail), name=f"sink-{self.sink.name}-{notice.id}")
        self._in_flight[task] = notice
        self._since[notice.trail_arn] = time.monotonic()
        task.add_done_callback(self._landed)

    def _landed(self, task: asyncio.Task[None]) -> None:
        if (notice := self._in_flight.pop(task, None)) is not None:
            self._since.pop(notice.trail_arn, None)

    async def _step_aside(self, behind: list[Notice], now: int) -> None:
        """A page full of notices queued behind slow sends would hide every other trail's notices
        (the outbox pages oldest first): push those back a little so the others surface. Behind a
        quick send they just wait their turn, which keeps a trail's notices in order."""
        slow_since = time.monotonic() - self.limits.slow_send_seconds
        until = now + int(max(self.limits.slow_send_seconds, self.limits.poll_seconds) * 1000)
        for notice in (n for n in behind if self._since.get(n.trail_arn, slow_since) <= slow_since):
            self.stats.deferred += 1
            error = notice.last_error or "waiting for an earlier notice of this trail"
            await self._outbox.retry(notice.id, not_before_ms=until, error=error)

    async def drain(self, timeout: float = 10.0) -> None:
        """Run until no notice is due or in flight (tests and shutdown helpers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = await self.step()
            if not started and not self._in_flight:
                return
            await self._wait(again=started > 0)

    async def _ready(self, notice: Notice, trail: Trail | None, now: int) -> bool:
        """Whether to send ``notice`` now; discards or defers it otherwise."""
        if trail is None or not self.sink.wants(trail):
            self.stats.discarded += 1
            why = "was deleted" if trail is None else f"no longer uses {self.sink.name}"
            log.warning(
                "sink %s: notice %d dropped: trail %s %s", self.sink.name, notice.id, notice.trail_arn, why
            )
            await self._outbox.done(notice.id)
            return False
        hold = self._holds.get(notice.trail_arn)
        if hold is not None and hold.blocks(now, destination_of(trail)):
            self.stats.deferred += 1
            await self._outbox.retry(notice.id, not_before_ms=hold.until_ms, error=hold.error)
            self._remember_waiting(notice)
            return False
        return True  # no hold, the hold expired (this notice is the probe), or the destination changed

    async def _deliver(self, notice: Notice, trail: Trail) -> None:
        try:
            async with asyncio.timeout(self.limits.send_timeout_seconds):
                await self.sink.send(trail, notice)
        except SinkError as err:
            outcome: tuple[str, bool] | None = (str(err), err.retryable)
        except TimeoutError:
            outcome = (f"timed out after {self.limits.send_timeout_seconds:g}s", True)
        except Exception as err:  # a sink bug must not kill the runner; the notice is kept and retried
            log.exception("sink %s: notice %d failed unexpectedly", self.sink.name, notice.id)
            outcome = (f"internal error: {type(err).__name__}", True)
        else:
            outcome = None
        try:
            if outcome is None:
                await self._succeeded(notice)
            else:
                await self._failed(notice, trail, outcome[0], retryable=outcome[1])
        except Exception:  # the outbox is unwritable: the notice stays as it was and is sent again
            log.exception("sink %s: cannot record the outcome of notice %d", self.sink.name, notice.id)

    async def _succeeded(self, notice: Notice) -> None:
        now = self._now_ms()
        await self._outbox.done(notice.id)
        self._holds.pop(notice.trail_arn, None)
        self._waiting.pop(notice.trail_arn, None)  # they come due with the probe's hold, soon or now
        self.stats.sent += 1
        changes: dict[str, object] = {}
        for name in (self._fields.time, self._fields.attempt, self._fields.succeeded):
            if name:
                changes[name] = now
        if self._fields.error:
            changes[self._fields.error] = None
        await self._set_status(notice.trail_arn, changes)

    async def _failed(self, notice: Notice, trail: Trail, error: str, *, retryable: bool) -> None:
        now = self._now_ms()
        previous = self._holds.get(notice.trail_arn)
        # Counted per destination in memory, not from notice.attempts: deferrals behind a hold
        # count as attempts in the outbox and would inflate the backoff after an outage.
        failures = (previous.failures if previous else 0) + 1
        backoff = self.limits.backoff
        delay = backoff.delay_ms(failures, self._rand()) if retryable else backoff.cap_ms
        hold = Hold(now + delay, failures, error, retryable, destination_of(trail))
        self._holds[notice.trail_arn] = hold
        await self._outbox.retry(notice.id, not_before_ms=hold.until_ms, error=error)
        self._remember_waiting(notice)
        self.stats.failed += 1
        self.stats.parked += 0 if retryable else 1
        level = logging.WARNING if retryable else logging.ERROR
        pending = await self._outbox.pending(self.sink.name)
        log.log(
            level,
            "sink %s: trail %s: %s (%s; failure %d, next try in %.1fs, %d notices pending)",
            self.sink.name, notice.trail_arn, error, "retryable" if retryable else "not retryable",
            failures, delay / 1000, pending,
        )  # fmt: skip
        changes: dict[str, object] = {}
        if self._fields.error:
            changes[self._fields.error] = error
        if self._fields.attempt:
            changes[self._fields.attempt] = now
        await self._set_status(notice.trail_arn, changes)

    def _remember_waiting(self, notice: Notice) -> None:
        # Bounded: beyond this many, the rest simply wait for the hold to expire.
        waiting = self._waiting.setdefault(notice.trail_arn, [])
        if len(waiting) < _WAITING_MAX and notice.id not in waiting:
            waiting.append(notice.id)

    async def _recheck_holds(self, now: int) -> None:
        """Release a held trail's notices at once when its destination changed (UpdateTrail, deletion):
        a topic that did not exist is no reason to hold back notices for the new one."""
        if time.monotonic() - self._rechecked < self.limits.recheck_seconds or not self._holds:
            return
        self._rechecked = time.monotonic()
        for arn, hold in list(self._holds.items()):
            trail = await self._trails.get(arn)
            if trail is not None and destination_of(trail) == hold.config:
                continue
            del self._holds[arn]
            for notice_id in self._waiting.pop(arn, []):
                await self._outbox.retry(notice_id, not_before_ms=now, error=hold.error)
            log.info(
                "sink %s: trail %s changed destination; its held notices go out now", self.sink.name, arn
            )

    async def _set_status(self, arn: str, changes: dict[str, object]) -> None:
        if not changes:
            return
        try:
            await self._trails.update_status(arn, **changes)
        except Exception:  # the trail may be deleted meanwhile; status is best effort, delivery is not
            log.warning("sink %s: cannot update status of %s", self.sink.name, arn, exc_info=True)

    async def _wait(self, *, again: bool) -> None:
        """Poll again at once after starting work; else sleep until a send ends or the poll interval."""
        if again:
            await asyncio.sleep(0)
        elif self._in_flight:
            tasks = list(self._in_flight)
            await asyncio.wait(tasks, timeout=self.limits.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        else:
            await asyncio.sleep(self.limits.poll_seconds)

    def _note_memory(self, page: int) -> None:
        self.stats.peak_in_memory = max(self.stats.peak_in_memory, page + len(self._in_flight))

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)
