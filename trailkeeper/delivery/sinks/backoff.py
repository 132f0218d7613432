"""Retry timing: a failure count in, the next try's time out; plus the hold a failing destination is under.

Backoff is kept per destination (a trail's topic, log group, bus), not per notice: when an
endpoint is down every notice for it would fail the same way, so one probe goes out when the
hold expires and the rest wait behind it instead of each paying its own timeout.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Backoff", "Hold"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff, capped, with "equal jitter": half the delay fixed, half random.

    The fixed half keeps a retry storm from collapsing to zero delay; the random half spreads
    the probes of many trails that failed at the same moment.
    """

    base_ms: int = 1_000
    cap_ms: int = 300_000

    def delay_ms(self, failures: int, rand: float) -> int:
        """Wait before the next try after ``failures`` consecutive failures (``rand`` in [0, 1))."""
        ceiling = min(self.cap_ms, self.base_ms << min(max(failures - 1, 0), 40))
        return ceiling // 2 + int(ceiling / 2 * rand)


@dataclass(frozen=True, slots=True)
class Hold:
    """A destination that failed: nothing is sent to it before ``until_ms`` unless its config changes.

    ``config`` is what the destination was when it failed (e.g. the topic ARN); a trail updated to
    another destination is not held back by the old one's failure.
    """

    until_ms: int
    failures: int
    error: str
    retryable: bool
    config: Hashable

    def blocks(self, now_ms: int, config: Hashable) -> bool:
        return now_ms < self.until_ms and config == self.config
