"""Verified principals: what SigV4 verification yields and what ``userIdentity`` is written from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = ["IdentityType", "Principal", "SessionInfo", "SessionIssuer"]

IdentityType = Literal["Root", "IAMUser", "AssumedRole", "FederatedUser"]


@dataclass(frozen=True, slots=True)
class SessionIssuer:
    """``sessionContext.sessionIssuer``: the long-term identity the session came from."""

    type: Literal["Root", "IAMUser", "Role"]
    principal_id: str
    arn: str
    account_id: str
    user_name: str


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """Temporary credentials' context (STS AssumeRole, GetSessionToken, GetFederationToken)."""

    issuer: SessionIssuer | None  # None for GetSessionToken sessions (AWS writes no issuer there)
    creation_date: datetime
    expiration: datetime
    mfa_authenticated: bool = False


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller whose signature has been verified (or whose key is known, for recorded failures).

    ``principal_id``: Root = account id; IAMUser = ``AIDA…``; AssumedRole = ``AROA…:session``;
    FederatedUser = ``ACCOUNT:name``. ``user_name`` is the IAM user name, the role session name
    (AssumedRole) or the federated user name; None for Root. ``lookup_username`` is what the
    LookupEvents ``Username`` attribute matches.
    """

    type: IdentityType
    account_id: str
    arn: str
    principal_id: str
    access_key_id: str
    user_name: str | None = None
    session: SessionInfo | None = None

    @property
    def lookup_username(self) -> str:
        if self.type == "Root":
            return "root"
        return self.user_name or ""
