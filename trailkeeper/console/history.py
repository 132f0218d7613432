"""The event-history page's query string in, LookupEvents parameters and table rows out.

Pure: the time is an argument. A relative range ("last 24 hours") is pinned to an absolute start
on the first page and carried in the paging links (``since``), so every page of one result set
sends LookupEvents the same StartTime and its NextToken stays valid; the keyset token itself
keeps pages stable while new events arrive. LookupEvents takes one attribute: the read-only
toggle becomes ``ReadOnly=false`` when no other attribute is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson

from trailkeeper.history.lookup import LOOKUP_KEYS

__all__ = [
    "ATTRIBUTE_LABELS",
    "PAGE_SIZES",
    "RANGES",
    "EventRow",
    "HistoryFilter",
    "event_rows",
    "lookup_params",
    "parse_filter",
]

# The eight LookupEvents attributes, labelled as AWS's console labels them.
ATTRIBUTE_LABELS: dict[str, str] = {
    "AccessKeyId": "AWS access key",
    "EventId": "Event ID",
    "EventName": "Event name",
    "EventSource": "Event source",
    "ReadOnly": "Read-only",
    "ResourceName": "Resource name",
    "ResourceType": "Resource type",
    "Username": "User name",
}
assert set(ATTRIBUTE_LABELS) == set(LOOKUP_KEYS), "one label per LookupEvents attribute"

RANGES: dict[str, tuple[str, timedelta | None]] = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "custom": ("Custom range (UTC)", None),
}
PAGE_SIZES = (10, 25, 50)  # LookupEvents answers at most 50 per call
_DEFAULT_RANGE = "24h"
_MAX_BACK = 50  # earlier pages remembered for "Newer" links; beyond that, back to the first page
_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """One result set and the page of it being shown."""

    attribute: str = ""  # a LOOKUP_KEYS key, "" for none
    value: str = ""
    show_read_only: bool = False  # AWS's console hides read-only events by default
    range_key: str = _DEFAULT_RANGE
    since_ms: int | None = None  # a relative range's start, pinned at the first page
    start: str = ""  # custom range, as typed (UTC)
    end: str = ""
    page_size: int = 50
    token: str = ""
    back: tuple[str, ...] = ()  # the tokens of the pages before this one ("" = the first page)
    problems: tuple[str, ...] = field(default=(), compare=False)

    def effective_attribute(self) -> tuple[str, str] | None:
        if self.attribute and self.value:
            return self.attribute, self.value
        return None if self.show_read_only else ("ReadOnly", "false")

    def query(self, **changes: Any) -> str:
        """This filter's query string (``changes`` applied), for links and downloads."""
        f = replace(self, **changes)
        pairs: list[tuple[str, str]] = [("range", f.range_key)]
        if f.attribute:
            pairs += [("attr", f.attribute), ("value", f.value)]
        if f.show_read_only:
            pairs.append(("readonly", "show"))
        if f.range_key == "custom":
            pairs += [("start", f.start), ("end", f.end)]
        elif f.since_ms is not None:
            pairs.append(("since", str(f.since_ms)))
        if f.page_size != 50:
            pairs.append(("size", str(f.page_size)))
        if f.token:
            pairs.append(("token", f.token))
            pairs += [("back", b) for b in f.back[-_MAX_BACK:]]
        return urlencode(pairs)

    def next_page(self, token: str) -> str:
        return self.query(token=token, back=(*self.back, self.token))

    def previous_page(self) -> str | None:
        if not self.token:
            return None
        return self.query(token=self.back[-1] if self.back else "", back=self.back[:-1])

    @property
    def page_number(self) -> int:
        return len(self.back) + 1 if self.token else 1


def _int(raw: str | None, default: int, allowed: Sequence[int]) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) in allowed else default


def parse_filter(query: Mapping[str, str], back: Sequence[str], now: datetime) -> HistoryFilter:
    """The filter a query string asks for; unknown values fall back to defaults (noted in problems)."""
    problems: list[str] = []
    attribute = query.get("attr", "")
    if attribute and attribute not in LOOKUP_KEYS:
        problems.append(f"Unknown lookup attribute {attribute!r}; showing all events.")
        attribute = ""
    range_key = query.get("range", _DEFAULT_RANGE)
    if range_key not in RANGES:
        problems.append(f"Unknown time range {range_key!r}; showing the last 24 hours.")
        range_key = _DEFAULT_RANGE
    since = query.get("since", "")
    delta = RANGES[range_key][1]
    since_ms = None
    if delta is not None:
        pinned = int(since) if since.isdigit() else None
        since_ms = pinned if pinned is not None else int((now - delta).timestamp() * 1000)
    token = query.get("token", "")
    return HistoryFilter(
        attribute=attribute,
        value=query.get("value", "").strip() if attribute else "",
        show_read_only=query.get("readonly") == "show",
        range_key=range_key,
        since_ms=since_ms,
        start=query.get("start", ""),
        end=query.get("end", ""),
        page_size=_int(query.get("size"), 50, PAGE_SIZES),
        token=token,
        back=tuple(back) if token else (),
        problems=tuple(problems),
    )


def _parse_local(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, _LOCAL_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def lookup_params(f: HistoryFilter, *, page_size: int | None = None) -> tuple[dict[str, Any], list[str]]:
    """The LookupEvents parameters of ``f`` (typed, as the handler takes them) and input problems."""
    # Members in the model's order (LookupAttributes, StartTime, EndTime, MaxResults, NextToken),
    # which requestParameters keeps, as in real console-made records.
    params: dict[str, Any] = {}
    problems: list[str] = []
    if (attribute := f.effective_attribute()) is not None:
        params["LookupAttributes"] = [{"AttributeKey": attribute[0], "AttributeValue": attribute[1]}]
    if f.range_key == "custom":
        for name, text in (("StartTime", f.start), ("EndTime", f.end)):
            moment = _parse_local(text) if text else None
            if text and moment is None:
                problems.append(f"{name}: {text!r} is not a date and time (YYYY-MM-DDTHH:MM, UTC).")
            if moment is not None:
                params[name] = moment
    elif f.since_ms is not None:
        params["StartTime"] = datetime.fromtimestamp(f.since_ms / 1000, UTC)
    params["MaxResults"] = page_size or f.page_size
    if f.token:
        params["NextToken"] = f.token
    return params, problems


@dataclass(frozen=True, slots=True)
class EventRow:
    """One Event of a LookupEvents answer, as the table and the downloads show it."""

    event_id: str
    event_time: str  # the record's eventTime, ISO 8601 UTC
    event_name: str
    username: str
    event_source: str
    resource_types: tuple[str, ...]
    resource_names: tuple[str, ...]
    error_code: str
    access_key_id: str
    region: str
    read_only: str  # "true" | "false", as LookupEvents spells it
    source_ip: str
    record: dict[str, Any]

    @property
    def pretty(self) -> str:
        return orjson.dumps(self.record, option=orjson.OPT_INDENT_2).decode("utf-8")


def event_rows(events: Sequence[Mapping[str, Any]]) -> list[EventRow]:
    """Rows of LookupEvents ``Events`` (the handler's output), in the order given (newest first)."""
    rows = []
    for event in events:
        record: dict[str, Any] = orjson.loads(event["CloudTrailEvent"])
        resources = event.get("Resources") or []
        rows.append(
            EventRow(
                event_id=event["EventId"],
                event_time=str(record.get("eventTime", "")),
                event_name=event["EventName"],
                username=event.get("Username", ""),
                event_source=event["EventSource"],
                resource_types=tuple(str(r.get("ResourceType") or "") for r in resources),
                resource_names=tuple(str(r.get("ResourceName") or "") for r in resources),
                error_code=str(record.get("errorCode", "")),
                access_key_id=event.get("AccessKeyId", ""),
                region=str(record.get("awsRegion", "")),
                read_only=event["ReadOnly"],
                source_ip=str(record.get("sourceIPAddress", "")),
                record=record,
            )
        )
    return rows
