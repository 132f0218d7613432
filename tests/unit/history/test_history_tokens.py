"""NextToken codec: round trip, and refusal of tokens edited, forged or made for another query."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.journal.support import ACCOUNT, OTHER_ACCOUNT, REGION, Backend
from trailkeeper.errors import AwsError
from trailkeeper.history.tokens import TOKEN_KEY_NAME, TokenCodec, TokenScope, load_token_codec

KEY = bytes(range(32))
SCOPE = TokenScope(ACCOUNT, REGION, ("Username", "alice"), 1_700_000_000_000, None)
CURSOR = (1_767_225_600_123, 4242)


def _refused(codec: TokenCodec, scope: TokenScope, token: str) -> str:
    with pytest.raises(AwsError) as info:
        codec.decode(scope, token)
    return f"{info.value.code} {info.value.status} {info.value.message}"


def test_token_round_trips_the_cursor_and_is_url_safe_text() -> None:
    token = TokenCodec(KEY).encode(SCOPE, CURSOR)
    assert TokenCodec(KEY).decode(SCOPE, token) == CURSOR
    assert token.isascii()
    assert not set(token) & set("+/= ")


@pytest.mark.parametrize(
    "other",
    [
        TokenScope(OTHER_ACCOUNT, REGION, ("Username", "alice"), 1_700_000_000_000, None),
        TokenScope(ACCOUNT, "eu-west-1", ("Username", "alice"), 1_700_000_000_000, None),
        TokenScope(ACCOUNT, REGION, ("Username", "bob"), 1_700_000_000_000, None),
        TokenScope(ACCOUNT, REGION, ("EventName", "alice"), 1_700_000_000_000, None),
        TokenScope(ACCOUNT, REGION, None, 1_700_000_000_000, None),
        TokenScope(ACCOUNT, REGION, ("Username", "alice"), None, None),
        TokenScope(ACCOUNT, REGION, ("Username", "alice"), 1_700_000_000_000, 1_800_000_000_000),
        TokenScope(ACCOUNT, REGION, ("Username", "alice"), 1_700_000_000_000, None, "insight"),
    ],
)
def test_token_for_another_query_is_refused(other: TokenScope) -> None:
    token = TokenCodec(KEY).encode(SCOPE, CURSOR)
    assert _refused(TokenCodec(KEY), other, token) == "InvalidNextTokenException 400 Invalid NextToken"


def test_token_with_any_character_changed_is_refused() -> None:
    codec = TokenCodec(KEY)
    token = codec.encode(SCOPE, CURSOR)
    for i in range(len(token)):
        edited = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        assert _refused(codec, SCOPE, edited).startswith("InvalidNextTokenException")


def test_token_signed_with_another_key_is_refused() -> None:
    token = TokenCodec(b"k" * 32).encode(SCOPE, CURSOR)
    assert _refused(TokenCodec(KEY), SCOPE, token).startswith("InvalidNextTokenException")


@pytest.mark.parametrize("token", ["", "x", "not-a-token", "ünicode", "a+b/c=", "A" * 400])
def test_malformed_token_is_refused(token: str) -> None:
    assert _refused(TokenCodec(KEY), SCOPE, token).startswith("InvalidNextTokenException")


def test_short_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        TokenCodec(b"short")


def test_codec_key_is_the_journals_shared_secret_and_survives_reopen(backend: Backend) -> None:
    async def scenario() -> None:
        async with backend.opened() as journal:
            token = (await load_token_codec(journal)).encode(SCOPE, CURSOR)
            key = await journal.get_or_create_secret(TOKEN_KEY_NAME, b"ignored")
            assert len(key) == 32
        async with backend.opened() as journal:
            assert (await load_token_codec(journal)).decode(SCOPE, token) == CURSOR

    asyncio.run(scenario())
