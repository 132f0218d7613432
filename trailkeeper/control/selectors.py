"""Event selector semantics: a trail and one CloudTrail record in, whether the trail logs the record out.

Basic selectors (EventSelector) are ORed; each checks ReadWriteType against ``readOnly``, then
management events against IncludeManagementEvents / ExcludeManagementEventSources and data events
against DataResources. Advanced selectors are ORed; within one, field conditions are ANDed; the
values of a positive operator (Equals, StartsWith, EndsWith) are ORed and a negative operator
(NotEquals, NotStartsWith, NotEndsWith) holds only when no value matches (AWS's
AdvancedFieldSelector reference). A trail with neither logs every management event, read and write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from trailkeeper.control.model import Trail
from trailkeeper.journal.base import JournalEntry

__all__ = ["OPERATORS", "default_selectors", "entry_matches", "matches"]

# Operator -> (test, negated). Field values and operands are strings, compared case-sensitively.
OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "Equals": (str.__eq__, False),
    "StartsWith": (str.startswith, False),
    "EndsWith": (str.endswith, False),
    "NotEquals": (str.__eq__, True),
    "NotStartsWith": (str.startswith, True),
    "NotEndsWith": (str.endswith, True),
}
# DataResource.Values that compare as ARN prefixes; for other types a value is an exact ARN
# ("Lambda function ARNs are exact", DataResource doc). A bare "arn:aws:SERVICE" covers every resource.
_PREFIX_TYPES = frozenset({"AWS::S3::Object"})
_INDEXED = frozenset({"eventCategory", "eventSource", "eventName", "readOnly"})  # JournalEntry columns


def default_selectors() -> tuple[dict[str, Any], ...]:
    """What a trail never given selectors logs, as GetEventSelectors shows it: all management events."""
    return (
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [],
            "ExcludeManagementEventSources": [],
        },
    )


def matches(trail: Trail, record: Mapping[str, Any]) -> bool:
    """Whether ``trail``'s selectors log ``record`` (a CloudTrail record as a JSON object)."""
    if trail.advanced_event_selectors is not None:
        return any(_advanced(selector, record) for selector in trail.advanced_event_selectors)
    selectors = trail.event_selectors if trail.event_selectors is not None else default_selectors()
    return any(_basic(selector, record) for selector in selectors)


def entry_matches(trail: Trail, entry: JournalEntry) -> bool:
    """``matches`` for a journal entry, decoding the record only when the indexed columns cannot answer.

    A management event's category, source, name and readOnly are indexed: basic selectors, and
    advanced ones filtering on nothing else, need no decoding (the delivery engine asks per trail).
    """
    advanced = trail.advanced_event_selectors
    if entry.management:
        facts = {
            "eventCategory": "Management",
            "managementEvent": True,
            "readOnly": entry.read_only,
            "eventSource": entry.event_source,
            "eventName": entry.event_name,
        }
        if advanced is None:
            selectors = trail.event_selectors if trail.event_selectors is not None else default_selectors()
            return any(_basic(selector, facts) for selector in selectors)
        if all(c.get("Field") in _INDEXED for s in advanced for c in s.get("FieldSelectors") or ()):
            return any(_advanced(selector, facts) for selector in advanced)
    elif advanced is None and not any(s.get("DataResources") for s in trail.event_selectors or ()):
        return False  # no data resources: basic selectors log no data or network activity event
    return matches(trail, orjson.loads(entry.record))


# -- basic selectors ----------------------------------------------------------------------------


def _read_only(record: Mapping[str, Any]) -> bool:
    value = record.get("readOnly")
    return value is True or value == "true"  # very old records spell it as a string


def _category(record: Mapping[str, Any]) -> str:
    category = record.get("eventCategory")
    if isinstance(category, str):
        return category
    # Records before eventVersion 1.07 have no eventCategory, only managementEvent.
    return "Data" if record.get("managementEvent") is False else "Management"


def _basic(selector: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    kind = selector.get("ReadWriteType", "All")
    if kind != "All" and (kind == "ReadOnly") != _read_only(record):
        return False
    category = _category(record)
    if category == "Management":
        excluded = selector.get("ExcludeManagementEventSources") or ()
        return (
            bool(selector.get("IncludeManagementEvents", True)) and record.get("eventSource") not in excluded
        )
    if category == "Data":
        return any(_data_resource(resource, record) for resource in selector.get("DataResources") or ())
    return False  # network activity events need advanced selectors


def _data_resource(resource: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    kind = resource.get("Type")
    arns = [r["ARN"] for r in _resources(record) if r.get("type") == kind and isinstance(r.get("ARN"), str)]
    return any(
        _data_value(value, arn, kind in _PREFIX_TYPES)
        for value in resource.get("Values") or ()
        for arn in arns
    )


def _data_value(value: str, arn: str, prefix: bool) -> bool:
    if value.count(":") == 2 or value.endswith(":::"):  # "arn:aws:s3", "arn:aws:s3:::": the whole type
        return arn.startswith(value.rstrip(":") + ":")
    return arn.startswith(value) if prefix else arn == value


def _resources(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = record.get("resources")
    return [r for r in found if isinstance(r, Mapping)] if isinstance(found, list) else []


# -- advanced selectors -------------------------------------------------------------------------


def _top(name: str) -> Callable[[Mapping[str, Any]], list[str]]:
    def read(record: Mapping[str, Any]) -> list[str]:
        value = record.get(name)
        return [value] if isinstance(value, str) else []

    return read


def _identity_arn(record: Mapping[str, Any]) -> list[str]:
    identity = record.get("userIdentity")
    arn = identity.get("arn") if isinstance(identity, Mapping) else None
    return [arn] if isinstance(arn, str) else []


# Field -> its values in a record (several for resources.*); fields the record lacks yield no value.
_FIELDS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "eventCategory": lambda r: [_category(r)],
    "readOnly": lambda r: ["true" if _read_only(r) else "false"],
    "sessionCredentialFromConsole": lambda r: [str(r.get("sessionCredentialFromConsole") == "true").lower()],
    "userIdentity.arn": _identity_arn,
    **{name: _top(name) for name in ("eventSource", "eventName", "eventType", "errorCode", "vpcEndpointId")},
}


def _holds(condition: Mapping[str, Any], values: Sequence[str]) -> bool:
    """Every operator of one field selector, ANDed."""
    for operator, (test, negated) in OPERATORS.items():
        operands = condition.get(operator)
        if operands is None:
            continue
        hit = any(test(value, operand) for value in values for operand in operands)
        if hit == negated:
            return False
    return True


def _advanced(selector: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    conditions: list[Mapping[str, Any]] = selector.get("FieldSelectors") or []
    resources = _resources(record)
    type_conditions = [c for c in conditions if c.get("Field") == "resources.type"]
    # resources.ARN is judged on the resources of the selected types (an S3 GetObject names its
    # bucket too, which a NotStartsWith on object ARNs must not let through).
    chosen = [r for r in resources if all(_holds(c, _texts([r.get("type")])) for c in type_conditions)]
    for condition in conditions:
        field = condition.get("Field")
        if field == "resources.type":
            values = _texts(r.get("type") for r in resources)
        elif field == "resources.ARN":
            values = _texts(r.get("ARN") for r in chosen)
        else:
            values = _FIELDS[field](record) if field in _FIELDS else []
        if not _holds(condition, values):
            return False
    return True


def _texts(values: Iterable[object]) -> list[str]:
    return [v for v in values if isinstance(v, str)]
