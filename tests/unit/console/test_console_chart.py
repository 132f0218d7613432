"""The activity chart: bucket sizes, per-source and error counts, escaping, totals."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from trailkeeper.console.chart import ChartPoint, build_chart

T0 = 1_777_000_000_000 - 1_777_000_000_000 % 3_600_000  # an hour boundary
MIN = 60_000


def test_chart_one_hour_uses_one_minute_bars_and_counts_errors() -> None:
    points = [
        ChartPoint(T0 + 5 * MIN, "glue.amazonaws.com", False),
        ChartPoint(T0 + 5 * MIN + 10, "glue.amazonaws.com", True),
        ChartPoint(T0 + 30 * MIN, "sts.amazonaws.com", False),
        ChartPoint(T0 - MIN, "sts.amazonaws.com", False),  # outside the window: not drawn
    ]
    chart = build_chart(points, T0, T0 + 60 * MIN)
    assert chart.bucket_minutes == 1
    assert [(t.source, t.calls, t.errors) for t in chart.totals] == [
        ("glue.amazonaws.com", 2, 1),
        ("sts.amazonaws.com", 1, 0),
    ]
    svg = ET.fromstring(chart.svg)
    rects = svg.findall(".//{http://www.w3.org/2000/svg}rect")
    assert sum(1 for r in rects if r.get("class") == "error") == 1
    titles = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert any("glue.amazonaws.com: 1 error calls" in t for t in titles)


def test_chart_long_ranges_use_wider_buckets() -> None:
    assert build_chart([], T0, T0 + 24 * 60 * MIN).bucket_minutes == 15
    assert build_chart([], T0, T0 + 90 * 24 * 60 * MIN).bucket_minutes == 1440
    assert build_chart([], T0, T0 + 7 * 24 * 60 * MIN).bucket_minutes == 120


def test_chart_escapes_what_it_draws() -> None:
    chart = build_chart([ChartPoint(T0, '<evil src="x">&', False)], T0, T0 + MIN)
    ET.fromstring(chart.svg)  # still well-formed XML
    assert "<evil" not in chart.svg
    assert chart.calls == 1
