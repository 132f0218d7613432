"""The sign-in form's credentials in, a verdict out: the principal they prove, or who failed where.

A long-term key is checked against the identity store, temporary credentials (``ASIA…`` plus a
session token) against the STS session service; the secret is compared in constant time and
never kept. The optional account field works like the account box of AWS's IAM-user sign-in
page: a key that is not a user of the named account is an unknown user *there*.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from trailkeeper.capture.identity.principal import Principal, SessionInfo
from trailkeeper.capture.identity.sessions import SessionService
from trailkeeper.capture.identity.sigv4 import AuthFailure
from trailkeeper.capture.identity.store import IdentityStore, KeyEntry
from trailkeeper.config import AccountConfig

__all__ = ["Credentials", "Proven", "Refused", "Verdict", "check_credentials", "console_principal"]

_TEMPORARY_PREFIX = "ASIA"
# Compared against when the key is unknown, so a miss costs what a wrong secret costs.
_DUMMY_SECRET = secrets.token_urlsafe(30)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the sign-in form sent. ``account`` is an account id or alias, "" when left empty."""

    access_key_id: str
    secret_access_key: str
    session_token: str = ""
    account: str = ""

    def __repr__(self) -> str:  # never let a secret reach a log line through a repr
        return f"Credentials(access_key_id={self.access_key_id!r}, account={self.account!r})"


@dataclass(frozen=True, slots=True)
class Proven:
    principal: Principal


@dataclass(frozen=True, slots=True)
class Refused:
    """A failed sign-in. ``principal``: the known identity whose proof failed (wrong secret,
    expired token); None for an unknown key. ``account``: where AWS would record the failure
    (the principal's account, or the account the form named), None when nowhere."""

    principal: Principal | None
    account: str | None


Verdict = Proven | Refused


def _resolve_account(named: str, accounts: tuple[AccountConfig, ...]) -> str | None:
    for account in accounts:
        if named in (account.id, account.alias):
            return account.id
    return None


def _entry_for(
    creds: Credentials, identities: IdentityStore, sessions: SessionService, now: datetime
) -> tuple[KeyEntry | None, Principal | None]:
    """The key entry to check the secret against, and the principal known even if it fails."""
    if creds.access_key_id.startswith(_TEMPORARY_PREFIX):
        if not creds.session_token:
            return None, None
        try:
            entry = sessions.resolve(creds.access_key_id, creds.session_token, now)
        except AuthFailure as err:  # forged, foreign or expired token
            return None, err.principal
        return entry, entry.principal
    stored = identities.key(creds.access_key_id)
    return stored, stored.principal if stored else None


def check_credentials(
    creds: Credentials,
    *,
    identities: IdentityStore,
    sessions: SessionService,
    accounts: tuple[AccountConfig, ...],
    now: datetime,
) -> Verdict:
    named = _resolve_account(creds.account, accounts) if creds.account else None
    if creds.account and named is None:
        return Refused(None, None)  # AWS records nothing for an account that does not exist
    entry, known = _entry_for(creds, identities, sessions, now)
    secret = entry.secret_access_key if entry else _DUMMY_SECRET
    matches = hmac.compare_digest(creds.secret_access_key.encode("utf-8"), secret.encode("utf-8"))
    if named is not None and (known is None or known.account_id != named):
        return Refused(None, named)  # not a user of the account the form named
    if entry is None or not matches:
        return Refused(known, known.account_id if known else None)
    if creds.session_token and not creds.access_key_id.startswith(_TEMPORARY_PREFIX):
        return Refused(known, entry.principal.account_id)  # a long-term key takes no session token
    return Proven(entry.principal)


def _console_key_id() -> str:
    # The same shape STS gives temporary keys: AWS signs console calls with ASIA… session keys.
    return _TEMPORARY_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode("ascii")


def console_principal(proven: Principal, *, now: datetime, ttl_seconds: int) -> Principal:
    """The principal the console's own calls are recorded as: a session of ``proven``.

    It gets an access key id of its own, so LookupEvents by AccessKeyId finds one console
    session's calls; long-term keys get session attributes (creation time, no MFA) as AWS
    writes for console users, temporary credentials keep theirs. The session never outlives
    ``ttl_seconds`` nor the credentials it came from.
    """
    created = now.replace(microsecond=0)
    limit = created + timedelta(seconds=ttl_seconds)
    if proven.session is None:
        session = SessionInfo(None, created, limit, mfa_authenticated=False)
    else:
        session = replace(proven.session, expiration=min(limit, proven.session.expiration))
    return replace(proven, access_key_id=_console_key_id(), session=session)
