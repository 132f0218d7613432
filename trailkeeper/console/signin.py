"""A sign-in verdict (or a sign-out) in, the ``AwsConsoleSignIn`` journal entry AWS would write out.

Shapes follow AWS's sign-in event reference and real delivered records (invictus-ir 2023,
stratus-red-team 2024; shared/data/cloudtrail-samples): eventSource ``signin.amazonaws.com``,
requestParameters null, responseElements ``{"ConsoleLogin": "Success"|"Failure"}``,
additionalEventData ``{LoginTo, MobileVersion, MFAUsed}``, no requestID, and on failure an
errorMessage without an errorCode. The userIdentity differs by outcome:

- success, IAM user: type, principalId, arn, accountId, userName (no accessKeyId);
- success, root: type, principalId, arn, accountId, accessKeyId "";
- failure, IAM user: type, principalId, accountId, accessKeyId "", userName (no arn);
- failure, unknown user name: type IAMUser, accountId, accessKeyId "", userName
  ``HIDDEN_DUE_TO_SECURITY_REASONS``, errorMessage "No username found in supplied account",
  recorded in the account the sign-in named (AWS IAM user guide, "sign-in failure caused by
  incorrect user name");
- temporary credentials (role sessions): the full session identity, as real SSO ConsoleLogin
  records carry it.

Root sign-ins are recorded in us-east-1 whatever region was picked, as AWS does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trailkeeper.capture.identity.principal import Principal
from trailkeeper.capture.wire.types import CallError, Outcome
from trailkeeper.journal.base import JournalEntry
from trailkeeper.record.build import CallContext, build_record, encode_record
from trailkeeper.record.identity import user_identity
from trailkeeper.record.index import index_entry
from trailkeeper.record.rules import ServiceRules

__all__ = [
    "HIDDEN_USER",
    "SIGNIN_RULES",
    "SIGN_OUT_EVENT",
    "SignInEvent",
    "sign_in_entry",
    "sign_out_entry",
    "unknown_user",
]

HIDDEN_USER = "HIDDEN_DUE_TO_SECURITY_REASONS"
_ROOT_REGION = "us-east-1"
_FAILED = "Failed authentication"
_NO_USER = "No username found in supplied account"
# AWS documents no console sign-out event; trailkeeper records one in the sign-in events' own
# shape under this name so sign-outs can be audited (UNCONFIRMED: not an AWS event name).
SIGN_OUT_EVENT = "ConsoleLogout"

# Sign-in events have no botocore model and no rules file: only their event source is needed.
SIGNIN_RULES = ServiceRules(
    service="signin",
    event_source="signin.amazonaws.com",
    read_only=frozenset(),
    null_response=frozenset(),
    omit={},
    omit_everywhere=frozenset(),
    hide={},
    resources={},
    data_events=frozenset(),
    source="console/signin.py",
)


@dataclass(frozen=True, slots=True)
class SignInEvent:
    """Where and how one sign-in event happened (everything but who and its outcome)."""

    time: datetime  # UTC
    region: str  # the region the user picked
    source_ip: str
    user_agent: str
    event_id: str
    login_to: str  # the console URL the user was signing in to


def unknown_user(account_id: str) -> Principal:
    """The principal of a sign-in whose user is unknown in ``account_id``: only the account is known."""
    return Principal("IAMUser", account_id, "", "", "", HIDDEN_USER)


def _identity(principal: Principal, *, success: bool) -> dict[str, Any]:
    if principal.session is not None:
        full = user_identity(principal)
        if not success:
            full["accessKeyId"] = ""
        return full
    if principal.user_name == HIDDEN_USER:
        return {
            "type": "IAMUser",
            "accountId": principal.account_id,
            "accessKeyId": "",
            "userName": HIDDEN_USER,
        }
    identity: dict[str, Any] = {"type": principal.type, "principalId": principal.principal_id}
    if success or principal.type == "Root":
        identity["arn"] = principal.arn
    identity["accountId"] = principal.account_id
    if principal.type == "Root" or not success:
        identity["accessKeyId"] = ""
    if principal.type == "IAMUser":
        identity["userName"] = principal.user_name
    return identity


def _entry(
    principal: Principal,
    event: SignInEvent,
    name: str,
    result: str,
    *,
    identity: dict[str, Any],
    indexed: Principal,
    extra: dict[str, str] | None = None,
    error: str = "",
) -> JournalEntry:
    region = _ROOT_REGION if principal.type == "Root" else event.region
    ctx = CallContext(
        event.time, region, event.source_ip, event.user_agent, request_id="", event_id=event.event_id
    )
    outcome = Outcome(error=CallError("", error)) if error else Outcome()
    record = build_record(
        event_name=name, op=None, rules=SIGNIN_RULES, params=None, outcome=outcome, principal=principal,
        ctx=ctx, event_type="AwsConsoleSignIn", resources=(), additional_event_data=extra,
    )  # fmt: skip
    # build_record writes the API-call shape; sign-in records differ in place (key order kept):
    record["userIdentity"] = identity
    record["responseElements"] = {name: result}
    record.pop("errorCode", None)  # sign-in failures carry an errorMessage only
    record.pop("requestID")  # sign-in events have none (AWS sign-in event reference)
    time_ms = int(event.time.timestamp() * 1000)
    return index_entry(record, encode_record(record), indexed, time_ms)


def _login_data(event: SignInEvent, mfa: bool) -> dict[str, str]:
    return {"LoginTo": event.login_to, "MobileVersion": "No", "MFAUsed": "Yes" if mfa else "No"}


def sign_in_entry(principal: Principal, event: SignInEvent, *, success: bool) -> JournalEntry:
    """The ConsoleLogin entry of a sign-in by ``principal`` (``unknown_user(...)`` if unknown)."""
    mfa = principal.session is not None and principal.session.mfa_authenticated
    extra = _login_data(event, mfa)
    identity = _identity(principal, success=success)
    # The record names no key id (or an empty one), so AccessKeyId lookups must not find it.
    indexed = Principal(principal.type, principal.account_id, principal.arn, "", "", principal.user_name)
    if success:
        result, error = "Success", ""
    else:
        result, error = "Failure", _NO_USER if principal.user_name == HIDDEN_USER else _FAILED
    return _entry(
        principal, event, "ConsoleLogin", result, identity=identity, indexed=indexed, extra=extra, error=error
    )


def sign_out_entry(session_principal: Principal, event: SignInEvent) -> JournalEntry:
    """The entry of a sign-out: an act of the console session, recorded as its own identity
    (its ``ASIA…`` key and session context, like the calls it made) and found by that key."""
    identity = user_identity(session_principal)
    return _entry(
        session_principal, event, SIGN_OUT_EVENT, "Success", identity=identity, indexed=session_principal
    )
