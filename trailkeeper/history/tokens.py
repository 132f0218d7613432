"""LookupEvents NextToken: a page cursor and its query in, an opaque signed string out, and back again.

The token is base64url(version | event_time_ms | seq | HMAC-SHA256(key, that | query)). The query
(account, region, attribute, the caller's own StartTime/EndTime, category) is signed but not carried,
so a token edited, reused with other parameters or replayed by another account fails verification.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

import orjson

from trailkeeper.errors import AwsError
from trailkeeper.journal.base import Journal

__all__ = ["TOKEN_KEY_NAME", "TokenCodec", "TokenScope", "invalid_next_token", "load_token_codec"]

TOKEN_KEY_NAME = "lookup-token-key"
_VERSION = 1
_CURSOR = struct.Struct(">Bqq")  # version, event_time_ms, seq
_MAC_BYTES = hashlib.sha256().digest_size


@dataclass(frozen=True, slots=True)
class TokenScope:
    """What a token is valid for: the request's parameters as the caller gave them (None = absent)."""

    account_id: str
    region: str
    attribute: tuple[str, str] | None
    start_ms: int | None
    end_ms: int | None
    category: str | None = None

    def canonical(self) -> bytes:
        key, value = self.attribute or (None, None)
        return orjson.dumps(
            [self.account_id, self.region, key, value, self.start_ms, self.end_ms, self.category]
        )


def invalid_next_token() -> AwsError:
    # AWS documents the code, not the message; "Invalid NextToken" is our wording (UNCONFIRMED).
    return AwsError("InvalidNextTokenException", "Invalid NextToken", 400)


class TokenCodec:
    """Signs and checks NextTokens with one server key shared by every node of the journal."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a NextToken key needs at least 16 bytes")
        self._key = key

    def encode(self, scope: TokenScope, cursor: tuple[int, int]) -> str:
        body = _CURSOR.pack(_VERSION, *cursor)
        raw = body + self._mac(body, scope)
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def decode(self, scope: TokenScope, token: str) -> tuple[int, int]:
        """The cursor in ``token``; raises InvalidNextTokenException unless it was made for ``scope``."""
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError) as err:  # ValueError: characters outside ASCII
            raise invalid_next_token() from err
        if len(raw) != _CURSOR.size + _MAC_BYTES:
            raise invalid_next_token()
        body, mac = raw[: _CURSOR.size], raw[_CURSOR.size :]
        if not hmac.compare_digest(mac, self._mac(body, scope)):
            raise invalid_next_token()
        version, event_time_ms, seq = _CURSOR.unpack(body)
        if version != _VERSION:
            raise invalid_next_token()
        return event_time_ms, seq

    def _mac(self, body: bytes, scope: TokenScope) -> bytes:
        return hmac.new(self._key, body + scope.canonical(), hashlib.sha256).digest()


async def load_token_codec(journal: Journal) -> TokenCodec:
    """The codec keyed by the journal's shared secret (created on first use)."""
    return TokenCodec(await journal.get_or_create_secret(TOKEN_KEY_NAME, os.urandom(32)))
