"""The identity store: configured accounts in, O(1) lookups of long-term keys and roles out.

Built once from ``Settings``; the hot path (SigV4 verification) does one dict lookup per call.
IAM unique ids (``AIDA…`` for users, ``AROA…`` for roles) are derived from account and name with
a hash, so they are stable across restarts and identical on every node.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from trailkeeper.capture.identity.principal import Principal
from trailkeeper.config import AccountConfig, RoleConfig, Settings

__all__ = ["IdentityStore", "KeyEntry", "unique_id"]


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """What an access key id resolves to: the secret to check signatures with, and who it is."""

    secret_access_key: str
    principal: Principal


def unique_id(prefix: str, account_id: str, kind: str, name: str) -> str:
    """An IAM-style unique id: ``prefix`` + 17 characters [A-Z2-7] derived from account, kind and name.

    AWS draws these at random when the user or role is created; we have no creation event to
    remember one from, so a hash keeps them stable without storing anything.
    """
    digest = hashlib.sha256(f"{account_id}\x00{kind}\x00{name}".encode()).digest()
    return prefix + base64.b32encode(digest).decode("ascii")[:17]


def _role_arn(account_id: str, role: RoleConfig) -> str:
    return f"arn:aws:iam::{account_id}:role{role.path}{role.name}"


class IdentityStore:
    """Long-term access keys (root and IAM users) and assumable roles, by id."""

    __slots__ = ("_accounts", "_keys", "_role_ids", "_roles")

    def __init__(
        self,
        keys: Mapping[str, KeyEntry],
        roles: Mapping[tuple[str, str], RoleConfig],
        accounts: frozenset[str],
    ) -> None:
        self._keys = dict(keys)
        self._roles = dict(roles)
        self._role_ids = {(acct, name): unique_id("AROA", acct, "role", name) for acct, name in roles}
        self._accounts = accounts

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityStore:
        keys: dict[str, KeyEntry] = {}
        roles: dict[tuple[str, str], RoleConfig] = {}
        for account in settings.accounts:
            keys.update(_account_keys(account))
            roles.update({(account.id, role.name): role for role in account.roles})
        return cls(keys, roles, frozenset(a.id for a in settings.accounts))

    def key(self, access_key_id: str) -> KeyEntry | None:
        """The long-term key (root or IAM user) with this id, or None."""
        return self._keys.get(access_key_id)

    def role(self, account_id: str, name: str) -> RoleConfig | None:
        return self._roles.get((account_id, name))

    def role_arn(self, account_id: str, name: str) -> str | None:
        """``arn:aws:iam::ACCT:role{path}{name}`` of a configured role, or None."""
        role = self._roles.get((account_id, name))
        return _role_arn(account_id, role) if role else None

    def role_principal_id(self, account_id: str, name: str) -> str:
        """The role's unique id (``AROA…``)."""
        known = self._role_ids.get((account_id, name))
        return known or unique_id("AROA", account_id, "role", name)

    def has_account(self, account_id: str) -> bool:
        return account_id in self._accounts


def _account_keys(account: AccountConfig) -> dict[str, KeyEntry]:
    """Every long-term key of one account, with the principal each one signs as."""
    keys: dict[str, KeyEntry] = {}
    if account.root is not None:
        root_arn = f"arn:aws:iam::{account.id}:root"
        principal = Principal("Root", account.id, root_arn, account.id, account.root.access_key_id)
        keys[account.root.access_key_id] = KeyEntry(account.root.secret_access_key, principal)
    for user in account.users:
        user_id = unique_id("AIDA", account.id, "user", user.name)
        arn = f"arn:aws:iam::{account.id}:user{user.path}{user.name}"
        for key in user.access_keys:
            principal = Principal("IAMUser", account.id, arn, user_id, key.access_key_id, user.name)
            keys[key.access_key_id] = KeyEntry(key.secret_access_key, principal)
    return keys
