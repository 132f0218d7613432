"""integrity/public_keys.py: ListPublicKeys' time range (defaults, InvalidTimeRangeException), its output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import botocore.session
import pytest

from trailkeeper.errors import AwsError
from trailkeeper.integrity.keys import PublicKey
from trailkeeper.integrity.public_keys import render_public_key, time_range

NOW = datetime(2026, 1, 2, tzinfo=UTC)
NOW_MS = 1_767_312_000_000


def test_time_range_defaults_to_now_for_both_ends() -> None:
    assert time_range({}, NOW) == (NOW_MS, NOW_MS)
    assert time_range({"StartTime": NOW - timedelta(hours=1)}, NOW) == (NOW_MS - 3_600_000, NOW_MS)


def test_time_range_start_after_end_invalid_time_range() -> None:
    with pytest.raises(AwsError) as raised:
        time_range({"StartTime": NOW, "EndTime": NOW - timedelta(seconds=1)}, NOW)
    assert (raised.value.code, raised.value.status) == ("InvalidTimeRangeException", 400)
    operation = (
        botocore.session.get_session().get_service_model("cloudtrail").operation_model("ListPublicKeys")
    )
    assert raised.value.code in {shape.name for shape in operation.error_shapes}


def test_render_public_key_members_of_the_model_in_order_whole_seconds() -> None:
    key = PublicKey("us-east-1", "ab" * 16, b"\x30\x82", NOW_MS + 700, NOW_MS + 2_592_000_700)
    shape = botocore.session.get_session().get_service_model("cloudtrail").shape_for("PublicKey")
    rendered = render_public_key(key)
    assert list(rendered) == list(shape.members)  # type: ignore[attr-defined]  # a StructureShape
    assert rendered["Value"] == b"\x30\x82"
    assert rendered["Fingerprint"] == "ab" * 16
    assert rendered["ValidityStartTime"] == NOW
    assert rendered["ValidityEndTime"] - rendered["ValidityStartTime"] == timedelta(days=30)
