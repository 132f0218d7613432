"""Request limits: batches never pass the count, byte or time-span limit, and keep every item in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trailkeeper.delivery.sinks.batching import Limits, batches

_Item = tuple[int, int]  # (time ms, size)


def _limits(count: int, size: int, span: int | None) -> Limits[_Item]:
    return Limits(count, size, size_of=lambda i: i[1], max_span_ms=span, span_of=lambda i: i[0])


def test_batches_cut_at_count() -> None:
    assert [len(b) for b in batches([(0, 1)] * 25, _limits(10, 1000, None))] == [10, 10, 5]


def test_batches_cut_at_bytes() -> None:
    assert [len(b) for b in batches([(0, 40)] * 5, _limits(10, 100, None))] == [2, 2, 1]


def test_batches_cut_at_span() -> None:
    items = [(0, 1), (50, 1), (100, 1), (101, 1), (250, 1)]
    assert list(batches(items, _limits(10, 100, 100))) == [
        [(0, 1), (50, 1), (100, 1)],
        [(101, 1)],
        [(250, 1)],
    ]


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 50))).map(sorted),
    st.integers(1, 20),
    st.integers(50, 500),
    st.one_of(st.none(), st.integers(0, 3_000)),
)
def test_batches_respect_every_limit_and_lose_nothing(
    items: list[_Item], count: int, size: int, span: int | None
) -> None:
    out = list(batches(items, _limits(count, size, span)))
    assert [i for b in out for i in b] == items
    for b in out:
        assert 1 <= len(b) <= count
        assert sum(i[1] for i in b) <= size
        assert span is None or b[-1][0] - b[0][0] <= span
