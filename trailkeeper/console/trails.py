"""Trails-page requests in, the trails of the account with their status (and start/stop logging) out.

Everything goes through the registered CloudTrail handlers, recorded like any console call:
DescribeTrails and GetTrailStatus to list, StartLogging / StopLogging behind a CSRF-checked POST.
A server without those handlers shows why instead of a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from trailkeeper.console.calls import Caller
from trailkeeper.console.web import (
    PREFIX,
    FormTooLarge,
    Signed,
    caller,
    console_of,
    read_form,
    render,
    signed_in,
    to_signin,
    valid_csrf,
)
from trailkeeper.errors import AwsError

__all__ = ["TrailRow", "set_logging", "trails_page"]

_ACTIONS = {"start": "StartLogging", "stop": "StopLogging"}
_DONE = {"start": "Logging started for {name}.", "stop": "Logging stopped for {name}."}


@dataclass(frozen=True, slots=True)
class TrailRow:
    name: str
    arn: str
    home_region: str
    multi_region: bool
    organization: bool
    bucket: str
    logging: bool | None  # None: the status could not be read
    latest_delivery: str
    latest_delivery_error: str
    latest_digest: str
    latest_digest_error: str
    status_error: str


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(value, datetime) else ""


async def _row(request: Request, who: Caller, trail: dict[str, Any]) -> TrailRow:
    status: dict[str, Any] = {}
    problem = ""
    try:
        status = await console_of(request).calls.invoke(
            who, "cloudtrail", "GetTrailStatus", {"Name": trail["TrailARN"]}
        )
    except AwsError as err:
        problem = f"{err.code}: {err.message}"
    return TrailRow(
        name=trail.get("Name", ""),
        arn=trail.get("TrailARN", ""),
        home_region=trail.get("HomeRegion", ""),
        multi_region=bool(trail.get("IsMultiRegionTrail")),
        organization=bool(trail.get("IsOrganizationTrail")),
        bucket=trail.get("S3BucketName", ""),
        logging=status.get("IsLogging") if status else None,
        latest_delivery=_time(status.get("LatestDeliveryTime")),
        latest_delivery_error=status.get("LatestDeliveryError", ""),
        latest_digest=_time(status.get("LatestDigestDeliveryTime")),
        latest_digest_error=status.get("LatestDigestDeliveryError", ""),
        status_error=problem,
    )


def _region(request: Request, signed: Signed, asked: str) -> str:
    return asked if asked in console_of(request).regions else signed.session.region


async def _page(
    request: Request, signed: Signed, region: str, *, message: str, error: str, status: int
) -> Response:
    who = caller(request, signed.session, region)
    rows: list[TrailRow] = []
    try:
        listed = await console_of(request).calls.invoke(who, "cloudtrail", "DescribeTrails", {})
        rows = [await _row(request, who, trail) for trail in listed.get("trailList", [])]
    except AwsError as err:
        error = error or f"{err.code}: {err.message}"
    principal = signed.session.principal
    return render(
        request,
        "trails.html",
        status=status,
        page="trails",
        principal=principal,
        who=principal.user_name or ("root" if principal.type == "Root" else principal.arn),
        region=region,
        region_qs=urlencode({"region": region}),
        csrf=signed.csrf,
        rows=rows,
        message=message,
        error=error,
        problems=[],
    )


async def trails_page(request: Request) -> Response:
    signed = await signed_in(request)
    if signed is None:
        return to_signin(request)
    region = _region(request, signed, request.query_params.get("region", ""))
    done = request.query_params.get("done", "")
    name = request.query_params.get("name", "")
    message = _DONE[done].format(name=name) if done in _DONE and name else ""
    return await _page(request, signed, region, message=message, error="", status=200)


async def set_logging(request: Request) -> Response:
    signed = await signed_in(request)
    if signed is None:
        return to_signin(request)
    try:
        form = await read_form(request)
    except FormTooLarge:
        return render(request, "error.html", status=413, title="Request too large", message="")
    console = console_of(request)
    if not valid_csrf(console.csrf_key, "session", signed.session_id, form.get("csrf", "")):
        message = "The form was out of date or not sent by this console. Reload the page and try again."
        return render(request, "error.html", status=403, title="Forbidden", message=message)
    region = _region(request, signed, form.get("region", ""))
    action, name = form.get("action", ""), form.get("name", "")
    if action not in _ACTIONS or not name:
        return await _page(
            request, signed, region, message="", error="Choose a trail and an action.", status=400
        )
    try:
        await console.calls.invoke(
            caller(request, signed.session, region), "cloudtrail", _ACTIONS[action], {"Name": name}
        )
    except AwsError as err:
        return await _page(
            request, signed, region, message="", error=f"{err.code}: {err.message}", status=400
        )
    query = urlencode({"region": region, "done": action, "name": name.rsplit("/", 1)[-1]})
    return RedirectResponse(f"{PREFIX}/trails?{query}", status_code=303)
