"""The typed settings tree: plain frozen values in, nothing out; ``load_settings`` builds one from TOML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "UPSTREAM_SERVICES",
    "AccessKeyConfig",
    "AccountConfig",
    "BucketConfig",
    "DeliveryConfig",
    "EndpointConfig",
    "OrganizationConfig",
    "RoleConfig",
    "Settings",
    "UpstreamConfig",
    "UserConfig",
    "WebhookConfig",
    "demo_accounts",
]

# The services a call may be forwarded upstream for (botocore names); the catalog's backend list.
UPSTREAM_SERVICES = ("glue", "emr-serverless")


@dataclass(frozen=True, slots=True)
class AccessKeyConfig:
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True, slots=True)
class UserConfig:
    name: str
    path: str = "/"
    access_keys: tuple[AccessKeyConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleConfig:
    name: str
    trusted: tuple[
        str, ...
    ] = ()  # principal ARNs allowed to AssumeRole; "arn:aws:iam::ACCT:root" = whole account
    path: str = "/"
    max_session_duration: int = 3600


@dataclass(frozen=True, slots=True)
class AccountConfig:
    id: str
    root: AccessKeyConfig | None = None
    users: tuple[UserConfig, ...] = ()
    roles: tuple[RoleConfig, ...] = ()
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    service: str  # botocore service name: "glue", "emr-serverless"
    url: str
    # Credentials to re-sign forwarded calls with; None = re-sign with the caller's own key.
    access_key_id: str | None = None
    secret_access_key: str | None = None


@dataclass(frozen=True, slots=True)
class BucketConfig:
    """A bucket trails may deliver to: local (under data_dir/buckets) unless endpoint_url is set."""

    name: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    # The owner (reads it through the S3 view). load_settings fills in the first configured account
    # when the file names none; None remains only for settings built in code.
    account: str | None = None
    writers: tuple[str, ...] = ()  # other accounts whose trails may deliver into it (its bucket policy)
    access_key_id: str | None = None
    secret_access_key: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """An AWS-compatible endpoint a delivery sink calls: service "sns", "logs" or "events"."""

    service: str
    url: str
    region: str | None = None  # None = the trail's region
    access_key_id: str | None = None
    secret_access_key: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Notifications for an SNS topic (ARN or name) POSTed to ``url`` instead of published to SNS."""

    topic: str
    url: str


@dataclass(frozen=True, slots=True)
class OrganizationConfig:
    id: str  # "o-exampleorgid"
    management_account: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    interval_seconds: float = 60.0  # log file flush interval (down to 1 s for tests)
    max_file_bytes: int = 10 * 1024 * 1024  # uncompressed size bound of one log file
    # Delete local-bucket objects older than this many days (stands in for S3 lifecycle rules).
    local_retention_days: int | None = None
    digest_interval_seconds: float = 3600.0  # digest period (down to 10 s for tests)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = Path(".trailkeeper")
    config_file: Path | None = None
    accounts: tuple[AccountConfig, ...] = ()
    upstreams: tuple[UpstreamConfig, ...] = ()
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For is believed (IPs or CIDRs)
    fail_open_reads: bool = False  # answer read-only calls even when the journal cannot write
    max_body_bytes: int = 10 * 1024 * 1024
    retention_days: int = 90
    journal_url: str | None = None  # None = SQLite under data_dir
    max_skew_seconds: int = 900
    # Refuse calls (fail closed) while the journal's filesystem has less free space than this.
    journal_min_free_bytes: int = 16 * 1024 * 1024
    demo: bool = False  # True when no account was configured and the demo identities are in use
    buckets: tuple[BucketConfig, ...] = ()
    endpoints: tuple[EndpointConfig, ...] = ()
    webhooks: tuple[WebhookConfig, ...] = ()
    organization: OrganizationConfig | None = None
    delivery: DeliveryConfig = DeliveryConfig()
    extra: dict[str, object] = field(default_factory=dict)


def demo_accounts() -> tuple[AccountConfig, ...]:
    """The identities used when no config names any account (AWS's documentation example keys)."""
    account = "123456789012"
    root = AccessKeyConfig("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
    johndoe = AccessKeyConfig("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    trusted = (f"arn:aws:iam::{account}:user/johndoe", f"arn:aws:iam::{account}:root")
    user = UserConfig("johndoe", access_keys=(johndoe,))
    return (AccountConfig(account, root, users=(user,), roles=(RoleConfig("Admin", trusted),)),)
