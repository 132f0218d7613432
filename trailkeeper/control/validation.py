"""CloudTrail's parameter rules: a request value (plus the trail's region, account) in, a checked value out.

Pure functions that raise AwsError with CloudTrail's exception names. The trail name texts are
moto's (moto/cloudtrail/exceptions.py, which copies AWS's); texts for the two rules moto does not
check (adjacent separators, IP address form) are UNCONFIRMED.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trailkeeper.config.names import is_bucket_name, is_ip_address
from trailkeeper.control import errors

__all__ = [
    "TrailRef",
    "check_bucket_name",
    "check_cloudwatch_logs",
    "check_prefix",
    "check_tags",
    "check_trail_name",
    "kms_key_arn",
    "parse_trail_ref",
    "topic_arn",
]

_ALNUM = re.compile(r"[A-Za-z0-9]")
_NAME_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_ADJACENT = re.compile(r"[._-]{2}")
_TRAIL_ARN = re.compile(r"arn:aws:cloudtrail:([a-z]{2}(?:-[a-z0-9]+)+):(\d{12}):trail/(.+)")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TOPIC_ARN = re.compile(r"arn:aws:sns:[a-z]{2}(?:-[a-z0-9]+)+:\d{12}:[A-Za-z0-9_-]{1,256}")
_KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}")
_ALIAS = re.compile(r"alias/[A-Za-z0-9/_-]{1,250}")
_KMS_ARN = re.compile(r"arn:aws:kms:[a-z]{2}(?:-[a-z0-9]+)+:\d{12}:(key/(?:.+)|alias/[A-Za-z0-9/_-]{1,250})")
_LOG_GROUP_ARN = re.compile(
    r"arn:aws:logs:[a-z]{2}(?:-[a-z0-9]+)+:(\d{12}):log-group:[\w./#-]{1,512}(?::\*)?"
)
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/[\w+=,.@/-]{1,512}")
# AWS tag rules: letters, digits, spaces and _ . : / = + - @ (Unicode letters and digits included).
_TAG_TEXT = re.compile(r"[\w\s.:/=+\-@]*")
_MAX_PREFIX = 200  # CreateTrail doc: "The maximum length is 200 characters."
_MAX_TAG_KEY, _MAX_TAG_VALUE = 128, 256


def check_trail_name(name: str) -> None:
    """The five CreateTrail naming rules, in moto's order; raises InvalidTrailNameException."""
    if len(name) < 3:
        raise errors.trail_name_invalid(
            "Trail name too short. Minimum allowed length: 3 characters. "
            f"Specified name length: {len(name)} characters."
        )
    if len(name) > 128:
        raise errors.trail_name_invalid(
            "Trail name too long. Maximum allowed length: 128 characters. "
            f"Specified name length: {len(name)} characters."
        )
    if not _ALNUM.fullmatch(name[0]):
        raise errors.trail_name_invalid("Trail name must starts with a letter or number.")
    if not _ALNUM.fullmatch(name[-1]):
        raise errors.trail_name_invalid("Trail name must ends with a letter or number.")
    if not _NAME_CHARS.fullmatch(name):
        raise errors.trail_name_invalid(
            "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, "
            "periods (.), hyphens (-), and underscores (_)."
        )
    if _ADJACENT.search(name):
        raise errors.trail_name_invalid("Trail name cannot contain adjacent periods, underscores or dashes.")
    if is_ip_address(name):
        raise errors.trail_name_invalid("Trail name cannot be formatted as an IP address.")


@dataclass(frozen=True, slots=True)
class TrailRef:
    """A ``Name`` / ``TrailName`` value: a plain trail name, or a trail ARN (region and account set)."""

    given: str
    name: str
    region: str | None = None
    account_id: str | None = None

    @property
    def is_arn(self) -> bool:
        return self.region is not None


def parse_trail_ref(value: str) -> TrailRef:
    """Anything starting ``arn:`` must be a trail ARN (CloudTrailARNInvalidException); else a valid name."""
    if value.startswith("arn:"):
        match = _TRAIL_ARN.fullmatch(value)
        if match is None or not _NAME_CHARS.fullmatch(match.group(3)):
            raise errors.arn_invalid(value)
        return TrailRef(value, match.group(3), match.group(1), match.group(2))
    check_trail_name(value)
    return TrailRef(value, value)


def check_bucket_name(bucket: str) -> None:
    if not is_bucket_name(bucket):
        raise errors.bucket_name_invalid(bucket)


def check_prefix(prefix: str) -> None:
    if len(prefix) > _MAX_PREFIX:
        raise errors.prefix_invalid(prefix)


def topic_arn(topic: str, region: str, account_id: str) -> str:
    """SnsTopicName (a name or an ARN) as the topic's ARN; a name is in the trail's region and account."""
    if _TOPIC_ARN.fullmatch(topic):
        return topic
    if _TOPIC_NAME.fullmatch(topic):
        return f"arn:aws:sns:{region}:{account_id}:{topic}"
    raise errors.topic_invalid(topic)


def kms_key_arn(key: str, region: str, account_id: str) -> str:
    """KmsKeyId (key id, alias name, key or alias ARN) as a full ARN, the form AWS answers with.

    AWS resolves an alias to its key's ARN through KMS; with no KMS here an alias stays an alias
    ARN (UNCONFIRMED whether AWS ever answers with one).
    """
    if _KMS_ARN.fullmatch(key):
        return key
    if _KEY_ID.fullmatch(key):
        return f"arn:aws:kms:{region}:{account_id}:key/{key}"
    if _ALIAS.fullmatch(key):
        return f"arn:aws:kms:{region}:{account_id}:{key}"
    raise errors.kms_key_invalid(key)


def check_cloudwatch_logs(group: str | None, role: str | None, account_id: str) -> None:
    """The log group and its delivery role go together, both in the trail's account."""
    if role and not group:
        raise errors.parameter_combination(
            "A CloudWatch Logs role ARN requires a CloudWatch Logs log group ARN."
        )
    if group and not role:
        raise errors.parameter_combination(
            "A CloudWatch Logs log group ARN requires a CloudWatch Logs role ARN."
        )
    if group and role:
        found = _LOG_GROUP_ARN.fullmatch(group)
        if found is None or found.group(1) != account_id:
            raise errors.cloudwatch_group_invalid(group)
        owner = _ROLE_ARN.fullmatch(role)
        if owner is None or owner.group(1) != account_id:
            raise errors.cloudwatch_role_invalid(role)


def check_tags(raw: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """A TagsList as (key, value) pairs; a missing Value is kept as "" (AWS: "a value of null")."""
    pairs: dict[str, str] = {}
    for tag in raw:
        key, value = tag.get("Key"), tag.get("Value") or ""
        if not isinstance(key, str) or not 1 <= len(key) <= _MAX_TAG_KEY or not _TAG_TEXT.fullmatch(key):
            raise errors.tag_invalid(
                f"Tag key {key} is not valid: use 1-128 letters, digits, spaces or _.:/=+-@."
            )
        if key.lower().startswith("aws:"):
            raise errors.tag_invalid(f"Tag key {key} is not valid: the aws: prefix is reserved for AWS use.")
        if not isinstance(value, str) or len(value) > _MAX_TAG_VALUE or not _TAG_TEXT.fullmatch(value):
            raise errors.tag_invalid(f"Tag value for key {key} is not valid: use at most 256 characters.")
        if key in pairs:
            raise errors.tag_invalid(f"Tag key {key} appears twice; tag keys must be unique.")
        pairs[key] = value
    return tuple(pairs.items())
