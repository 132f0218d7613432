"""CloudTrail LookupEvents: the request's parameters in, one page of Events (and maybe a NextToken) out.

``plan_lookup`` is pure validation and query planning (AWS's error codes; time and identity are
arguments); ``lookup_events`` is the registered handler that runs the plan against the journal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from trailkeeper.errors import AwsError
from trailkeeper.history.tokens import TokenScope, load_token_codec
from trailkeeper.journal.base import LookupAttribute, LookupQuery, StoredEvent
from trailkeeper.services.registry import CallEnv, register

__all__ = ["LOOKUP_KEYS", "LookupPlan", "lookup_events", "plan_lookup", "render_event"]

# The eight AttributeKey values (the model's enum); a test keeps this equal to the contract's Literal.
_KEYS: tuple[LookupAttribute, ...] = (
    "EventId", "EventName", "ReadOnly", "Username",
    "ResourceType", "ResourceName", "EventSource", "AccessKeyId",
)  # fmt: skip
LOOKUP_KEYS: dict[str, LookupAttribute] = {key: key for key in _KEYS}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_MAX_RESULTS = 50
_MAX_VALUE_LENGTH = 2000
_DOUBLE_WIDTH = frozenset("_ ,\n")  # the model's doc: these count twice towards the 2000 limit
_CATEGORIES = frozenset({"insight"})

# AWS documents these error codes but not their messages: the wording below is ours (UNCONFIRMED).


def _invalid_attributes(message: str) -> AwsError:
    return AwsError("InvalidLookupAttributesException", message, 400)


@dataclass(frozen=True, slots=True)
class LookupPlan:
    """A validated request: the journal query (``after`` still unset), the token scope, the token."""

    query: LookupQuery
    scope: TokenScope
    next_token: str | None
    insights: bool  # EventCategory=insight: Insights are not recorded yet, so nothing matches


def plan_lookup(
    params: dict[str, Any], *, account_id: str, region: str, now: datetime, retention_days: int
) -> LookupPlan:
    """Validate LookupEvents parameters as AWS does; raises AwsError with CloudTrail's codes."""
    attribute = _attribute(params.get("LookupAttributes"))
    given_start, given_end = _ms_or_none(params.get("StartTime")), _ms_or_none(params.get("EndTime"))
    if given_start is not None and given_end is not None and given_start > given_end:
        raise AwsError("InvalidTimeRangeException", "Start time must be less than or equal to end time.", 400)
    limit = _limit(params.get("MaxResults"))
    category = _category(params.get("EventCategory"))
    now_ms = _to_ms(now)
    oldest = now_ms - retention_days * _DAY_MS  # Event history keeps the last retention_days only
    start = oldest if given_start is None else max(given_start, oldest)
    end = now_ms if given_end is None else given_end
    token = params.get("NextToken")
    return LookupPlan(
        query=LookupQuery(account_id, region, start, end, limit, attribute),
        scope=TokenScope(account_id, region, attribute, given_start, given_end, category),
        next_token=token if isinstance(token, str) and token else None,
        insights=category is not None,
    )


@register("cloudtrail", "LookupEvents")
async def lookup_events(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    """The caller sees only its own account's events, in the region it called."""
    plan = plan_lookup(
        params,
        account_id=env.principal.account_id,
        region=env.region,
        now=env.now,
        retention_days=env.app.settings.retention_days,
    )
    journal = env.app.journal
    codec = await load_token_codec(journal)
    query = plan.query
    if plan.next_token is not None:
        query = replace(query, after=codec.decode(plan.scope, plan.next_token))
    if plan.insights:
        return {"Events": []}
    page = await journal.lookup(query)
    out: dict[str, Any] = {"Events": [render_event(stored) for stored in page.events]}
    if page.more and page.events:
        last = page.events[-1]
        out["NextToken"] = codec.encode(plan.scope, (last.entry.event_time_ms, last.seq))
    return out


def render_event(stored: StoredEvent) -> dict[str, Any]:
    """One ``Event`` in the model's member order; AWS leaves out an empty AccessKeyId or Username."""
    entry = stored.entry
    event: dict[str, Any] = {
        "EventId": entry.event_id,
        "EventName": entry.event_name,
        "ReadOnly": "true" if entry.read_only else "false",
    }
    if entry.access_key_id:
        event["AccessKeyId"] = entry.access_key_id
    event["EventTime"] = _EPOCH + timedelta(milliseconds=entry.event_time_ms)
    event["EventSource"] = entry.event_source
    if entry.username:
        event["Username"] = entry.username
    event["Resources"] = _resources(stored)  # real responses carry "Resources": [] when there is none
    event["CloudTrailEvent"] = entry.record.decode("utf-8")
    return event


def _attribute(raw: object) -> tuple[LookupAttribute, str] | None:
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list) or len(raw) > 1:
        raise _invalid_attributes("You can specify at most one lookup attribute.")
    item = raw[0] if isinstance(raw[0], dict) else {}
    key, value = item.get("AttributeKey"), item.get("AttributeValue")
    known = LOOKUP_KEYS.get(key) if isinstance(key, str) else None
    if known is None:
        raise _invalid_attributes(f"Invalid attribute key: {key}. Valid keys: {', '.join(LOOKUP_KEYS)}.")
    if not isinstance(value, str) or not value:
        raise _invalid_attributes(f"The attribute value for {key} must not be empty.")
    if len(value) + sum(ch in _DOUBLE_WIDTH for ch in value) > _MAX_VALUE_LENGTH:
        raise _invalid_attributes(f"The attribute value for {key} exceeds {_MAX_VALUE_LENGTH} characters.")
    return known, value


def _limit(raw: object) -> int:
    if raw is None:
        return _MAX_RESULTS
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= _MAX_RESULTS:
        raise AwsError("InvalidMaxResultsException", f"MaxResults must be between 1 and {_MAX_RESULTS}.", 400)
    return raw


def _category(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw in _CATEGORIES:
        return raw
    raise AwsError(
        "InvalidEventCategoryException", f"Event category {raw} is not valid. Valid values: insight.", 400
    )


def _ms_or_none(raw: object) -> int | None:
    return _to_ms(raw) if isinstance(raw, datetime) else None


def _to_ms(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def _resources(stored: StoredEvent) -> list[dict[str, str]]:
    # What LookupEvents lists is what a ResourceType/ResourceName lookup finds: the indexed pairs,
    # not the record's resources[] (CloudTrail's own API has none there, yet AWS lists resources).
    # Each resource is indexed under its short name and its ARN; it is shown once, by short name.
    shown = {(rtype, _short_name(name)): None for rtype, name in stored.entry.resources}
    return [{"ResourceType": rtype, "ResourceName": name} for rtype, name in shown]


def _short_name(name: str) -> str:
    """An ARN's last ``/`` (else ``:``) segment of its resource part, as record/ names resources."""
    if not name.startswith("arn:"):
        return name
    return name.split(":", 5)[-1].rsplit("/", 1)[-1].rsplit(":", 1)[-1]
