"""PutEventSelectors input rules: the request's selectors in, normalized selectors (or AwsError) out.

Limits from the InvalidEventSelectorsException doc and the CloudTrail quotas: 1-5 basic selectors,
250 data resource values over all of them, 500 values over every advanced condition. Basic
DataResources.Type is one of three types; advanced fields are those a trail accepts
(AdvancedFieldSelector reference). Texts marked CONFIRMED were seen in real answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from trailkeeper.control import errors
from trailkeeper.control.selectors import OPERATORS
from trailkeeper.errors import AwsError

__all__ = ["ADVANCED_FIELDS", "check_selectors"]

_MAX_BASIC, _MAX_DATA_VALUES, _MAX_ADVANCED_VALUES = 5, 250, 500
_READ_WRITE = ("ReadOnly", "WriteOnly", "All")
_EXCLUDABLE = frozenset({"kms.amazonaws.com", "rdsdata.amazonaws.com"})
# What a basic DataResources value may be, per type: the bare service ARN (every resource), an S3
# bucket ARN with "/" and an optional key prefix, or one function / table ARN.
_REGION_ACCOUNT = r"[a-z]{2}(?:-[a-z0-9]+)+:\d{12}"
_DATA_VALUES = {
    "AWS::S3::Object": re.compile(r"arn:aws:s3(?::::|:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*)?"),
    "AWS::Lambda::Function": re.compile(
        rf"arn:aws:lambda(?::{_REGION_ACCOUNT}:function:[A-Za-z0-9_-]{{1,64}}(?::[A-Za-z0-9$_-]+)?)?"
    ),
    "AWS::DynamoDB::Table": re.compile(
        rf"arn:aws:dynamodb(?::{_REGION_ACCOUNT}:table/[A-Za-z0-9_.-]{{3,255}})?"
    ),
}
# Fields a trail's advanced selectors may filter on; the first three take Equals only (model doc).
ADVANCED_FIELDS = frozenset(
    {
        "eventCategory",
        "eventSource",
        "eventName",
        "readOnly",
        "resources.type",
        "resources.ARN",
        "eventType",
        "userIdentity.arn",
        "sessionCredentialFromConsole",
        "errorCode",
        "vpcEndpointId",
    }
)
_EQUALS_ONLY = frozenset({"eventCategory", "readOnly", "resources.type"})
_CATEGORIES = frozenset({"Management", "Data", "NetworkActivity"})  # those a trail (not a data store) logs
_FIXED_VALUES = {"eventCategory": _CATEGORIES, "readOnly": frozenset({"true", "false"})}
# Fields a selector of that category must also filter on (AdvancedFieldSelector reference).
_REQUIRED_WITH = {"Data": "resources.type", "NetworkActivity": "eventSource"}


def check_selectors(
    params: Mapping[str, Any],
) -> tuple[tuple[dict[str, Any], ...] | None, tuple[dict[str, Any], ...] | None]:
    """(EventSelectors, AdvancedEventSelectors) to store: exactly one is given, the other is None."""
    basic, advanced = params.get("EventSelectors"), params.get("AdvancedEventSelectors")
    if (basic is None) == (advanced is None):
        # The doc: "You can use either AdvancedEventSelectors or EventSelectors, but not both."
        raise errors.selectors_invalid(
            "Specify either EventSelectors or AdvancedEventSelectors, but not both."
        )
    if basic is not None:
        return _basic_selectors(basic), None
    assert advanced is not None
    return None, _advanced_selectors(advanced)


def _invalid_value(value: object, field: str) -> AwsError:
    # CONFIRMED form: "Value arn:aws:s3:::* for DataResources.Values is invalid." (aws-samples/
    # aws-security-reference-architecture-examples#335); the other fields follow it.
    return errors.selectors_invalid(f"Value {value} for {field} is invalid.")


def _basic_selectors(raw: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    if not 1 <= len(raw) <= _MAX_BASIC:
        raise errors.selectors_invalid("Specify a valid number of event selectors (1 to 5) for your trail.")
    selectors = tuple(_basic(selector) for selector in raw)
    if sum(len(r["Values"]) for s in selectors for r in s["DataResources"]) > _MAX_DATA_VALUES:
        # CONFIRMED: aws-solutions/aws-crr-monitor#7.
        raise errors.selectors_invalid(
            "Specify a valid number of DataResources.Values (0 to 250) for all your selectors"
        )
    return selectors


def _basic(raw: Mapping[str, Any]) -> dict[str, Any]:
    kind = raw.get("ReadWriteType", "All")
    if kind not in _READ_WRITE:
        raise _invalid_value(kind, "ReadWriteType")
    excluded = list(raw.get("ExcludeManagementEventSources") or [])
    for source in excluded:
        if source not in _EXCLUDABLE:
            raise _invalid_value(source, "ExcludeManagementEventSources")
    return {
        "ReadWriteType": kind,
        "IncludeManagementEvents": raw.get("IncludeManagementEvents", True),
        "DataResources": [_data_resource(r) for r in raw.get("DataResources") or []],
        "ExcludeManagementEventSources": excluded,
    }


def _data_resource(raw: Mapping[str, Any]) -> dict[str, Any]:
    kind, values = raw.get("Type"), list(raw.get("Values") or [])
    pattern = _DATA_VALUES.get(kind) if isinstance(kind, str) else None
    if pattern is None:
        raise _invalid_value(kind, "DataResources.Type")
    for value in values:
        if not pattern.fullmatch(value):
            raise _invalid_value(value, "DataResources.Values")
    return {"Type": kind, "Values": values}


def _advanced_selectors(raw: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    if not raw:
        raise errors.selectors_invalid("Specify at least one advanced event selector.")
    selectors = tuple(_advanced(selector) for selector in raw)
    total = sum(len(c[op]) for s in selectors for c in s["FieldSelectors"] for op in OPERATORS if op in c)
    if total > _MAX_ADVANCED_VALUES:
        raise errors.selectors_invalid(
            "Specify up to 500 values for all conditions in all advanced event selectors for a trail."
        )
    return selectors


def _advanced(raw: Mapping[str, Any]) -> dict[str, Any]:
    conditions = [_condition(c) for c in raw.get("FieldSelectors") or []]
    fields = {c["Field"]: c for c in conditions}
    category = fields.get("eventCategory")
    if category is None:
        raise errors.selectors_invalid(
            "Each advanced event selector must have an eventCategory field selector."
        )
    for value in category["Equals"]:
        if (needed := _REQUIRED_WITH.get(value)) and needed not in fields:
            raise errors.selectors_invalid(
                f"A selector for {value} events must have a {needed} field selector."
            )
    selector: dict[str, Any] = {"Name": raw["Name"]} if raw.get("Name") is not None else {}
    selector["FieldSelectors"] = conditions
    return selector


def _condition(raw: Mapping[str, Any]) -> dict[str, Any]:
    field = raw.get("Field")
    if field not in ADVANCED_FIELDS:
        raise _invalid_value(field, "FieldSelectors.Field")
    present = [op for op in OPERATORS if raw.get(op) is not None]
    if not present:
        raise errors.selectors_invalid(f"The field selector for {field} must use at least one operator.")
    if field in _EQUALS_ONLY and present != ["Equals"]:
        raise errors.selectors_invalid(f"The field selector for {field} supports only the Equals operator.")
    condition: dict[str, Any] = {"Field": field}
    allowed = _FIXED_VALUES.get(field)
    for op in present:
        values = list(raw[op])
        if not values:
            raise errors.selectors_invalid(f"The {op} operator of the {field} field selector has no values.")
        for value in values:
            if not isinstance(value, str) or not value or (allowed is not None and value not in allowed):
                raise _invalid_value(value, field)
        condition[op] = values
    return condition
