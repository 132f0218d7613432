"""Event-history requests in, pages, downloads and the activity chart out, every query a LookupEvents call.

Each query is the registered LookupEvents handler run for the signed-in console session in the
region it picked (``ConsoleCalls``), so a user sees only their own account's events in that
region, through the same validation, paging and journal query as the API, and each call is
itself recorded. Downloads and the chart read the result set page by page, at most
``RESULT_LIMIT`` events (the newest of the range), and say so when they stop there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from trailkeeper.console.calls import Caller
from trailkeeper.console.chart import ChartPoint, build_chart
from trailkeeper.console.export import to_csv, to_json
from trailkeeper.console.history import (
    ATTRIBUTE_LABELS,
    PAGE_SIZES,
    RANGES,
    EventRow,
    HistoryFilter,
    event_rows,
    lookup_params,
    parse_filter,
)
from trailkeeper.console.web import Signed, caller, console_of, render, signed_in, to_signin
from trailkeeper.errors import AwsError

__all__ = ["RESULT_LIMIT", "activity", "download_csv", "download_json", "event_detail", "events"]

RESULT_LIMIT = 5000  # events read for a download or the chart: the newest of the range
_PAGE = 50  # LookupEvents' largest page


@dataclass(frozen=True, slots=True)
class _View:
    signed: Signed
    region: str
    caller: Caller
    history: HistoryFilter
    problems: list[str]

    def base(self, **extra: Any) -> dict[str, Any]:
        """What every signed-in page shows: identity, region picker, sign-out form."""
        principal = self.signed.session.principal
        return {
            "principal": principal,
            "who": principal.user_name or ("root" if principal.type == "Root" else principal.arn),
            "region": self.region,
            "region_qs": urlencode({"region": self.region}),
            "csrf": self.signed.csrf,
            **extra,
        }


async def _view(request: Request) -> _View | None:
    signed = await signed_in(request)
    if signed is None:
        return None
    console = console_of(request)
    asked = request.query_params.get("region", "")
    region = asked if asked in console.regions else signed.session.region
    problems = [f"Unknown region {asked!r}; showing {region}."] if asked and asked != region else []
    now = datetime.fromtimestamp(console.clock(), UTC)
    history = parse_filter(dict(request.query_params), request.query_params.getlist("back"), now)
    problems += history.problems
    return _View(signed, region, caller(request, signed.session, region), history, problems)


async def _lookup(request: Request, view: _View, params: dict[str, Any]) -> dict[str, Any]:
    return await console_of(request).calls.invoke(view.caller, "cloudtrail", "LookupEvents", params)


async def _result_set(request: Request, view: _View) -> tuple[list[dict[str, Any]], bool]:
    """The whole result set of the filter (from its first page), at most RESULT_LIMIT events."""
    params, problems = lookup_params(replace(view.history, token="", back=()), page_size=_PAGE)
    if problems:
        raise AwsError("ValidationException", " ".join(problems), 400)
    events: list[dict[str, Any]] = []
    while True:
        answer = await _lookup(request, view, params)
        events += answer["Events"]
        token = answer.get("NextToken")
        if not token or len(events) >= RESULT_LIMIT:
            return events[:RESULT_LIMIT], bool(token) or len(events) > RESULT_LIMIT
        params = {**params, "NextToken": token}


def _filter_context(view: _View) -> dict[str, Any]:
    return {
        "history": view.history,
        "attributes": ATTRIBUTE_LABELS,
        "ranges": {key: label for key, (label, _) in RANGES.items()},
        "page_sizes": PAGE_SIZES,
        "problems": view.problems,
    }


async def events(request: Request) -> Response:
    view = await _view(request)
    if view is None:
        return to_signin(request)
    params, problems = lookup_params(view.history)
    rows: list[EventRow] = []
    next_token, error = "", ""
    if problems:
        error = " ".join(problems)
    else:
        try:
            answer = await _lookup(request, view, params)
            rows, next_token = event_rows(answer["Events"]), answer.get("NextToken", "")
        except AwsError as err:
            error = f"{err.code}: {err.message}"
    return render(
        request,
        "events.html",
        **view.base(page="events", rows=rows, next_token=next_token, error=error, limit=RESULT_LIMIT),
        **_filter_context(view),
    )


async def event_detail(request: Request) -> Response:
    view = await _view(request)
    if view is None:
        return to_signin(request)
    event_id = request.path_params["event_id"]
    params = {"LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": event_id}], "MaxResults": 1}
    try:
        rows = event_rows((await _lookup(request, view, params))["Events"])
    except AwsError as err:
        rows = []
        view.problems.append(f"{err.code}: {err.message}")
    row = rows[0] if rows else None
    context = view.base(page="events", row=row, event_id=event_id, problems=view.problems)
    return render(request, "event.html", status=200 if row else 404, **context)


async def _download(request: Request, kind: str) -> Response:
    view = await _view(request)
    if view is None:
        return PlainTextResponse("Sign in to the console to download events.", status_code=401)
    try:
        found, truncated = await _result_set(request, view)
    except AwsError as err:
        return PlainTextResponse(f"{err.code}: {err.message}", status_code=400)
    rows = event_rows(found)
    body, media = (
        (to_csv(rows), "text/csv; charset=utf-8") if kind == "csv" else (to_json(rows), "application/json")
    )
    headers = {"content-disposition": f'attachment; filename="event_history.{kind}"'}
    if truncated:
        headers["x-trailkeeper-truncated"] = f"the newest {RESULT_LIMIT} events of the result set"
    return Response(body, media_type=media, headers=headers)


async def download_csv(request: Request) -> Response:
    return await _download(request, "csv")


async def download_json(request: Request) -> Response:
    return await _download(request, "json")


def _window(view: _View, params: dict[str, Any], now: datetime, retention_days: int) -> tuple[int, int]:
    start = params.get("StartTime") or now - timedelta(days=retention_days)
    end = params.get("EndTime") or now
    return int(start.timestamp() * 1000), int(min(end, now).timestamp() * 1000)


def _point(event: dict[str, Any], row: EventRow) -> ChartPoint:
    # A failed sign-in carries an errorMessage without an errorCode: it is an error call too.
    failed = bool(row.error_code or row.record.get("errorMessage"))
    return ChartPoint(int(event["EventTime"].timestamp() * 1000), row.event_source, failed)


async def activity(request: Request) -> Response:
    view = await _view(request)
    if view is None:
        return to_signin(request)
    console = console_of(request)
    now = datetime.fromtimestamp(console.clock(), UTC)
    params, _ = lookup_params(view.history)
    start_ms, end_ms = _window(view, params, now, console.services.settings.retention_days)
    chart, error, truncated = None, "", False
    try:
        found, truncated = await _result_set(request, view)
        points = [_point(event, row) for event, row in zip(found, event_rows(found), strict=True)]
        if truncated and points:
            start_ms = max(start_ms, points[-1].time_ms)  # the chart covers what was read
        chart = build_chart(points, start_ms, end_ms)
    except AwsError as err:
        error = f"{err.code}: {err.message}"
    # chart.py escapes every value it writes into the SVG, so it may be embedded as markup.
    svg = Markup(chart.svg) if chart else ""  # noqa: S704
    return render(
        request,
        "activity.html",
        **view.base(
            page="activity", chart=chart, svg=svg, error=error, truncated=truncated, limit=RESULT_LIMIT
        ),
        **_filter_context(view),
    )
