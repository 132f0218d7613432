"""Typed settings: a TOML config file plus command-line overrides in, one checked ``Settings`` out.

The only reader of the config file. A malformed file is refused with a ``ConfigError`` naming the
file, line and problem. Modules: ``settings`` (the dataclasses), ``names`` (AWS naming rules shared
with the API), ``_table`` (typed, line-locating TOML access), ``_identity`` / ``_trails`` (the
sections), ``_load`` (``load_settings``).
"""

from __future__ import annotations

from trailkeeper.config._load import load_settings
from trailkeeper.config.settings import (
    UPSTREAM_SERVICES,
    AccessKeyConfig,
    AccountConfig,
    BucketConfig,
    DeliveryConfig,
    EndpointConfig,
    OrganizationConfig,
    RoleConfig,
    Settings,
    UpstreamConfig,
    UserConfig,
    WebhookConfig,
    demo_accounts,
)

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
    "load_settings",
]
