"""Console sessions in SQLite: a signed-in principal in, a random cookie id out (and back, until it expires).

The rows live in ``<data_dir>/state.sqlite3`` beside other components' tables, in tables of their
own (``console_*``) with their own schema-version row. Only a SHA-256 of the cookie's id is stored,
so a copy of the file cannot be replayed as a cookie; no secret key, session token or password is
ever stored: the row holds the principal the credentials proved, nothing that could sign a call.
One connection on one thread serialises every statement.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer

__all__ = [
    "SESSION_TTL_SECONDS",
    "ConsoleSession",
    "SessionStore",
    "Sessions",
    "new_session_id",
    "session_row",
]

_T = TypeVar("_T")

SESSION_TTL_SECONDS = 12 * 3600  # the console's sessions last at most 12 hours
_ID_BYTES = 32

# Migration i takes the console schema from version i to i + 1. Append; never edit a released one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE console_sessions (id_hash BLOB PRIMARY KEY, principal BLOB NOT NULL,
            region TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL) STRICT""",
        "CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_ms)",
    ),
)
_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS console_schema
    (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL) STRICT"""


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """One signed-in browser: who (its console principal), where by default, and until when.

    ``principal`` signs the console's own calls: its ``access_key_id`` is the session's own
    ``ASIA…`` id and its ``session`` the console session (as AWS records console-made calls).
    """

    principal: Principal
    region: str
    created_ms: int
    expires_ms: int


def new_session_id() -> str:
    """256 random bits, URL-safe: the cookie value."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_ID_BYTES)).decode("ascii").rstrip("=")


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("utf-8")).digest()


class Sessions(Protocol):
    """What the console needs of its session store: ``SessionStore`` (SQLite) or ``PgSessionStore``."""

    def describe(self) -> str: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, session: ConsoleSession) -> str: ...

    async def get(self, session_id: str, now_ms: int) -> ConsoleSession | None: ...

    async def delete(self, session_id: str) -> None: ...


class SessionStore:
    """Durable console sessions. Every method is safe to call concurrently."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-sessions")
        self._db: sqlite3.Connection | None = None

    def describe(self) -> str:
        return f"console sessions in {self._path}"

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        def call() -> _T:
            assert self._db is not None, "SessionStore.open() was not awaited"
            with self._db:  # one transaction per call
                return fn(self._db)

        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def open(self) -> None:
        def connect() -> None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA busy_timeout = 10000")  # other components share the file
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")  # a sign-out must survive a crash
            _migrate(db)
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._pool, connect)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.get_running_loop().run_in_executor(self._pool, db.close)
        self._pool.shutdown(wait=True)

    async def create(self, session: ConsoleSession) -> str:
        """Store ``session``; return the new id to put in the cookie (never stored itself)."""
        session_id = new_session_id()
        row = session_row(session_id, session)

        def insert(db: sqlite3.Connection) -> None:
            # Expired rows are dropped here rather than on every read, which stays write-free.
            db.execute("DELETE FROM console_sessions WHERE expires_ms <= ?", (session.created_ms,))
            db.execute("INSERT INTO console_sessions VALUES (?, ?, ?, ?, ?)", row)

        await self._run(insert)
        return session_id

    async def get(self, session_id: str, now_ms: int) -> ConsoleSession | None:
        """The live session with this id; None if unknown, forged, signed out or expired."""

        def read(db: sqlite3.Connection) -> tuple[Any, ...] | None:
            cursor = db.execute(
                "SELECT principal, region, created_ms, expires_ms FROM console_sessions"
                " WHERE id_hash = ? AND expires_ms > ?",
                (_digest(session_id), now_ms),
            )
            found: tuple[Any, ...] | None = cursor.fetchone()
            return found

        row = await self._run(read)
        if row is None:
            return None
        return ConsoleSession(_principal_from(orjson.loads(row[0])), row[1], row[2], row[3])

    async def delete(self, session_id: str) -> None:
        """End a session (sign-out); unknown ids are ignored."""
        digest = _digest(session_id)
        await self._run(lambda db: db.execute("DELETE FROM console_sessions WHERE id_hash = ?", (digest,)))


def session_row(session_id: str, session: ConsoleSession) -> tuple[Any, ...]:
    """The stored row of a session: the id only as its hash (a leaked table grants no sign-in)."""
    return (
        _digest(session_id),
        orjson.dumps(_principal_fields(session.principal)),
        session.region,
        session.created_ms,
        session.expires_ms,
    )


def _migrate(db: sqlite3.Connection) -> None:
    with db:
        db.execute(_VERSION_TABLE)
        row = db.execute("SELECT version FROM console_schema WHERE id = 1").fetchone()
        version = 0 if row is None else int(row[0])
        if version > len(_MIGRATIONS):
            raise RuntimeError(f"console schema version {version} is newer than this server knows")
        for statements in _MIGRATIONS[version:]:
            for statement in statements:
                db.execute(statement)
        db.execute(
            "INSERT INTO console_schema (id, version) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            (len(_MIGRATIONS),),
        )


def _principal_fields(p: Principal) -> dict[str, Any]:
    session = p.session
    issuer = session.issuer if session else None
    return {
        "type": p.type,
        "account": p.account_id,
        "arn": p.arn,
        "id": p.principal_id,
        "key": p.access_key_id,
        "user": p.user_name,
        "session": None
        if session is None
        else {
            "created": int(session.creation_date.timestamp()),
            "expires": int(session.expiration.timestamp()),
            "mfa": session.mfa_authenticated,
            "issuer": None
            if issuer is None
            else [issuer.type, issuer.principal_id, issuer.arn, issuer.account_id, issuer.user_name],
        },
    }


def _principal_from(fields: dict[str, Any]) -> Principal:
    raw = fields["session"]
    session = None
    if raw is not None:
        issuer = SessionIssuer(*raw["issuer"]) if raw["issuer"] else None
        session = SessionInfo(
            issuer,
            datetime.fromtimestamp(raw["created"], UTC),
            datetime.fromtimestamp(raw["expires"], UTC),
            bool(raw["mfa"]),
        )
    return Principal(
        fields["type"], fields["account"], fields["arn"], fields["id"], fields["key"], fields["user"], session
    )
