"""Temporary credentials: minted, resolved back statelessly, bound to their key, sealed and expiring."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer
from trailkeeper.capture.identity.sessions import SessionService
from trailkeeper.capture.identity.sigv4 import AuthFailure

KEY = bytes(range(32))
NOW = datetime(2026, 11, 23, 10, 15, 0, 123456, tzinfo=UTC)
ISSUER = SessionIssuer(
    "Role", "AROAEXAMPLEEXAMPLE123", "arn:aws:iam::111122223333:role/Admin", "111122223333", "Admin"
)


def _role_session(name: str = "nightly-etl") -> Principal:
    return Principal(
        "AssumedRole",
        "111122223333",
        f"arn:aws:sts::111122223333:assumed-role/Admin/{name}",
        f"AROAEXAMPLEEXAMPLE123:{name}",
        "",
        name,
        SessionInfo(ISSUER, NOW, NOW, mfa_authenticated=True),
    )


def test_mint_then_resolve_returns_the_same_principal_and_secret() -> None:
    service = SessionService(KEY)
    creds = service.mint(_role_session(), duration_seconds=3600, now=NOW)
    entry = service.resolve(creds.access_key_id, creds.session_token, NOW + timedelta(minutes=59))
    assert entry.principal == creds.principal
    assert entry.secret_access_key == creds.secret_access_key
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", creds.access_key_id)
    assert len(creds.secret_access_key) == 40
    assert creds.session_token.startswith("IQoJb3JpZ2luX2Vj")


def test_mint_fills_key_and_session_times_and_keeps_issuer() -> None:
    creds = SessionService(KEY).mint(_role_session(), duration_seconds=900, now=NOW)
    session = creds.principal.session
    assert session is not None
    assert creds.principal.access_key_id == creds.access_key_id
    assert session.creation_date == datetime(2026, 11, 23, 10, 15, 0, tzinfo=UTC)
    assert session.expiration == creds.expiration == datetime(2026, 11, 23, 10, 30, 0, tzinfo=UTC)
    assert session.issuer == ISSUER
    assert session.mfa_authenticated


def test_resolve_on_another_node_after_restart_accepts_credentials() -> None:
    creds = SessionService(KEY).mint(_role_session(), duration_seconds=900, now=NOW)
    other_node = SessionService(bytes(KEY))
    assert other_node.resolve(creds.access_key_id, creds.session_token, NOW).principal == creds.principal


def test_resolve_after_expiry_refused_with_expired_token() -> None:
    service = SessionService(KEY)
    creds = service.mint(_role_session(), duration_seconds=900, now=NOW)
    with pytest.raises(AuthFailure) as info:
        service.resolve(creds.access_key_id, creds.session_token, creds.expiration)
    assert info.value.code == "ExpiredTokenException"
    assert info.value.principal == creds.principal


def test_resolve_token_with_another_key_id_refused() -> None:
    service = SessionService(KEY)
    first = service.mint(_role_session("one"), duration_seconds=900, now=NOW)
    second = service.mint(_role_session("two"), duration_seconds=900, now=NOW)
    with pytest.raises(AuthFailure) as info:
        service.resolve(second.access_key_id, first.session_token, NOW)
    assert info.value.code == "UnrecognizedClientException"
    assert info.value.principal is None


def test_resolve_token_of_another_server_key_refused() -> None:
    creds = SessionService(KEY).mint(_role_session(), duration_seconds=900, now=NOW)
    with pytest.raises(AuthFailure) as info:
        SessionService(bytes(32)).resolve(creds.access_key_id, creds.session_token, NOW)
    assert info.value.code_for("query") == "InvalidClientTokenId"


@pytest.mark.parametrize("token", ["", "not-a-token", "IQoJb3JpZ2luX2Vj!!!", "IQoJb3JpZ2luX2VjAAAA"])
def test_resolve_garbage_token_refused(token: str) -> None:
    with pytest.raises(AuthFailure) as info:
        SessionService(KEY).resolve("ASIAAAAAAAAAAAAAAAAA", token, NOW)
    assert info.value.code == "UnrecognizedClientException"


def test_token_does_not_reveal_the_identity() -> None:
    creds = SessionService(KEY).mint(_role_session("very-secret-session"), duration_seconds=900, now=NOW)
    raw = base64.b64decode(creds.session_token.removeprefix("IQoJb3JpZ2luX2Vj"))
    for revealing in (b"very-secret-session", b"111122223333", b"Admin", b"AssumedRole"):
        assert revealing not in raw


def test_service_keeps_no_state_and_records_no_secret() -> None:
    service = SessionService(KEY)
    minted = [service.mint(_role_session(f"s{i}"), duration_seconds=900, now=NOW) for i in range(20)]
    assert not hasattr(service, "__dict__")  # only its two slots: the key and the cipher built from it
    for creds in minted:
        recorded = repr(creds.principal)  # what ends up in userIdentity
        assert creds.session_token not in recorded
        assert creds.secret_access_key not in recorded


def test_session_service_refuses_short_key() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SessionService(b"short")
