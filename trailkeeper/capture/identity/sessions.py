"""Temporary credentials: a principal in, an ASIA key + secret + sealed session token out (and back).

Nothing about a session is stored. The token is the session: its fields (key id, expiry, the
principal and its session context) sealed with AES-256-GCM under a key derived from the server
secret, with the access key id as associated data so a token works only with its own key id.
The secret access key is derived from the key id with an HMAC of the server secret. Every node
sharing the server secret therefore accepts the credentials, also after a restart, and no token
or secret ever reaches disk. Sealing (rather than only signing) keeps the identity out of the
token's readable bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import astuple, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer
from trailkeeper.capture.identity.sigv4 import expired_token, invalid_client_token
from trailkeeper.capture.identity.store import KeyEntry

__all__ = ["SessionService", "TemporaryCredentials"]

KEY_BYTES = 32
# AWS session tokens are base64 and begin with this; clients and log parsers may look for it.
_TOKEN_PREFIX = "IQoJb3JpZ2luX2Vj"
_VERSION = 1
_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class TemporaryCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    principal: Principal


class SessionService:
    """Mints temporary credentials and resolves them back, statelessly."""

    __slots__ = ("_key", "_seal")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the session key must be {KEY_BYTES} bytes, got {len(key)}")
        self._key = key
        # A separate key for sealing, so the secret derivation and the AEAD never share one.
        self._seal = AESGCM(hmac.new(key, b"trailkeeper session token v1", hashlib.sha256).digest())

    def mint(self, principal: Principal, *, duration_seconds: int, now: datetime) -> TemporaryCredentials:
        """Credentials for ``principal`` (its ``access_key_id`` left empty), valid ``duration_seconds``.

        The principal's ``session.issuer`` and ``mfa_authenticated`` are kept; creation and
        expiration are set here (whole seconds, as AWS reports them).
        """
        created = now.astimezone(UTC).replace(microsecond=0)
        expiration = created + timedelta(seconds=duration_seconds)
        access_key_id = "ASIA" + base64.b32encode(secrets.token_bytes(10)).decode("ascii")
        issuer = principal.session.issuer if principal.session else None
        mfa = principal.session.mfa_authenticated if principal.session else False
        session = SessionInfo(issuer, created, expiration, mfa)
        principal = replace(principal, access_key_id=access_key_id, session=session)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._seal.encrypt(nonce, orjson.dumps(_fields(principal)), _aad(access_key_id))
        token = _TOKEN_PREFIX + base64.b64encode(bytes([_VERSION]) + nonce + sealed).decode("ascii")
        return TemporaryCredentials(access_key_id, self._secret(access_key_id), token, expiration, principal)

    def resolve(self, access_key_id: str, session_token: str, now: datetime) -> KeyEntry:
        """The secret and principal of a minted key; raises AuthFailure if forged, foreign or expired."""
        principal = self._open(access_key_id, session_token)
        if principal is None:
            raise invalid_client_token()
        assert principal.session is not None  # every sealed principal carries its session
        if now >= principal.session.expiration:
            raise expired_token(principal)
        return KeyEntry(self._secret(access_key_id), principal)

    def _open(self, access_key_id: str, token: str) -> Principal | None:
        if not token.startswith(_TOKEN_PREFIX):
            return None
        try:
            raw = base64.b64decode(token[len(_TOKEN_PREFIX) :], validate=True)
            if raw[:1] != bytes([_VERSION]):
                return None
            nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
            plain = self._seal.decrypt(nonce, sealed, _aad(access_key_id))
        except (binascii.Error, InvalidTag, ValueError):
            return None
        return _principal(orjson.loads(plain), access_key_id)

    def _secret(self, access_key_id: str) -> str:
        mac = hmac.new(self._key, f"secret:{access_key_id}".encode(), hashlib.sha256).digest()
        return base64.b64encode(mac).decode("ascii")[:40]


def _aad(access_key_id: str) -> bytes:
    """Associated data: binds a token to the key id it was minted with."""
    return f"trailkeeper-sts-v{_VERSION}:{access_key_id}".encode()


def _fields(p: Principal) -> list[Any]:
    """The sealed form of a session principal: a compact positional list."""
    assert p.session is not None
    issuer = None if p.session.issuer is None else list(astuple(p.session.issuer))
    times = [int(p.session.creation_date.timestamp()), int(p.session.expiration.timestamp())]
    return [
        p.type,
        p.account_id,
        p.arn,
        p.principal_id,
        p.user_name,
        [*times, p.session.mfa_authenticated],
        issuer,
    ]


def _principal(fields: list[Any], access_key_id: str) -> Principal:
    kind, account_id, arn, principal_id, user_name, (created, expires, mfa), issuer = fields
    session = SessionInfo(
        SessionIssuer(*issuer) if issuer else None,
        datetime.fromtimestamp(created, UTC),
        datetime.fromtimestamp(expires, UTC),
        mfa,
    )
    return Principal(kind, account_id, arn, principal_id, access_key_id, user_name, session)
