"""How trails, status, selectors and tags are answered; ListTrails paging; organization membership."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType

import pytest

from trailkeeper import organizations
from trailkeeper.config import OrganizationConfig, Settings
from trailkeeper.control import (
    access,
    errors,
    handlers,
    operations,
    params,
    selector_checks,
    selectors,
    sqlite_store,
    validation,
    views,
)
from trailkeeper.control.handlers import list_page
from trailkeeper.control.model import Trail, TrailStatus
from trailkeeper.control.views import created_view, selectors_view, status_view, tags_view, trail_view
from trailkeeper.errors import AwsError
from trailkeeper.organizations import Organization, organization_of

A = "111122223333"
TRAIL = Trail(A, "us-east-1", "trail-one", "audit-logs", tags=(("team", "data"), ("owner", "")))


def test_trail_view_leaves_out_unset_strings_and_keeps_booleans() -> None:
    assert trail_view(TRAIL) == {
        "Name": "trail-one",
        "S3BucketName": "audit-logs",
        "IncludeGlobalServiceEvents": True,
        "IsMultiRegionTrail": False,
        "HomeRegion": "us-east-1",
        "TrailARN": f"arn:aws:cloudtrail:us-east-1:{A}:trail/trail-one",
        "LogFileValidationEnabled": False,
        "HasCustomEventSelectors": False,
        "HasInsightSelectors": False,
        "IsOrganizationTrail": False,
    }
    assert "HomeRegion" not in created_view(TRAIL)


def test_trail_view_names_the_topic_both_ways() -> None:
    topic = f"arn:aws:sns:us-east-1:{A}:ct-topic"
    view = trail_view(Trail(A, "us-east-1", "trail-one", "audit-logs", sns_topic_arn=topic))
    assert (view["SnsTopicName"], view["SnsTopicARN"]) == ("ct-topic", topic)


def test_status_view_of_a_new_trail_has_the_deprecated_strings_empty() -> None:
    assert status_view(TrailStatus()) == {
        "IsLogging": False,
        "LatestDeliveryAttemptTime": "",
        "LatestNotificationAttemptTime": "",
        "LatestNotificationAttemptSucceeded": "",
        "LatestDeliveryAttemptSucceeded": "",
        "TimeLoggingStarted": "",
        "TimeLoggingStopped": "",
    }


def test_status_view_of_a_delivering_trail() -> None:
    ms = 1_454_022_144_869  # the CLI example's 2016-01-28T23:02:24Z
    status = TrailStatus(
        is_logging=True,
        start_logging_ms=ms,
        latest_delivery_ms=ms,
        latest_delivery_attempt_ms=ms,
        latest_delivery_attempt_succeeded_ms=ms,
        latest_notification_error="AuthorizationError",
    )
    view = status_view(status)
    moment = datetime(2016, 1, 28, 23, 2, 24, 869000, tzinfo=UTC)
    assert (view["StartLoggingTime"], view["LatestDeliveryTime"]) == (moment, moment)
    assert (
        view["LatestDeliveryAttemptTime"] == view["LatestDeliveryAttemptSucceeded"] == "2016-01-28T23:02:24Z"
    )
    assert view["TimeLoggingStarted"] == "2016-01-28T23:02:24Z"
    assert view["LatestNotificationError"] == "AuthorizationError"
    assert "StopLoggingTime" not in view


def test_selectors_view_answers_only_the_kind_in_use() -> None:
    assert "AdvancedEventSelectors" not in selectors_view(TRAIL)
    advanced = ({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},)
    view = selectors_view(Trail(A, "us-east-1", "trail-one", "audit-logs", advanced_event_selectors=advanced))
    assert view == {"TrailARN": TRAIL.arn, "AdvancedEventSelectors": list(advanced)}


def test_tags_view_leaves_out_an_empty_value() -> None:
    assert tags_view(TRAIL) == [{"Key": "team", "Value": "data"}, {"Key": "owner"}]


def test_list_page_pages_in_arn_order() -> None:
    trails = [Trail(A, region, f"trail-{i}", "b") for i in range(3) for region in ("us-east-1", "eu-west-1")]
    seen: list[str] = []
    page, token = list_page(trails, None, limit=4)
    seen += [t.arn for t in page]
    assert token is not None
    page, token = list_page(trails, token, limit=4)
    seen += [t.arn for t in page]
    assert token is None
    assert seen == sorted(t.arn for t in trails)


def test_list_page_refuses_a_bad_token() -> None:
    with pytest.raises(AwsError) as info:
        list_page([TRAIL], "%%%")
    assert info.value.code == "InvalidNextTokenException"


def test_organization_membership_from_settings() -> None:
    settings = Settings(organization=OrganizationConfig("o-exampleorgid", A, ("444455556666",)))
    org = organization_of(settings, "444455556666")
    assert org == Organization("o-exampleorgid", A, ("444455556666",))
    assert org.accounts == (A, "444455556666")
    assert org.is_management(A)
    assert not org.is_management("444455556666")
    assert organization_of(settings, "999999999999") is None
    assert organization_of(Settings(), A) is None


MODULES = [access, errors, handlers, operations, params, selector_checks, selectors, sqlite_store]
MODULES += [validation, views, organizations]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_exports_name_every_public_function_and_class(module: ModuleType) -> None:
    defined = {
        name
        for name, value in vars(module).items()
        if callable(value)
        and getattr(value, "__module__", None) == module.__name__
        and not name.startswith("_")
    }
    assert all(hasattr(module, name) for name in module.__all__)
    assert defined <= set(module.__all__)
