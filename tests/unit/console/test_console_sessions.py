"""The console's session store on a real SQLite file: only hashes stored, expiry, sign-out, reopen."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer
from trailkeeper.console.sessions import ConsoleSession, SessionStore

CREATED = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
T0 = int(CREATED.timestamp() * 1000)
ROLE = Principal(
    "AssumedRole",
    "111122223333",
    "arn:aws:sts::111122223333:assumed-role/Admin/s1",
    "AROAEXAMPLE:s1",
    "ASIACONSOLE000000001",
    "s1",
    SessionInfo(
        SessionIssuer("Role", "AROAEXAMPLE", "arn:aws:iam::111122223333:role/Admin", "111122223333", "Admin"),
        CREATED,
        CREATED + timedelta(hours=1),
        mfa_authenticated=True,
    ),
)
SESSION = ConsoleSession(ROLE, "eu-west-1", T0, T0 + 3_600_000)


_T = TypeVar("_T")


def run(coro: Coroutine[Any, Any, _T]) -> _T:
    return asyncio.run(coro)


async def _roundtrip(path: Path) -> tuple[str, ConsoleSession | None, ConsoleSession | None]:
    store = SessionStore(path)
    await store.open()
    session_id = await store.create(SESSION)
    found = await store.get(session_id, T0 + 1)
    forged = await store.get(session_id[:-2] + "xx", T0 + 1)
    await store.close()
    return session_id, found, forged


def test_sessions_roundtrip_keeps_the_principal_and_stores_only_a_hash(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    session_id, found, forged = run(_roundtrip(path))
    assert found == SESSION
    assert forged is None
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert session_id.encode() not in stored


async def _expiry(path: Path) -> list[ConsoleSession | None]:
    store = SessionStore(path)
    await store.open()
    session_id = await store.create(SESSION)
    seen = [
        await store.get(session_id, SESSION.expires_ms - 1),
        await store.get(session_id, SESSION.expires_ms),
    ]
    await store.close()
    reopened = SessionStore(path)  # durable across a restart, and still expired
    await reopened.open()
    seen.append(await reopened.get(session_id, SESSION.expires_ms - 1))
    await reopened.delete(session_id)
    seen.append(await reopened.get(session_id, SESSION.expires_ms - 1))
    await reopened.close()
    return seen


def test_sessions_expire_survive_restart_and_end_at_sign_out(tmp_path: Path) -> None:
    live, expired, after_restart, signed_out = run(_expiry(tmp_path / "state.sqlite3"))
    assert live == SESSION
    assert after_restart == SESSION
    assert expired is None
    assert signed_out is None


def test_sessions_schema_has_its_own_version_row_beside_other_tables(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as other:  # another component's table in the same file
        other.execute("CREATE TABLE delivery_schema (id INTEGER PRIMARY KEY, version INTEGER)")
        other.execute("INSERT INTO delivery_schema VALUES (1, 7)")
    run(_roundtrip(path))
    run(_roundtrip(path))  # opening again migrates nothing twice
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM console_schema").fetchall() == [(1,)]
        assert db.execute("SELECT version FROM delivery_schema").fetchall() == [(7,)]
        assert db.execute("SELECT count(*) FROM console_sessions").fetchone() == (2,)
