"""The identity store built from settings: long-term keys, roles and deterministic unique ids."""

from __future__ import annotations

import re

from trailkeeper.capture.identity.store import IdentityStore, unique_id
from trailkeeper.config import AccessKeyConfig, AccountConfig, RoleConfig, Settings, UserConfig

ACCOUNT = AccountConfig(
    "111122223333",
    root=AccessKeyConfig("AKIAROOT000000000001", "root-secret"),
    users=(UserConfig("alice", "/data/", (AccessKeyConfig("AKIAALICE00000000001", "alice-secret"),)),),
    roles=(RoleConfig("Admin", ("arn:aws:iam::111122223333:user/data/alice",), "/ops/", 7200),),
)
STORE = IdentityStore.from_settings(Settings(accounts=(ACCOUNT,)))


def test_store_root_key_resolves_to_root_principal() -> None:
    entry = STORE.key("AKIAROOT000000000001")
    assert entry is not None
    assert entry.secret_access_key == "root-secret"
    assert (entry.principal.type, entry.principal.principal_id) == ("Root", "111122223333")
    assert entry.principal.arn == "arn:aws:iam::111122223333:root"
    assert entry.principal.user_name is None
    assert entry.principal.access_key_id == "AKIAROOT000000000001"


def test_store_user_key_resolves_to_user_with_path() -> None:
    entry = STORE.key("AKIAALICE00000000001")
    assert entry is not None
    assert entry.principal.type == "IAMUser"
    assert entry.principal.arn == "arn:aws:iam::111122223333:user/data/alice"
    assert entry.principal.user_name == "alice"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", entry.principal.principal_id)


def test_store_unknown_key_is_none() -> None:
    assert STORE.key("AKIANOBODY0000000000") is None


def test_store_unique_ids_are_stable_across_instances() -> None:
    again = IdentityStore.from_settings(Settings(accounts=(ACCOUNT,)))
    first, second = STORE.key("AKIAALICE00000000001"), again.key("AKIAALICE00000000001")
    assert first is not None
    assert second is not None
    assert first.principal.principal_id == second.principal.principal_id
    assert STORE.role_principal_id("111122223333", "Admin") == again.role_principal_id(
        "111122223333", "Admin"
    )
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", STORE.role_principal_id("111122223333", "Admin"))


def test_unique_id_differs_by_account_kind_and_name() -> None:
    ids = {
        unique_id("AIDA", "111122223333", "user", "alice"),
        unique_id("AIDA", "444455556666", "user", "alice"),
        unique_id("AIDA", "111122223333", "user", "bob"),
        unique_id("AIDA", "111122223333", "role", "alice"),
    }
    assert len(ids) == 4


def test_store_roles_and_accounts_looked_up_by_id() -> None:
    role = STORE.role("111122223333", "Admin")
    assert role is not None
    assert role.max_session_duration == 7200
    assert STORE.role_arn("111122223333", "Admin") == "arn:aws:iam::111122223333:role/ops/Admin"
    assert STORE.role("111122223333", "Other") is None
    assert STORE.role_arn("444455556666", "Admin") is None
    assert STORE.has_account("111122223333")
    assert not STORE.has_account("444455556666")
