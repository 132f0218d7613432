"""Request limits: sized items in, consecutive batches within count, byte and time-span limits out."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Limits", "batches"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Limits(Generic[_T]):
    """What one API request may carry. ``span_of`` gives an item's time (ms) for a time-span limit."""

    max_count: int
    max_bytes: int
    size_of: Callable[[_T], int]
    max_span_ms: int | None = None
    span_of: Callable[[_T], int] | None = None

    def fits_alone(self, item: _T) -> bool:
        return self.size_of(item) <= self.max_bytes


def batches(items: Sequence[_T], limits: Limits[_T]) -> Iterator[list[_T]]:
    """Greedy, order-preserving batches; every item must ``fit_alone`` (callers drop the others first)."""
    batch: list[_T] = []
    size = 0
    first_ms = 0
    for item in items:
        item_size = limits.size_of(item)
        item_ms = limits.span_of(item) if limits.span_of else 0
        full = len(batch) >= limits.max_count or size + item_size > limits.max_bytes
        too_long = limits.max_span_ms is not None and batch and item_ms - first_ms > limits.max_span_ms
        if batch and (full or too_long):
            yield batch
            batch, size = [], 0
        if not batch:
            first_ms = item_ms
        batch.append(item)
        size += item_size
    if batch:
        yield batch
