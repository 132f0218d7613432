"""Trail sections ([delivery] [digest] [[bucket]] [[endpoint]] [[webhook]] [organization]) in, configs out.

Account ids named here (bucket owners and writers, the organization's accounts) must be accounts the
file configures (or the demo account when it configures none): anything else could never sign a call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from trailkeeper.config._table import Table
from trailkeeper.config.names import ACCOUNT_ID, ORGANIZATION_ID, is_bucket_name
from trailkeeper.config.settings import (
    BucketConfig,
    DeliveryConfig,
    EndpointConfig,
    OrganizationConfig,
    WebhookConfig,
)

__all__ = ["SINK_SERVICES", "buckets", "delivery", "endpoints", "organization", "webhooks"]

SINK_SERVICES = ("sns", "logs", "events")  # botocore names of the sinks' AWS-compatible endpoints
_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+")
# SNS topic names: 1-256 ASCII letters, digits, "_" and "-"; or a topic ARN ending in such a name.
_TOPIC = re.compile(r"(?:arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:)?[A-Za-z0-9_-]{1,256}")
_MAX_FILE_BYTES = 1 << 31
_DEFAULTS = DeliveryConfig()


def delivery(top: Table) -> DeliveryConfig:
    """[delivery] and [digest]: flush interval, file bound, local retention, digest period."""
    found, digest = top.table("delivery"), top.table("digest")
    if found is None and digest is None:
        return _DEFAULTS
    interval, max_bytes, retention = _DEFAULTS.interval_seconds, _DEFAULTS.max_file_bytes, None
    if found is not None:
        found.only("interval_seconds", "max_file_bytes", "local_retention_days")
        interval = found.number("interval_seconds", interval, 1, 3600)
        max_bytes = found.integer("max_file_bytes", max_bytes, 1024, _MAX_FILE_BYTES)
        if "local_retention_days" in found.data:
            retention = found.integer("local_retention_days", 1, 1, 36500)
    digest_interval = _DEFAULTS.digest_interval_seconds
    if digest is not None:
        digest.only("interval_seconds")
        digest_interval = digest.number("interval_seconds", digest_interval, 10, 86400)
    return DeliveryConfig(interval, max_bytes, retention, digest_interval)


def _known(t: Table, key: str, value: str, accounts: Sequence[str]) -> None:
    t.expect(ACCOUNT_ID.fullmatch(value), key, value, "must be 12 digits")
    t.expect(value in accounts, key, value, "is not a configured account")


def _bucket(t: Table, names: set[str], accounts: Sequence[str]) -> BucketConfig:
    t.only("name", "account", "writers", "endpoint_url", "region", "access_key_id", "secret_access_key")
    name = t.need("name", str)
    t.expect(is_bucket_name(name), "name", name, "is not a valid S3 bucket name")
    t.expect(name not in names, "name", name, "is configured twice")
    names.add(name)
    owner = t.get("account", str, accounts[0]) or accounts[0]
    _known(t, "account", owner, accounts)
    writers = t.texts(
        "writers", lambda w: w in accounts and w != owner, "must be a configured account other than the owner"
    )
    endpoint_url = t.url("endpoint_url") if "endpoint_url" in t.data else None
    region = t.get("region", str, "us-east-1") or ""
    t.expect(_REGION.fullmatch(region), "region", region, "is not a region name")
    key_id, secret = t.credentials()
    t.expect(key_id is None or endpoint_url, "access_key_id", key_id, "is only used with an endpoint_url")
    return BucketConfig(name, endpoint_url, region, owner, writers, key_id, secret)


def buckets(top: Table, accounts: Sequence[str]) -> tuple[BucketConfig, ...]:
    names: set[str] = set()
    return tuple(_bucket(b, names, accounts) for b in top.tables("bucket"))


def _endpoint(t: Table, services: set[str]) -> EndpointConfig:
    t.only("service", "url", "region", "access_key_id", "secret_access_key")
    service = t.need("service", str)
    t.expect(service in SINK_SERVICES, "service", service, f"must be one of: {', '.join(SINK_SERVICES)}")
    t.expect(service not in services, "service", service, "has two endpoints")
    services.add(service)
    url, region = t.url("url"), t.get("region", str)
    t.expect(region is None or _REGION.fullmatch(region), "region", region, "is not a region name")
    return EndpointConfig(service, url, region, *t.credentials())


def endpoints(top: Table) -> tuple[EndpointConfig, ...]:
    services: set[str] = set()
    return tuple(_endpoint(e, services) for e in top.tables("endpoint"))


def _webhook(t: Table, topics: set[str]) -> WebhookConfig:
    t.only("topic", "url")
    topic = t.need("topic", str)
    t.expect(_TOPIC.fullmatch(topic), "topic", topic, "is not an SNS topic name or ARN")
    t.expect(topic not in topics, "topic", topic, "has two webhooks")
    topics.add(topic)
    return WebhookConfig(topic, t.url("url"))


def webhooks(top: Table) -> tuple[WebhookConfig, ...]:
    topics: set[str] = set()
    return tuple(_webhook(w, topics) for w in top.tables("webhook"))


def organization(top: Table, accounts: Sequence[str]) -> OrganizationConfig | None:
    t = top.table("organization")
    if t is None:
        return None
    t.only("id", "management_account", "members")
    org_id, management = t.need("id", str), t.need("management_account", str)
    t.expect(ORGANIZATION_ID.fullmatch(org_id), "id", org_id, "must be o- and 10-32 characters [a-z0-9]")
    _known(t, "management_account", management, accounts)
    members = t.texts(
        "members",
        lambda m: m in accounts and m != management,
        "must be a configured account other than the management account",
    )
    t.expect(len(set(members)) == len(members), "members", members, "names an account twice")
    return OrganizationConfig(org_id, management, members)
