"""Event selector semantics over real records: which of them a trail's basic or advanced selectors log."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from trailkeeper.control.model import Trail
from trailkeeper.control.selectors import default_selectors, entry_matches, matches
from trailkeeper.journal.base import JournalEntry

from .support import invictus_record, panther_record

Record = dict[str, Any]


def _records() -> dict[str, Record]:
    return {
        # Management events from genuine delivered log files (invictus-ir).
        "ec2-read": invictus_record("7b3c163d-03e8-4b47-bfa7-9031f811475d"),  # DescribeRouteTables
        "ssm-write": invictus_record("93e58a50-11f0-4859-8f1c-472dd35a1aeb"),  # PutParameter
        "kms-read": invictus_record("c6ebc8b7-572c-4123-92bf-9d94933724ca"),  # Decrypt
        # S3 data events (Panther's rule tests): object write by Alice, a PutObject naming bucket
        # and object, and a read that names only the bucket.
        "s3-delete": panther_record("AWS.S3.DeleteObject", "DeleteObject"),
        "s3-put": panther_record("AWS.S3.RansomwareNoteUpload", "Normal File Upload - quarterly_report.pdf"),
        "s3-list": panther_record("AWS.S3.DeleteObject", "Other Event"),
    }


@pytest.fixture(scope="module")
def records() -> dict[str, Record]:
    return _records()


def _trail(basic: list[Record] | None = None, advanced: list[Record] | None = None) -> Trail:
    return Trail(
        "111122223333",
        "us-east-1",
        "selector-trail",
        "audit-logs",
        event_selectors=None if basic is None else tuple(basic),
        advanced_event_selectors=None if advanced is None else tuple(advanced),
    )


def _entry(record: Record) -> JournalEntry:
    return JournalEntry(
        record=orjson.dumps(record),
        account_id="111122223333",
        region="us-east-1",
        event_time_ms=0,
        event_id=str(record.get("eventID")),
        event_name=str(record["eventName"]),
        event_source=str(record["eventSource"]),
        read_only=record.get("readOnly") is True,
        username="",
        access_key_id="",
        management=record.get("managementEvent") is not False,
    )


S3_ALL = {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}
S3_EXAMPLE = {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::example-bucket/"]}
MANAGEMENT = {"Field": "eventCategory", "Equals": ["Management"]}
DATA = {"Field": "eventCategory", "Equals": ["Data"]}
S3_OBJECTS = {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}

# (what the case shows, basic selectors, advanced selectors, {record: logged?})
CASES: list[tuple[str, list[Record] | None, list[Record] | None, dict[str, bool]]] = [
    (
        "no selectors: every management event, no data event",
        None,
        None,
        {"ec2-read": True, "ssm-write": True, "kms-read": True, "s3-delete": False, "s3-list": False},
    ),
    ("ReadOnly", [{"ReadWriteType": "ReadOnly"}], None, {"ec2-read": True, "ssm-write": False}),
    ("WriteOnly", [{"ReadWriteType": "WriteOnly"}], None, {"ec2-read": False, "ssm-write": True}),
    ("management events off", [{"IncludeManagementEvents": False}], None, {"ec2-read": False}),
    (
        "KMS events excluded",
        [{"ExcludeManagementEventSources": ["kms.amazonaws.com"]}],
        None,
        {"kms-read": False, "ec2-read": True},
    ),
    (
        "one bucket's objects: a prefix of the object ARN",
        [{"DataResources": [S3_EXAMPLE]}],
        None,
        {"s3-delete": True, "s3-put": False, "s3-list": False, "ssm-write": True},
    ),
    ("every S3 object", [{"DataResources": [S3_ALL]}], None, {"s3-put": True, "s3-delete": True}),
    (
        "an object key prefix",
        [
            {
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::my-company-bucket/reports/"]}
                ]
            }
        ],
        None,
        {"s3-put": True, "s3-delete": False},
    ),
    (
        "ReadWriteType applies to data events too",
        [{"ReadWriteType": "ReadOnly", "DataResources": [S3_ALL]}],
        None,
        {"s3-delete": False, "ec2-read": True},
    ),
    (
        "Lambda function ARNs are exact",
        [{"DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}]}],
        None,
        {"s3-delete": False},
    ),
    (
        "basic selectors are ORed",
        [{"ReadWriteType": "WriteOnly"}, {"IncludeManagementEvents": False, "DataResources": [S3_EXAMPLE]}],
        None,
        {"ssm-write": True, "ec2-read": False, "s3-delete": True},
    ),
    (
        "advanced: management events only",
        None,
        [{"FieldSelectors": [MANAGEMENT]}],
        {"ec2-read": True, "ssm-write": True, "s3-delete": False},
    ),
    (
        "advanced: write management events",
        None,
        [{"FieldSelectors": [MANAGEMENT, {"Field": "readOnly", "Equals": ["false"]}]}],
        {"ec2-read": False, "ssm-write": True},
    ),
    (
        "advanced: NotEquals on eventSource",
        None,
        [{"FieldSelectors": [MANAGEMENT, {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}]}],
        {"kms-read": False, "ec2-read": True},
    ),
    (
        "advanced: objects of one bucket",
        None,
        [
            {
                "FieldSelectors": [
                    DATA,
                    S3_OBJECTS,
                    {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::example-bucket/"]},
                ]
            }
        ],
        {"s3-delete": True, "s3-put": False, "ec2-read": False},
    ),
    (
        "advanced: NotStartsWith judges the object, not the bucket named beside it",
        None,
        [
            {
                "FieldSelectors": [
                    DATA,
                    S3_OBJECTS,
                    {"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::my-company-bucket/reports/"]},
                ]
            }
        ],
        {"s3-put": False, "s3-delete": True},
    ),
    (
        "advanced: values of one operator are ORed",
        None,
        [
            {
                "FieldSelectors": [
                    DATA,
                    S3_OBJECTS,
                    {"Field": "eventName", "Equals": ["PutObject", "CopyObject"]},
                ]
            }
        ],
        {"s3-put": True, "s3-delete": False},
    ),
    (
        "advanced: NotEquals excludes every listed value",
        None,
        [
            {
                "FieldSelectors": [
                    DATA,
                    S3_OBJECTS,
                    {"Field": "eventName", "NotEquals": ["DeleteObject", "PutObject"]},
                ]
            }
        ],
        {"s3-put": False, "s3-delete": False},
    ),
    (
        "advanced: userIdentity.arn",
        None,
        [{"FieldSelectors": [DATA, S3_OBJECTS, {"Field": "userIdentity.arn", "EndsWith": [":user/Alice"]}]}],
        {"s3-delete": True, "s3-put": False},
    ),
    (
        "advanced: selectors are ORed",
        None,
        [
            {"FieldSelectors": [MANAGEMENT, {"Field": "readOnly", "Equals": ["true"]}]},
            {"FieldSelectors": [DATA, S3_OBJECTS]},
        ],
        {"ec2-read": True, "ssm-write": False, "s3-delete": True, "s3-list": False},
    ),
]


@pytest.mark.parametrize(
    ("basic", "advanced", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_matches_real_records_as_aws_documents(
    records: dict[str, Record],
    basic: list[Record] | None,
    advanced: list[Record] | None,
    expected: dict[str, bool],
) -> None:
    trail = _trail(basic, advanced)
    assert {name: matches(trail, records[name]) for name in expected} == expected


@pytest.mark.parametrize(
    ("basic", "advanced", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_entry_matches_agrees_with_matches(
    records: dict[str, Record],
    basic: list[Record] | None,
    advanced: list[Record] | None,
    expected: dict[str, bool],
) -> None:
    trail = _trail(basic, advanced)
    assert {name: entry_matches(trail, _entry(records[name])) for name in expected} == expected


def test_default_selectors_are_the_get_event_selectors_default() -> None:
    assert default_selectors() == (
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [],
            "ExcludeManagementEventSources": [],
        },
    )
    # A fresh copy each time: a caller changing one cannot change the default.
    default_selectors()[0]["DataResources"].append("x")
    assert default_selectors()[0]["DataResources"] == []
