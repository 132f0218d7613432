"""A verified Principal in, the CloudTrail ``userIdentity`` object out, keys in AWS's order.

Key orders are taken from genuine delivered log files (invictus-ir dataset, 2023):

- IAMUser: type, principalId, arn, accountId, accessKeyId, userName[, sessionContext]. With
  GetSessionToken credentials AWS writes ``sessionContext: {attributes: {...}}`` only: no
  sessionIssuer and no webIdFederationData.
- AssumedRole: type, principalId, arn, accountId, accessKeyId, sessionContext{sessionIssuer,
  webIdFederationData: {}, attributes{creationDate, mfaAuthenticated}}.
- FederatedUser (stratus-red-team GetFederationToken log): no top-level userName; sessionContext
  like AssumedRole with an IAMUser (or Root) issuer.
- Root: principalId is the account id; a session (GetSessionToken as root) adds
  ``sessionContext.attributes`` like IAMUser. ``userName`` would be the account alias, which a
  Principal does not carry, so it is left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer

__all__ = ["format_event_time", "user_identity"]


def format_event_time(moment: datetime) -> str:
    """``2023-07-10T12:07:57Z``: UTC, whole seconds (eventTime, creationDate)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime's %Y does not pad these; kept as it writes them
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"{moment.year}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def _issuer(issuer: SessionIssuer) -> dict[str, Any]:
    return {
        "type": issuer.type,
        "principalId": issuer.principal_id,
        "arn": issuer.arn,
        "accountId": issuer.account_id,
        "userName": issuer.user_name,
    }


def _attributes(session: SessionInfo) -> dict[str, Any]:
    return {
        "creationDate": format_event_time(session.creation_date),
        # A string, not a boolean, in every real record.
        "mfaAuthenticated": "true" if session.mfa_authenticated else "false",
    }


def _session_context(session: SessionInfo) -> dict[str, Any]:
    if session.issuer is None:
        # GetSessionToken sessions: AWS names no issuer and no web-identity data.
        return {"attributes": _attributes(session)}
    return {
        "sessionIssuer": _issuer(session.issuer),
        "webIdFederationData": {},
        "attributes": _attributes(session),
    }


def user_identity(principal: Principal) -> dict[str, Any]:
    """The ``userIdentity`` object for one verified caller."""
    identity: dict[str, Any] = {
        "type": principal.type,
        "principalId": principal.principal_id,
        "arn": principal.arn,
        "accountId": principal.account_id,
        "accessKeyId": principal.access_key_id,
    }
    # Role sessions and federated users are named by their ARN; only IAM users carry userName.
    if principal.type == "IAMUser" and principal.user_name:
        identity["userName"] = principal.user_name
    if principal.session is not None:
        identity["sessionContext"] = _session_context(principal.session)
    return identity
