"""Sign-in credentials against the real identity store and STS sessions: who is proven, who failed where."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from trailkeeper.capture.identity.sessions import SessionService
from trailkeeper.capture.identity.store import IdentityStore
from trailkeeper.config import AccessKeyConfig, AccountConfig, Settings, UserConfig
from trailkeeper.console.auth import Credentials, Proven, Refused, check_credentials, console_principal

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
A, B = "111122223333", "444455556666"
ACCOUNTS = (
    AccountConfig(
        A,
        root=AccessKeyConfig("AKIAROOTA00000000001", "root-secret-0001"),
        users=(
            UserConfig("alice", access_keys=(AccessKeyConfig("AKIAALICE0000000001X", "alice-secret-0001"),)),
        ),
        alias="team-a",
    ),
    AccountConfig(
        B, users=(UserConfig("bob", access_keys=(AccessKeyConfig("AKIABOB0000000000001", "bob-secret"),)),)
    ),
)
STORE = IdentityStore.from_settings(Settings(accounts=ACCOUNTS))
STS = SessionService(os.urandom(32))


def check(creds: Credentials, now: datetime = NOW) -> Proven | Refused:
    return check_credentials(creds, identities=STORE, sessions=STS, accounts=ACCOUNTS, now=now)


def test_auth_right_secret_proves_the_user() -> None:
    verdict = check(Credentials("AKIAALICE0000000001X", "alice-secret-0001"))
    assert isinstance(verdict, Proven)
    assert (verdict.principal.user_name, verdict.principal.account_id) == ("alice", A)


def test_auth_wrong_secret_is_refused_in_the_users_account() -> None:
    verdict = check(Credentials("AKIAALICE0000000001X", "alice-secret-0002"))
    assert isinstance(verdict, Refused)
    assert verdict.principal is not None
    assert verdict.principal.user_name == "alice"
    assert verdict.account == A


def test_auth_unknown_key_without_account_is_recorded_nowhere() -> None:
    assert check(Credentials("AKIAUNKNOWN000000001", "x")) == Refused(None, None)


@pytest.mark.parametrize("named", [A, "team-a"])
def test_auth_unknown_key_with_account_is_an_unknown_user_there(named: str) -> None:
    assert check(Credentials("AKIAUNKNOWN000000001", "x", account=named)) == Refused(None, A)


def test_auth_key_of_another_account_is_an_unknown_user_in_the_named_account() -> None:
    verdict = check(Credentials("AKIABOB0000000000001", "bob-secret", account=A))
    assert verdict == Refused(None, A)


def test_auth_account_that_does_not_exist_is_recorded_nowhere() -> None:
    assert check(Credentials("AKIAALICE0000000001X", "alice-secret-0001", account="999999999999")) == Refused(
        None, None
    )


def test_auth_long_term_key_with_a_session_token_is_refused() -> None:
    verdict = check(Credentials("AKIAALICE0000000001X", "alice-secret-0001", session_token="IQoJtoken"))
    assert isinstance(verdict, Refused)
    assert verdict.account == A


def test_auth_temporary_credentials_prove_their_session() -> None:
    alice = STORE.key("AKIAALICE0000000001X")
    assert alice is not None
    minted = STS.mint(alice.principal, duration_seconds=3600, now=NOW)
    verdict = check(Credentials(minted.access_key_id, minted.secret_access_key, minted.session_token))
    assert isinstance(verdict, Proven)
    assert verdict.principal.access_key_id == minted.access_key_id
    assert verdict.principal.session is not None
    # Without the token, or with an expired one, the same key proves nothing.
    assert isinstance(check(Credentials(minted.access_key_id, minted.secret_access_key)), Refused)
    expired = check(
        Credentials(minted.access_key_id, minted.secret_access_key, minted.session_token),
        NOW + timedelta(hours=2),
    )
    assert isinstance(expired, Refused)
    assert expired.principal is not None
    assert expired.account == A


def test_auth_credentials_repr_hides_the_secret() -> None:
    creds = Credentials("AKIAALICE0000000001X", "alice-secret-0001", "token-value")
    assert "alice-secret-0001" not in repr(creds)
    assert "token-value" not in repr(creds)


def test_console_principal_is_a_session_with_its_own_key_and_at_most_12_hours() -> None:
    alice = STORE.key("AKIAALICE0000000001X")
    assert alice is not None
    console = console_principal(alice.principal, now=NOW, ttl_seconds=12 * 3600)
    assert console.access_key_id.startswith("ASIA")
    assert console.access_key_id != alice.principal.access_key_id
    assert console.session is not None
    assert console.session.issuer is None
    assert console.session.expiration == NOW + timedelta(hours=12)
    minted = STS.mint(alice.principal, duration_seconds=900, now=NOW)
    short = console_principal(minted.principal, now=NOW, ttl_seconds=12 * 3600).session
    assert short is not None
    assert short.expiration == minted.expiration  # never longer than the credentials it came from
