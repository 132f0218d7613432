"""The trail lifecycle API: CreateTrail, UpdateTrail, DeleteTrail, GetTrail, DescribeTrails, ListTrails.

Each handler takes the verified call (CallEnv) and the parsed request, and answers with the
model's output members or raises AwsError with CloudTrail's exception names. Importing this module
also registers the status, selector and tag operations (``trailkeeper.control.operations``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from trailkeeper.control import errors
from trailkeeper.control import operations as _operations  # noqa: F401  (registers its handlers)
from trailkeeper.control.access import (
    Caller,
    caller_of,
    changeable,
    present_in,
    readable,
    store_of,
    visible_trails,
)
from trailkeeper.control.model import Trail
from trailkeeper.control.params import apply_settings, new_trail
from trailkeeper.control.validation import parse_trail_ref
from trailkeeper.control.views import created_view, trail_info, trail_view
from trailkeeper.errors import AwsError
from trailkeeper.services.registry import CallEnv, register

__all__ = [
    "LIST_PAGE",
    "create_trail",
    "delete_trail",
    "describe_trails",
    "get_trail",
    "list_page",
    "list_trails",
    "update_trail",
]

LIST_PAGE = 50  # ListTrails page size (AWS documents none)


def _now_ms(env: CallEnv) -> int:
    return int(env.now.timestamp() * 1000)


def _check_bucket(env: CallEnv, bucket: str, account_id: str) -> None:
    registry = env.app.buckets
    if registry is None:
        # No BucketRegistry wired yet (it is being built alongside): every bucket is taken to exist
        # and to accept this account's log files.
        return
    if registry.store_for(bucket) is None:
        raise errors.bucket_missing(bucket)
    if not registry.may_deliver(bucket, account_id):
        raise errors.bucket_policy(bucket)


def _check_organization(caller: Caller) -> None:
    """Only the organization's management account may own an organization trail."""
    if caller.organization is None:
        raise errors.not_in_organization(caller.account_id)
    if not caller.organization.is_management(caller.account_id):
        raise errors.not_management_account(caller.account_id)


def _check_room(trail: Trail, others: list[Trail]) -> None:
    """At most 5 trails per region; a multi-region trail counts in every region (UG quotas)."""
    regions = {trail.home_region} | ({t.home_region for t in others} if trail.is_multi_region else set())
    for region in sorted(regions):
        if (
            present_in(trail, region)
            and sum(present_in(t, region) for t in others) >= errors.MAX_TRAILS_PER_REGION
        ):
            raise errors.trails_limit(trail.account_id, region)


def _check_name_free(trail: Trail, others: list[Trail]) -> None:
    """No other trail of the account with this name where this one (or its shadow) would be."""
    for other in others:
        if other.name == trail.name and (present_in(other, trail.home_region) or trail.is_multi_region):
            raise errors.trail_exists(trail.name, trail.account_id)


@register("cloudtrail", "CreateTrail")
async def create_trail(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    caller = caller_of(env)
    trail = new_trail(params, account_id=caller.account_id, region=caller.region, now_ms=_now_ms(env))
    if trail.is_organization:
        _check_organization(caller)
    store = store_of(env)
    others = await store.trails_of(caller.account_id)
    _check_name_free(trail, others)
    _check_room(trail, others)
    _check_bucket(env, trail.s3_bucket, trail.account_id)
    await store.create(trail)
    return created_view(trail)


@register("cloudtrail", "UpdateTrail")
async def update_trail(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    caller, store = caller_of(env), store_of(env)
    trail = await changeable(store, caller, params["Name"])
    updated = apply_settings(trail, params)
    if updated.is_organization and not trail.is_organization:
        _check_organization(caller)
    others = [t for t in await store.trails_of(caller.account_id) if t.arn != trail.arn]
    if updated.is_multi_region and not trail.is_multi_region:
        _check_name_free(updated, others)
        _check_room(updated, others)
    if "S3BucketName" in params:
        _check_bucket(env, updated.s3_bucket, updated.account_id)
    await store.replace(updated)
    return created_view(updated)


@register("cloudtrail", "DeleteTrail")
async def delete_trail(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(env)
    trail = await changeable(store, caller_of(env), params["Name"])
    await store.delete(trail.arn)
    return {}


@register("cloudtrail", "GetTrail")
async def get_trail(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    trail = await readable(store_of(env), caller_of(env), params["Name"])
    return {"Trail": trail_view(trail)}


def _listed(trail: Trail, caller: Caller, shadows: bool) -> bool:
    """In DescribeTrails: the caller's own trails of this region, and shadows when asked for."""
    if trail.account_id == caller.account_id and trail.home_region == caller.region:
        return True
    return shadows and present_in(trail, caller.region)


@register("cloudtrail", "DescribeTrails")
async def describe_trails(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    caller = caller_of(env)
    shadows = params.get("includeShadowTrails", True) is not False
    refs = [parse_trail_ref(name) for name in params.get("trailNameList") or []]
    trails = [t for t in await visible_trails(store_of(env), caller) if _listed(t, caller, shadows)]
    # This region's own trails first, then shadows; by name within each.
    trails.sort(key=lambda t: (t.home_region != caller.region or t.account_id != caller.account_id, t.name))
    if refs:
        # Plain names match only this region's own trails; ARNs match any trail listed here.
        names = {r.name for r in refs if not r.is_arn}
        arns = {r.given for r in refs if r.is_arn}
        trails = [
            t
            for t in trails
            if t.arn in arns
            or (t.name in names and t.home_region == caller.region and t.account_id == caller.account_id)
        ]
    return {"trailList": [trail_view(t) for t in trails]}


def list_page(
    trails: list[Trail], token: str | None, limit: int = LIST_PAGE
) -> tuple[list[Trail], str | None]:
    """One ListTrails page in ARN order after ``token`` (the last ARN of the previous page, encoded)."""
    ordered = sorted(trails, key=lambda t: t.arn)
    if token is not None:
        try:
            after = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            after = ""
        if not after.startswith("arn:"):
            # UNCONFIRMED: ListTrails models no error for a bad token; this is LookupEvents' code.
            raise AwsError("InvalidNextTokenException", "The NextToken is not valid.", 400)
        ordered = [t for t in ordered if t.arn > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, base64.urlsafe_b64encode(page[-1].arn.encode()).decode("ascii") if more else None


@register("cloudtrail", "ListTrails")
async def list_trails(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    """Every trail of the account in every region, with organization trails seen by members."""
    page, token = list_page(await visible_trails(store_of(env), caller_of(env)), params.get("NextToken"))
    out: dict[str, Any] = {"Trails": [trail_info(t) for t in page]}
    if token is not None:
        out["NextToken"] = token
    return out
