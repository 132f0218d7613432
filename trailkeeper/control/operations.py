"""Status, selector and tag operations of a trail: the verified call and its parameters in, the output out.

GetTrailStatus, StartLogging, StopLogging, GetEventSelectors, PutEventSelectors, AddTags,
ListTags, RemoveTags. Start and stop record the journal positions that bound delivery: events
after ``logging_since_seq`` are delivered, none after ``stopped_at_seq`` while stopped, and none
in the ``paused`` ranges between a stop and the next start.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from trailkeeper.control import errors
from trailkeeper.control.access import Caller, caller_of, changeable, readable, store_of
from trailkeeper.control.model import Trail
from trailkeeper.control.selector_checks import check_selectors
from trailkeeper.control.store import TrailStore
from trailkeeper.control.validation import check_tags, parse_trail_ref
from trailkeeper.control.views import selectors_view, status_view, tags_view
from trailkeeper.services.registry import CallEnv, register

__all__ = [
    "add_tags",
    "get_event_selectors",
    "get_trail_status",
    "list_tags",
    "put_event_selectors",
    "remove_tags",
    "start_logging",
    "stop_logging",
]


def _now_ms(env: CallEnv) -> int:
    return int(env.now.timestamp() * 1000)


@register("cloudtrail", "GetTrailStatus")
async def get_trail_status(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(env)
    trail = await readable(store, caller_of(env), params["Name"], arn_in_message=True)
    return status_view(await store.status(trail.arn))


@register("cloudtrail", "StartLogging")
async def start_logging(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(env)
    trail = await changeable(store, caller_of(env), params["Name"])
    status = await store.status(trail.arn)
    if not status.is_logging:  # starting a logging trail changes nothing
        since = await env.app.journal.last_seq()
        if status.stopped_at_seq is None:  # first start: deliver what comes from now on
            changes: dict[str, Any] = {"logging_since_seq": since}
        else:
            # A restart: events before the stop that are not delivered yet still are; only those
            # journaled while stopped are skipped.
            changes = {"paused": (*status.paused, (status.stopped_at_seq, since))}
        await store.update_status(
            trail.arn, is_logging=True, start_logging_ms=_now_ms(env), stopped_at_seq=None, **changes
        )
    return {}


@register("cloudtrail", "StopLogging")
async def stop_logging(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(env)
    trail = await changeable(store, caller_of(env), params["Name"])
    if (await store.status(trail.arn)).is_logging:
        stopped_at = await env.app.journal.last_seq()
        await store.update_status(
            trail.arn, is_logging=False, stop_logging_ms=_now_ms(env), stopped_at_seq=stopped_at
        )
    return {}


@register("cloudtrail", "GetEventSelectors")
async def get_event_selectors(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    return selectors_view(await readable(store_of(env), caller_of(env), params["TrailName"]))


@register("cloudtrail", "PutEventSelectors")
async def put_event_selectors(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(env)
    trail = await changeable(store, caller_of(env), params["TrailName"])
    basic, advanced = check_selectors(params)
    updated = replace(trail, event_selectors=basic, advanced_event_selectors=advanced)
    await store.replace(updated)
    return selectors_view(updated)


async def _tagged(store: TrailStore, caller: Caller, resource_id: str) -> Trail:
    """The trail a ResourceId names: an ARN of this region and account (tags are regional)."""
    ref = parse_trail_ref(resource_id)
    if not ref.is_arn:
        raise errors.arn_invalid(resource_id)
    if ref.region != caller.region:
        raise errors.arn_region(caller.region)
    if ref.account_id != caller.account_id:
        raise errors.arn_owners()
    trail = await store.get(resource_id)
    if trail is None:
        raise errors.resource_not_found(resource_id)
    return trail


@register("cloudtrail", "AddTags")
async def add_tags(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(env)
    trail = await _tagged(store, caller_of(env), params["ResourceId"])
    tags = dict(trail.tags)
    tags.update(check_tags(params["TagsList"]))  # a new value for an existing key overwrites it
    if len(tags) > errors.MAX_TAGS:
        raise errors.tags_limit()
    await store.replace(replace(trail, tags=tuple(tags.items())))
    return {}


@register("cloudtrail", "RemoveTags")
async def remove_tags(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    store = store_of(env)
    trail = await _tagged(store, caller_of(env), params["ResourceId"])
    gone = {key for key, _ in check_tags(params["TagsList"])}
    await store.replace(replace(trail, tags=tuple((k, v) for k, v in trail.tags if k not in gone)))
    return {}


@register("cloudtrail", "ListTags")
async def list_tags(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    store, caller = store_of(env), caller_of(env)
    found = [await _tagged(store, caller, arn) for arn in params["ResourceIdList"]]
    return {"ResourceTagList": [{"ResourceId": t.arn, "TagsList": tags_view(t)} for t in found]}
