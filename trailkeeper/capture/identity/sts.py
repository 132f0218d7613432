"""The STS API: a verified caller and parsed STS parameters in, STS outputs (and new sessions) out.

Handlers for AssumeRole, GetSessionToken, GetFederationToken and GetCallerIdentity, registered
in ``services.registry``. Input constraints (length, range, pattern, required) come from the
botocore STS model and are reported in AWS's ``ValidationError`` wording; trust is decided from
the configured roles' ``trusted`` lists. Temporary credentials are minted by ``SessionService``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer
from trailkeeper.capture.identity.sessions import TemporaryCredentials
from trailkeeper.config import RoleConfig
from trailkeeper.errors import AwsError, validation_error
from trailkeeper.services.registry import CallEnv, register

__all__ = ["assume_role", "get_caller_identity", "get_federation_token", "get_session_token"]

ROLE_DEFAULT_SECONDS = 3600
CHAINED_MAX_SECONDS = 3600  # a role session assuming another role: at most one hour
TOKEN_DEFAULT_SECONDS = 43200  # GetSessionToken / GetFederationToken
ROOT_MAX_SECONDS = 3600  # sessions of the account root: at most (and by default) one hour
_CHAINED_TOO_LONG = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
)
_ROLE_TOO_LONG = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role(/(?:.*/)?)([^/]+)")


def _denied(message: str) -> AwsError:
    """STS's AccessDenied (HTTP 403 in every protocol)."""
    return AwsError("AccessDenied", message, 403)


@register("sts", "GetCallerIdentity")
async def get_caller_identity(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    who = env.principal
    return {"UserId": who.principal_id, "Account": who.account_id, "Arn": who.arn}


@register("sts", "AssumeRole")
async def assume_role(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    _validate("AssumeRole", params)
    caller, role_arn, session_name = env.principal, params["RoleArn"], params["RoleSessionName"]
    if caller.type == "Root":
        raise _denied("Roles may not be assumed by root accounts.")
    found = _role_at(env, role_arn)
    if found is None or caller.type == "FederatedUser" or not _trusts(found[1], caller):
        raise _denied(
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )
    account, role = found
    duration = _role_duration(params.get("DurationSeconds"), role, chained=caller.type == "AssumedRole")
    role_id = env.app.identities.role_principal_id(account, role.name)
    issuer = SessionIssuer(
        "Role", role_id, f"arn:aws:iam::{account}:role{role.path}{role.name}", account, role.name
    )
    arn = f"arn:aws:sts::{account}:assumed-role/{role.name}/{session_name}"
    principal = Principal("AssumedRole", account, arn, f"{role_id}:{session_name}", "", session_name)
    creds = _mint(env, principal, issuer, duration)
    output = {
        "Credentials": _credentials(creds),
        "AssumedRoleUser": {"AssumedRoleId": principal.principal_id, "Arn": arn},
    }
    # AWS echoes a requested source identity; it is not (yet) carried in the session itself.
    return output | ({"SourceIdentity": params["SourceIdentity"]} if "SourceIdentity" in params else {})


@register("sts", "GetSessionToken")
async def get_session_token(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    _validate("GetSessionToken", params)
    caller = _long_term_caller(env, "GetSessionToken")
    duration = _token_duration(params.get("DurationSeconds"), caller)
    creds = _mint(env, caller, None, duration)  # the same identity, now with a session (no issuer)
    return {"Credentials": _credentials(creds)}


@register("sts", "GetFederationToken")
async def get_federation_token(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    _validate("GetFederationToken", params)
    caller, name = _long_term_caller(env, "GetFederationToken"), params["Name"]
    duration = _token_duration(params.get("DurationSeconds"), caller)
    # AWS shows the account alias as a root issuer's userName when there is one; we use "root".
    issuer_type: Literal["Root", "IAMUser"] = "Root" if caller.type == "Root" else "IAMUser"
    issuer = SessionIssuer(
        issuer_type, caller.principal_id, caller.arn, caller.account_id, caller.user_name or "root"
    )
    account = caller.account_id
    arn = f"arn:aws:sts::{account}:federated-user/{name}"
    creds = _mint(
        env, Principal("FederatedUser", account, arn, f"{account}:{name}", "", name), issuer, duration
    )
    federated = {"FederatedUserId": f"{account}:{name}", "Arn": arn}
    # AWS reports how much of the packed policy limit the session policy used; ours are ignored.
    return {"Credentials": _credentials(creds), "FederatedUser": federated, "PackedPolicySize": 0}


def _mint(
    env: CallEnv, principal: Principal, issuer: SessionIssuer | None, seconds: int
) -> TemporaryCredentials:
    session = SessionInfo(issuer, env.now, env.now)  # creation and expiration are set by mint
    return env.app.sessions.mint(replace(principal, session=session), duration_seconds=seconds, now=env.now)


def _credentials(creds: TemporaryCredentials) -> dict[str, str | datetime]:
    return {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "SessionToken": creds.session_token,
        "Expiration": creds.expiration,
    }


def _long_term_caller(env: CallEnv, operation: str) -> Principal:
    """The caller, if signing with long-term keys (IAM user or root); these calls refuse sessions."""
    if env.principal.session is not None:
        raise _denied(f"Cannot call {operation} with session credentials")
    return env.principal


def _role_at(env: CallEnv, role_arn: str) -> tuple[str, RoleConfig] | None:
    """The configured role a role ARN names (path included), with its account."""
    match = _ROLE_ARN.fullmatch(role_arn)
    role = env.app.identities.role(match.group(1), match.group(3)) if match else None
    if match is None or role is None or role.path != match.group(2):
        return None
    return match.group(1), role


def _trusts(role: RoleConfig, caller: Principal) -> bool:
    """Whether the role's trust list names the caller, or the root of the caller's account.

    A role session is matched by its role's ARN (and by its own session ARN), as a trust
    policy naming the role allows chaining.
    """
    names = {caller.arn, f"arn:aws:iam::{caller.account_id}:root"}
    if caller.type == "AssumedRole" and caller.session is not None and caller.session.issuer is not None:
        names.add(caller.session.issuer.arn)
    return not names.isdisjoint(role.trusted)


def _role_duration(requested: int | None, role: RoleConfig, *, chained: bool) -> int:
    if chained and requested is not None and requested > CHAINED_MAX_SECONDS:
        raise validation_error(_CHAINED_TOO_LONG)
    if requested is not None and requested > role.max_session_duration:
        raise validation_error(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    return requested or ROLE_DEFAULT_SECONDS


def _token_duration(requested: int | None, caller: Principal) -> int:
    # Root sessions last at most an hour; AWS shortens a longer request rather than refusing it.
    if caller.type == "Root":
        return min(requested or ROOT_MAX_SECONDS, ROOT_MAX_SECONDS)
    return requested or TOKEN_DEFAULT_SECONDS


@lru_cache(maxsize=1)
def _model() -> ServiceModel:
    loader = botocore.session.get_session().get_component("data_loader")
    return ServiceModel(loader.load_service_model("sts", "service-2"), service_name="sts")


def _validate(operation: str, params: dict[str, Any]) -> None:
    """Refuse params breaking the model's constraints, in AWS's "N validation errors detected" form."""
    op: OperationModel = _model().operation_model(operation)
    problems = list(_violations(op.input_shape, params, "")) if op.input_shape is not None else []
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        raise validation_error(f"{count}: {'; '.join(problems)}")


def _violations(shape: Shape, value: Any, at: str) -> Iterator[str]:
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            where = f"{at}.{name[:1].lower()}{name[1:]}" if at else f"{name[:1].lower()}{name[1:]}"
            if value.get(name) is not None:
                yield from _violations(member, value[name], where)
            elif name in shape.required_members:
                yield f"Value null at '{where}' failed to satisfy constraint: Member must not be null"
    elif isinstance(shape, ListShape):
        yield from _bounds(shape, value, len(value), at, "length")
        for index, item in enumerate(value, start=1):  # the query protocol's list member naming
            yield from _violations(shape.member, item, f"{at}.{index}.member")
    elif isinstance(shape, MapShape):
        yield from _bounds(shape, value, len(value), at, "length")
    elif shape.type_name == "string":
        pattern = _pattern(shape.metadata.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            java = shape.metadata["pattern"]
            yield _violation(value, at, f"Member must satisfy regular expression pattern: {java}")
        yield from _bounds(shape, value, len(value), at, "length")
    elif shape.type_name in ("integer", "long"):
        yield from _bounds(shape, value, value, at, "value")


def _bounds(shape: Shape, value: Any, size: int, at: str, what: str) -> Iterator[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        yield _violation(value, at, f"Member must have {what} greater than or equal to {low}")
    if high is not None and size > high:
        yield _violation(value, at, f"Member must have {what} less than or equal to {high}")


def _violation(value: Any, at: str, constraint: str) -> str:
    shown = f"[{', '.join(map(str, value))}]" if isinstance(value, list) else str(value)
    return f"Value '{shown}' at '{at}' failed to satisfy constraint: {constraint}"


@lru_cache(maxsize=64)
def _pattern(java: str | None) -> re.Pattern[str] | None:
    """A model pattern (Java regex) compiled for Python: ASCII ``\\w``, ``\\u10000`` as a code point.

    A pattern Python cannot compile is not enforced, rather than refusing valid input.
    """
    if java is None:
        return None
    python = re.sub(r"\\u([0-9A-Fa-f]{5,6})", lambda m: f"\\U{int(m.group(1), 16):08x}", java)
    try:
        return re.compile(python, re.ASCII)
    except re.error:
        return None
