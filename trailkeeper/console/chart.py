"""Events (time, event source, error or not) and a time window in, the activity chart as SVG out.

Pure and dependency-free: one stacked bar per time bucket, one colour per event source, error
calls drawn over their source's colour with a hatch so they read without colour too. Buckets are
one minute wide when the window allows and grow to the next round size otherwise, so a bar
chart of 90 days stays readable; the page says which size was used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

__all__ = ["ActivityChart", "ChartPoint", "SourceTotal", "build_chart"]

_BUCKET_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
_MAX_BARS = 120
_MINUTE_MS = 60_000
# Eight colours that stay apart for the common colour-vision deficiencies (Okabe-Ito palette).
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_W, _H = 960, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 12, 44


@dataclass(frozen=True, slots=True)
class ChartPoint:
    time_ms: int
    source: str
    error: bool


@dataclass(frozen=True, slots=True)
class SourceTotal:
    source: str
    colour: str
    calls: int
    errors: int


@dataclass(frozen=True, slots=True)
class ActivityChart:
    bucket_minutes: int
    start_ms: int
    end_ms: int
    totals: tuple[SourceTotal, ...]
    svg: str

    @property
    def calls(self) -> int:
        return sum(t.calls for t in self.totals)


def _bucket_minutes(span_ms: int) -> int:
    for size in _BUCKET_MINUTES:
        if span_ms / (size * _MINUTE_MS) <= _MAX_BARS:
            return size
    return _BUCKET_MINUTES[-1]


def _nice_step(top: int) -> int:
    """A 1-2-5 step giving about four gridlines up to ``top``."""
    step = 1
    while top / step > 5:
        for factor in (2, 5, 10):
            if top / (step * factor) <= 5:
                return step * factor
        step *= 10
    return step


def _label(ms: int, bucket_minutes: int, span_ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%H:%M" if span_ms <= 86_400_000 else "%m-%d %H:%M")


def build_chart(points: Iterable[ChartPoint], start_ms: int, end_ms: int) -> ActivityChart:
    """Bucket ``points`` inside [start_ms, end_ms] and draw them."""
    span = max(end_ms - start_ms, _MINUTE_MS)
    minutes = _bucket_minutes(span)
    width_ms = minutes * _MINUTE_MS
    origin = start_ms - start_ms % width_ms
    bars = (end_ms - origin) // width_ms + 1
    counts: Counter[tuple[int, str, bool]] = Counter()
    calls: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for p in points:
        if start_ms <= p.time_ms <= end_ms:
            counts[((p.time_ms - origin) // width_ms, p.source, p.error)] += 1
            calls[p.source] += 1
            errors[p.source] += p.error
    sources = sorted(calls)
    colours = {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(sources)}
    totals = tuple(SourceTotal(s, colours[s], calls[s], errors[s]) for s in sources)
    svg = _svg(counts, sources, colours, origin, bars, minutes, span)
    return ActivityChart(minutes, start_ms, end_ms, totals, svg)


def _svg(
    counts: Counter[tuple[int, str, bool]],
    sources: list[str],
    colours: dict[str, str],
    origin: int,
    bars: int,
    minutes: int,
    span: int,
) -> str:
    per_bar = Counter[int]()
    for (bar, _, _), n in counts.items():
        per_bar[bar] += n
    top = max(per_bar.values(), default=0)
    step = _nice_step(max(top, 1))
    y_max = step * -(-max(top, 1) // step)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" class="chart" role="img"'
        ' aria-labelledby="chart-title chart-desc">',
        '<title id="chart-title">API calls by event source</title>',
        f'<desc id="chart-desc">{_describe(counts, minutes)}</desc>',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff" fill-opacity="0.25"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#000" stroke-width="3"/></pattern></defs>',
    ]
    out += _axes(y_max, step, plot_w, plot_h, origin, bars, minutes, span)
    for bar in range(bars):
        start = datetime.fromtimestamp((origin + bar * minutes * _MINUTE_MS) / 1000, UTC)
        x = _LEFT + bar * plot_w / bars
        out += _stack(counts, bar, sources, colours, x, max(plot_w / bars - 1, 1), plot_h / y_max, start)
    out.append("</svg>")
    return "".join(out)


def _stack(
    counts: Counter[tuple[int, str, bool]],
    bar: int,
    sources: list[str],
    colours: dict[str, str],
    x: float,
    width: float,
    unit: float,
    start: datetime,
) -> list[str]:
    """One bar: a segment per source, its error calls hatched on top of its other calls."""
    out = []
    y = float(_TOP + _H - _TOP - _BOTTOM)
    for source in sources:
        for error in (False, True):
            n = counts.get((bar, source, error), 0)
            if not n:
                continue
            y -= n * unit
            kind = "error calls" if error else "calls"
            tip = escape(f"{start:%Y-%m-%d %H:%M} UTC, {source}: {n} {kind}")
            rect = f'x="{x:.2f}" y="{y:.2f}" width="{width:.2f}" height="{n * unit:.2f}"'
            out.append(f"<g><title>{tip}</title><rect {rect} fill={quoteattr(colours[source])}/>")
            if error:
                out.append(f'<rect {rect} fill="url(#hatch)" class="error"/>')
            out.append("</g>")
    return out


def _axes(
    y_max: int, step: int, plot_w: int, plot_h: int, origin: int, bars: int, minutes: int, span: int
) -> list[str]:
    out = []
    for value in range(0, y_max + 1, step):
        y = _TOP + plot_h - plot_h * value / y_max
        out.append(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y:.2f}" y2="{y:.2f}" class="grid"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.2f}" text-anchor="end" class="tick">{value}</text>')
    ticks = min(6, bars)
    for i in range(ticks + 1):
        bar = round(i * bars / ticks)
        x = _LEFT + plot_w * bar / bars
        label = _label(origin + bar * minutes * _MINUTE_MS, minutes, span)
        out.append(
            f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h + 4}" class="axis"/>'
        )
        out.append(
            f'<text x="{x:.2f}" y="{_TOP + plot_h + 18}" text-anchor="middle" class="tick">{label}</text>'
        )
    out.append(
        f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h}" class="axis"/>'
    )
    unit = "minute" if minutes == 1 else f"{minutes} minutes"
    out.append(f'<text x="{_LEFT}" y="{_H - 6}" class="tick">calls per {unit} (UTC)</text>')
    return out


def _describe(counts: Counter[tuple[int, str, bool]], minutes: int) -> str:
    total = sum(counts.values())
    failed = sum(n for (_, _, error), n in counts.items() if error)
    unit = "1-minute" if minutes == 1 else f"{minutes}-minute"
    return escape(f"{total} calls ({failed} with an error) in {unit} buckets; totals in the table below.")
