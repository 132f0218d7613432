"""The identity sections: [[account]] (root, users, roles) and [[upstream]] tables in, typed configs out."""

from __future__ import annotations

import re

from trailkeeper.config._table import Table, label
from trailkeeper.config.names import ACCOUNT_ID
from trailkeeper.config.settings import (
    UPSTREAM_SERVICES,
    AccessKeyConfig,
    AccountConfig,
    RoleConfig,
    UpstreamConfig,
    UserConfig,
)

__all__ = ["access_key", "account", "upstream"]

_SERVICES = ", ".join(UPSTREAM_SERVICES)
_IAM_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")  # IAM user and role names ([\w+=,.@-], ASCII \w)
_IAM_PATH = re.compile(r"/(?:[\x21-\x7e]{0,510}/)?")
_ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
_ALIAS = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]")
_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+")
# Temporary keys are minted as ASIA…; a configured long-term key must not collide with them.
_TEMPORARY_PREFIX = "ASIA"


def access_key(t: Table, seen: dict[str, str]) -> AccessKeyConfig:
    t.only("access_key_id", "secret_access_key")
    key_id, secret = t.need("access_key_id", str), t.need("secret_access_key", str)
    t.expect(_ACCESS_KEY_ID.fullmatch(key_id), "access_key_id", key_id, "must be 16-128 characters [A-Z0-9]")
    t.expect(not key_id.startswith(_TEMPORARY_PREFIX), "access_key_id", key_id, "must not start with ASIA")
    t.expect(key_id not in seen, "access_key_id", key_id, f"is already used by {seen.get(key_id)}")
    t.expect(secret, "secret_access_key", secret, "must not be empty")
    seen[key_id] = label(t.path)
    return AccessKeyConfig(key_id, secret)


def _name_and_path(t: Table, names: set[str]) -> tuple[str, str]:
    name, path = t.need("name", str), t.get("path", str, "/") or ""
    t.expect(_IAM_NAME.fullmatch(name), "name", name, "must be 1-64 characters [A-Za-z0-9_+=,.@-]")
    t.expect(name not in names, "name", name, "is used twice in this account")
    t.expect(_IAM_PATH.fullmatch(path), "path", path, 'must start and end with "/" (at most 512 characters)')
    names.add(name)
    return name, path


def _user(t: Table, names: set[str], seen: dict[str, str]) -> UserConfig:
    t.only("name", "path", "access_keys")
    name, path = _name_and_path(t, names)
    return UserConfig(name, path, tuple(access_key(k, seen) for k in t.tables("access_keys")))


def _role(t: Table, names: set[str]) -> RoleConfig:
    t.only("name", "path", "trusted", "max_session_duration")
    name, path = _name_and_path(t, names)
    trusted = t.texts("trusted", _PRINCIPAL_ARN.fullmatch, "is not an IAM or STS principal ARN")
    return RoleConfig(name, trusted, path, t.integer("max_session_duration", 3600, 3600, 43200))


def account(t: Table, ids: set[str], seen: dict[str, str]) -> AccountConfig:
    t.only("id", "root", "alias", "user", "role")
    account_id, alias, root = t.need("id", str), t.get("alias", str), t.table("root")
    t.expect(ACCOUNT_ID.fullmatch(account_id), "id", account_id, "must be 12 digits")
    t.expect(account_id not in ids, "id", account_id, "is used by two accounts")
    t.expect(alias is None or _ALIAS.fullmatch(alias), "alias", alias, "must be 3-63 characters [a-z0-9-]")
    ids.add(account_id)
    user_names, role_names = set[str](), set[str]()
    return AccountConfig(
        account_id,
        access_key(root, seen) if root else None,
        tuple(_user(u, user_names, seen) for u in t.tables("user")),
        tuple(_role(r, role_names) for r in t.tables("role")),
        alias,
    )


def upstream(t: Table) -> UpstreamConfig:
    t.only("service", "url", "access_key_id", "secret_access_key")
    service = t.need("service", str)
    t.expect(service in UPSTREAM_SERVICES, "service", service, f"must be one of: {_SERVICES}")
    return UpstreamConfig(service, t.url("url"), *t.credentials())
