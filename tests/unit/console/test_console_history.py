"""The event-history query string: defaults, pinned relative ranges, paging links, LookupEvents parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import orjson

from trailkeeper.console.history import event_rows, lookup_params, parse_filter

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def test_history_default_hides_read_only_events_for_the_last_24_hours() -> None:
    f = parse_filter({}, [], NOW)
    params, problems = lookup_params(f)
    assert not problems
    assert params == {
        "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        "StartTime": NOW - timedelta(hours=24),
        "MaxResults": 50,
    }
    assert list(params) == ["LookupAttributes", "StartTime", "MaxResults"]  # the model's member order


def test_history_an_attribute_replaces_the_read_only_filter() -> None:
    f = parse_filter({"attr": "EventName", "value": " CreateDatabase ", "range": "1h"}, [], NOW)
    params, _ = lookup_params(f)
    assert params["LookupAttributes"] == [{"AttributeKey": "EventName", "AttributeValue": "CreateDatabase"}]
    assert params["StartTime"] == NOW - timedelta(hours=1)


def test_history_show_read_only_sends_no_attribute() -> None:
    params, _ = lookup_params(parse_filter({"readonly": "show", "range": "7d"}, [], NOW))
    assert "LookupAttributes" not in params
    assert params["StartTime"] == NOW - timedelta(days=7)


def test_history_relative_range_is_pinned_across_pages() -> None:
    first = parse_filter({"range": "1h"}, [], NOW)
    link = parse_qs(first.next_page("TOKEN1"), keep_blank_values=True)
    later = parse_filter({k: v[0] for k, v in link.items()}, link.get("back", []), NOW + timedelta(minutes=9))
    assert lookup_params(later)[0]["StartTime"] == lookup_params(first)[0]["StartTime"]
    assert lookup_params(later)[0]["NextToken"] == "TOKEN1"
    assert later.page_number == 2


def test_history_previous_page_walks_back_to_the_first() -> None:
    page3 = parse_filter({"range": "24h", "since": str(NOW_MS), "token": "T2"}, ["", "T1"], NOW)
    assert page3.page_number == 3
    back = parse_qs(page3.previous_page() or "", keep_blank_values=True)
    assert back["token"] == ["T1"]
    assert back["back"] == [""]
    page2 = parse_filter({k: v[0] for k, v in back.items()}, back["back"], NOW)
    first = parse_qs(page2.previous_page() or "", keep_blank_values=True)
    assert "token" not in first
    assert first["since"] == [str(NOW_MS)]
    assert parse_filter({}, [], NOW).previous_page() is None


def test_history_custom_range_is_utc_and_bad_input_is_reported() -> None:
    f = parse_filter({"range": "custom", "start": "2026-04-30T08:00", "end": "2026-04-30T09:30"}, [], NOW)
    params, problems = lookup_params(f)
    assert not problems
    assert params["StartTime"] == datetime(2026, 4, 30, 8, 0, tzinfo=UTC)
    assert params["EndTime"] == datetime(2026, 4, 30, 9, 30, tzinfo=UTC)
    _, problems = lookup_params(parse_filter({"range": "custom", "start": "yesterday"}, [], NOW))
    assert problems
    assert "StartTime" in problems[0]


def test_history_unknown_values_fall_back_with_a_note() -> None:
    f = parse_filter({"attr": "Color", "value": "red", "range": "5y", "size": "7"}, [], NOW)
    assert (f.attribute, f.range_key, f.page_size) == ("", "24h", 50)
    assert len(f.problems) == 2


def test_history_rows_read_the_lookup_answer() -> None:
    record = {
        "eventTime": "2026-05-01T11:59:00Z",
        "awsRegion": "us-east-1",
        "errorCode": "EntityNotFoundException",
        "sourceIPAddress": "192.0.2.1",
    }
    event = {
        "EventId": "e1",
        "EventName": "GetDatabase",
        "ReadOnly": "true",
        "AccessKeyId": "AKIAX",
        "EventTime": NOW,
        "EventSource": "glue.amazonaws.com",
        "Username": "alice",
        "Resources": [{"ResourceType": "AWS::Glue::Database", "ResourceName": "sales"}],
        "CloudTrailEvent": orjson.dumps(record).decode(),
    }
    [row] = event_rows([event])
    assert (row.event_name, row.username, row.error_code, row.resource_names) == (
        "GetDatabase",
        "alice",
        "EntityNotFoundException",
        ("sales",),
    )
    assert orjson.loads(row.pretty) == record
    assert "\n  " in row.pretty
