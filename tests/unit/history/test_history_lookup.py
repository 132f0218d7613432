"""The LookupEvents handler over a real journal of each kind: attributes, time, paging, errors, isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import botocore.session
import orjson
import pytest
from botocore.model import StringShape, StructureShape

from tests.unit.journal.support import ACCOUNT, OTHER_ACCOUNT, REGION, T0, Backend, db_resource, make_entry
from trailkeeper.errors import AwsError
from trailkeeper.history.lookup import LOOKUP_KEYS, lookup_events, plan_lookup
from trailkeeper.journal.base import LookupAttribute
from trailkeeper.services.registry import handler_for

from .support import NOW, lookup, lookup_all

DAY_MS = 86_400_000
GETDB = make_entry(T0 - 4000, event_name="GetDatabase", resources=db_resource("sales"))
CREATEDB = make_entry(T0 - 3000, event_name="CreateDatabase", read_only=False, resources=db_resource("hr"))
EMR = make_entry(
    T0 - 2000,
    event_name="StartJobRun",
    event_source="emr-serverless.amazonaws.com",
    read_only=False,
    username="etl-session",
    access_key_id="ASIAETL0000000000001",
    resources=(("AWS::EMRServerless::Application", "00f1"),),
)
SERVICE = make_entry(T0 - 1000, event_name="GetTable", username="", access_key_id="")
EVENTS = (GETDB, CREATEDB, EMR, SERVICE)


def _attr(key: str, value: str) -> dict[str, Any]:
    return {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}


def _with(
    store: Backend, events: tuple[Any, ...], params: dict[str, Any] | None = None, **env: Any
) -> dict[str, Any]:
    """One LookupEvents call against a fresh journal holding ``events``."""

    async def scenario() -> dict[str, Any]:
        async with store.fresh().opened() as journal:
            for entry in events:
                await journal.append(entry)
            return await lookup(journal, params, **env)

    return asyncio.run(scenario())


def _code(store: Backend, params: dict[str, Any]) -> tuple[str, int]:
    with pytest.raises(AwsError) as info:
        _with(store, (), params)
    return info.value.code, info.value.status


def test_lookup_events_is_registered_for_cloudtrail() -> None:
    assert handler_for("cloudtrail", "LookupEvents") is lookup_events


def test_lookup_keys_match_the_model_enum_and_the_journal_contract() -> None:
    model = botocore.session.get_session().get_service_model("cloudtrail")
    key_shape = model.shape_for("LookupAttributeKey")
    assert isinstance(key_shape, StringShape)
    enum = key_shape.enum
    assert list(LOOKUP_KEYS) == enum
    assert set(LOOKUP_KEYS) == set(get_args(LookupAttribute))


def test_event_shape_matches_the_model_and_keeps_the_record_bytes(backend: Backend) -> None:
    (event,) = _with(backend, (GETDB,))["Events"]
    assert event == {
        "EventId": GETDB.event_id,
        "EventName": "GetDatabase",
        "ReadOnly": "true",
        "AccessKeyId": "AKIAALICE0000000001X",
        "EventTime": datetime.fromtimestamp((T0 - 4000) / 1000, UTC),
        "EventSource": "glue.amazonaws.com",
        "Username": "alice",
        "Resources": [{"ResourceType": "AWS::Glue::Database", "ResourceName": "sales"}],
        "CloudTrailEvent": GETDB.record.decode(),
    }
    model = botocore.session.get_session().get_service_model("cloudtrail")
    event_shape = model.shape_for("Event")
    assert isinstance(event_shape, StructureShape)
    assert list(event) == list(event_shape.members)


def test_event_without_user_or_key_omits_them_and_keeps_empty_resources(backend: Backend) -> None:
    (event,) = _with(backend, (SERVICE,))["Events"]
    assert "Username" not in event
    assert "AccessKeyId" not in event
    assert event["Resources"] == []


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("EventId", EMR.event_id, [EMR]),
        ("EventName", "CreateDatabase", [CREATEDB]),
        ("ReadOnly", "true", [SERVICE, GETDB]),
        ("ReadOnly", "false", [EMR, CREATEDB]),
        ("Username", "etl-session", [EMR]),
        ("ResourceType", "AWS::Glue::Database", [CREATEDB, GETDB]),
        ("ResourceName", "hr", [CREATEDB]),
        ("ResourceName", f"arn:aws:glue:{REGION}:{ACCOUNT}:database/sales", [GETDB]),
        ("EventSource", "emr-serverless.amazonaws.com", [EMR]),
        ("AccessKeyId", "ASIAETL0000000000001", [EMR]),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_each_lookup_attribute_finds_its_events(
    backend: Backend, key: str, value: str, expected: list[Any]
) -> None:
    out = _with(backend, EVENTS, _attr(key, value))
    assert [e["EventId"] for e in out["Events"]] == [e.event_id for e in expected]
    assert "NextToken" not in out


def test_no_attribute_lists_everything_newest_first(backend: Backend) -> None:
    out = _with(backend, EVENTS)
    assert [e["EventId"] for e in out["Events"]] == [e.event_id for e in reversed(EVENTS)]


def test_time_range_is_inclusive_and_applies_with_an_attribute(backend: Backend) -> None:
    start, end = (
        datetime.fromtimestamp((T0 - 3000) / 1000, UTC),
        datetime.fromtimestamp((T0 - 2000) / 1000, UTC),
    )
    out = _with(backend, EVENTS, {"StartTime": start, "EndTime": end})
    assert [e["EventId"] for e in out["Events"]] == [EMR.event_id, CREATEDB.event_id]
    out = _with(backend, EVENTS, {"StartTime": start, "EndTime": end, **_attr("ReadOnly", "true")})
    assert out["Events"] == []


def test_default_window_is_the_last_90_days_and_older_start_times_are_clamped(backend: Backend) -> None:
    recent = make_entry(T0 - 89 * DAY_MS)
    stale = make_entry(T0 - 91 * DAY_MS)
    assert [e["EventId"] for e in _with(backend, (stale, recent))["Events"]] == [recent.event_id]
    long_ago = {"StartTime": NOW - timedelta(days=400)}
    assert [e["EventId"] for e in _with(backend, (stale, recent), long_ago)["Events"]] == [recent.event_id]


def test_max_results_defaults_to_50_and_pages_through_120_events_with_next_token(backend: Backend) -> None:
    entries = [make_entry(T0 - 120 + i) for i in range(120)]

    async def scenario() -> None:
        async with backend.opened() as journal:
            await asyncio.gather(*(journal.append(e) for e in entries))
            first = await lookup(journal)
            assert len(first["Events"]) == 50
            assert "NextToken" in first
            sizes, seen, params = [], [], {"MaxResults": 50}
            while True:
                page = await lookup(journal, params)
                sizes.append(len(page["Events"]))
                seen += [e["EventId"] for e in page["Events"]]
                if "NextToken" not in page:
                    break
                params["NextToken"] = page["NextToken"]
            assert sizes == [50, 50, 20]
            assert seen == [e.event_id for e in reversed(entries)]

    asyncio.run(scenario())


def test_paging_with_an_attribute_and_small_pages_sees_every_event_once(backend: Backend) -> None:
    entries = [make_entry(T0 - 100 + i, resources=db_resource("sales")) for i in range(25)]

    async def scenario() -> None:
        async with backend.opened() as journal:
            for entry in entries:
                await journal.append(entry)
            events = await lookup_all(journal, {"MaxResults": 4, **_attr("ResourceName", "sales")})
            assert [e["EventId"] for e in events] == [e.event_id for e in reversed(entries)]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "change",
    [
        {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateDatabase"}]},
        {"StartTime": NOW - timedelta(days=1)},
        {"EndTime": NOW},
        {"account_id": OTHER_ACCOUNT},
        {"region": "eu-west-1"},
        {"EventCategory": "insight"},
    ],
    ids=["other-attribute", "other-start", "other-end", "other-account", "other-region", "other-category"],
)
def test_next_token_reused_with_other_parameters_is_invalid(backend: Backend, change: dict[str, Any]) -> None:
    entries = [make_entry(T0 - 10 + i, event_name="GetDatabase") for i in range(3)]

    async def scenario() -> None:
        async with backend.opened() as journal:
            for entry in entries:
                await journal.append(entry)
            base = {"MaxResults": 1, **_attr("EventName", "GetDatabase")}
            token = (await lookup(journal, base))["NextToken"]
            env = {k: change[k] for k in ("account_id", "region") if k in change}
            params = {**base, **{k: v for k, v in change.items() if k not in env}, "NextToken": token}
            with pytest.raises(AwsError) as info:
                await lookup(journal, params, **env)
            assert (info.value.code, info.value.status) == ("InvalidNextTokenException", 400)
            assert (await lookup(journal, {**base, "MaxResults": 2, "NextToken": token}))["Events"]

    asyncio.run(scenario())


@pytest.mark.parametrize("token", ["not-a-token", "é", "A" * 66, "==="])
def test_malformed_next_token_is_invalid(backend: Backend, token: str) -> None:
    assert _code(backend, {"NextToken": token}) == ("InvalidNextTokenException", 400)


def test_empty_next_token_starts_from_the_newest_event(backend: Backend) -> None:
    out = _with(backend, EVENTS, {"NextToken": ""})
    assert out["Events"][0]["EventId"] == SERVICE.event_id


def test_edited_next_token_is_invalid(backend: Backend) -> None:
    entries = [make_entry(T0 - 10 + i) for i in range(3)]

    async def scenario() -> None:
        async with backend.opened() as journal:
            for entry in entries:
                await journal.append(entry)
            token = (await lookup(journal, {"MaxResults": 1}))["NextToken"]
            edited = token[:5] + ("B" if token[5] != "B" else "C") + token[6:]
            with pytest.raises(AwsError) as info:
                await lookup(journal, {"MaxResults": 1, "NextToken": edited})
            assert info.value.code == "InvalidNextTokenException"

    asyncio.run(scenario())


def test_a_caller_sees_only_its_account_and_the_region_it_asks(backend: Backend) -> None:
    mine = make_entry(T0 - 5)
    theirs = make_entry(T0 - 4, account_id=OTHER_ACCOUNT)
    elsewhere = make_entry(T0 - 3, region="eu-west-1")
    assert [e["EventId"] for e in _with(backend, (mine, theirs, elsewhere))["Events"]] == [mine.event_id]
    by_other = _with(backend, (mine, theirs, elsewhere), account_id=OTHER_ACCOUNT)["Events"]
    assert [e["EventId"] for e in by_other] == [theirs.event_id]
    assert [e["EventId"] for e in _with(backend, (mine, elsewhere), region="eu-west-1")["Events"]] == [
        elsewhere.event_id
    ]
    assert _with(backend, (theirs,), _attr("EventId", theirs.event_id))["Events"] == []


def test_event_category_insight_returns_no_events(backend: Backend) -> None:
    assert _with(backend, EVENTS, {"EventCategory": "insight"}) == {"Events": []}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "A"},
                               {"AttributeKey": "Username", "AttributeValue": "B"}]},
         "InvalidLookupAttributesException"),
        (_attr("Bogus", "A"), "InvalidLookupAttributesException"),
        (_attr("eventname", "A"), "InvalidLookupAttributesException"),  # keys are case-sensitive
        (_attr("EventName", ""), "InvalidLookupAttributesException"),
        (_attr("EventName", "x" * 2001), "InvalidLookupAttributesException"),
        (_attr("EventName", "_" * 1001), "InvalidLookupAttributesException"),  # "_" counts twice
        ({"LookupAttributes": [{"AttributeKey": "EventName"}]}, "InvalidLookupAttributesException"),
        ({"MaxResults": 0}, "InvalidMaxResultsException"),
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"StartTime": NOW, "EndTime": NOW - timedelta(seconds=1)}, "InvalidTimeRangeException"),
        ({"EventCategory": "management"}, "InvalidEventCategoryException"),
        ({"EventCategory": "Insight"}, "InvalidEventCategoryException"),
    ],
)  # fmt: skip
def test_invalid_requests_get_cloudtrails_error_codes(
    backend: Backend, params: dict[str, Any], code: str
) -> None:
    assert _code(backend, params) == (code, 400)


@pytest.mark.parametrize(
    "params",
    [
        _attr("EventName", "x" * 2000),
        _attr("EventName", "_" * 1000),
        {"MaxResults": 1},
        {"MaxResults": 50},
        {"StartTime": NOW, "EndTime": NOW},
    ],
)
def test_limit_values_are_accepted(backend: Backend, params: dict[str, Any]) -> None:
    assert "Events" in _with(backend, (), params)


def test_plan_is_pure_and_uses_the_callers_identity_and_clock() -> None:
    plan = plan_lookup(
        {"MaxResults": 7, **_attr("Username", "alice")},
        account_id=ACCOUNT,
        region=REGION,
        now=NOW,
        retention_days=90,
    )
    assert plan.query.account_id == ACCOUNT
    assert plan.query.region == REGION
    assert (plan.query.start_ms, plan.query.end_ms, plan.query.limit) == (T0 - 90 * DAY_MS, T0, 7)
    assert plan.query.attribute == ("Username", "alice")
    assert plan.query.after is None


def test_cloud_trail_event_is_the_stored_record_unchanged(backend: Backend) -> None:
    odd = make_entry(T0, note='ünïcödé \u2028 and "quotes"')
    (event,) = _with(backend, (odd,))["Events"]
    assert event["CloudTrailEvent"].encode() == odd.record
    assert orjson.loads(event["CloudTrailEvent"])["note"] == 'ünïcödé \u2028 and "quotes"'
