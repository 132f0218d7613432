"""Canary secrets: botocore models in, requests carrying a canary in every sensitive member out; and a byte
scanner that finds canaries (raw, lower-cased, base64) in files, SQLite rows, gzip members and bodies.
"""

from __future__ import annotations

import base64
import gzip
import re
import secrets
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
from botocore.model import OperationModel

__all__ = ["Canaries", "Finding", "Scanner", "sensitive_calls"]

_MAX_DEPTH = 8
_HEX64 = re.compile(rb"[0-9a-f]{64}")


@dataclass
class Canaries:
    """Unique secret strings of one run; every one starts with ``prefix`` so one search finds them all."""

    prefix: str = field(default_factory=lambda: "tkcanary" + secrets.token_hex(4))
    issued: list[str] = field(default_factory=list)

    def new(self, hint: str = "") -> str:
        value = f"{self.prefix}{hint[:12]}{secrets.token_hex(6)}"
        self.issued.append(value)
        return value


def _sensitive(shape: Any) -> bool:
    return bool(shape.metadata.get("sensitive"))


def _reaches_sensitive(shape: Any, depth: int = 0) -> bool:
    if shape is None or depth > _MAX_DEPTH:
        return False
    if _sensitive(shape):
        return True
    if shape.type_name == "structure":
        return any(_reaches_sensitive(m, depth + 1) for m in shape.members.values())
    if shape.type_name == "list":
        return _reaches_sensitive(shape.member, depth + 1)
    if shape.type_name == "map":
        return _reaches_sensitive(shape.value, depth + 1)
    return False


@dataclass
class _Filler:
    """Builds an operation's input: required members plausible, every sensitive member a canary."""

    canaries: Canaries
    over_limit: (
        bool  # sensitive strings longer than the model allows (validation messages must not echo them)
    )

    def value(self, shape: Any, name: str, depth: int = 0, secret: bool = False) -> Any:
        secret = secret or _sensitive(shape)
        kind = shape.type_name
        if kind == "structure":
            return {
                member: self.value(sub, member, depth + 1, secret)
                for member, sub in shape.members.items()
                if depth < _MAX_DEPTH
                and (
                    member in shape.required_members
                    or _reaches_sensitive(sub)
                    or (secret and sub.type_name == "string")
                )
            }
        if kind == "list":
            return [self.value(shape.member, name, depth + 1, secret)] if depth < _MAX_DEPTH else []
        if kind == "map":
            key = self.canaries.new("key") if secret else "k"
            return {key: self.value(shape.value, name, depth + 1, secret)} if depth < _MAX_DEPTH else {}
        return self._scalar(shape, name, secret)

    @staticmethod
    def _wanted(shape: Any, member: str, sub: Any, secret: bool) -> bool:
        """Required members, those on the way to a sensitive one, and a secret structure's strings."""
        return bool(
            member in shape.required_members
            or _reaches_sensitive(sub)
            or (secret and sub.type_name == "string")
        )

    def _scalar(self, shape: Any, name: str, secret: bool) -> Any:
        kind = shape.type_name
        if kind == "string":
            if secret:
                text = self.canaries.new(name)
                limit = shape.metadata.get("max")
                return text + "x" * (int(limit) + 1 - len(text)) if self.over_limit and limit else text
            enum = shape.enum
            return enum[0] if enum else "x" * max(1, int(shape.metadata.get("min", 1)))
        if kind in ("integer", "long"):
            return int(shape.metadata.get("min", 1))
        if kind in ("double", "float"):
            return 1.0
        if kind == "boolean":
            return True
        if kind == "timestamp":
            return datetime.now(UTC)
        if kind == "blob":
            return self.canaries.new(name).encode() if secret else b"x"
        return "x"


def sensitive_calls(service: str, canaries: Canaries) -> Iterator[tuple[str, dict[str, Any]]]:
    """(operation, params) for every operation whose input reaches a sensitive member, twice: with
    canaries inside the model's limits, and with canaries over them."""
    model = botocore.session.get_session().get_service_model(service)
    for name in model.operation_names:
        op: OperationModel = model.operation_model(name)
        if op.input_shape is None or not _reaches_sensitive(op.input_shape):
            continue
        for over in (False, True):
            yield name, _Filler(canaries, over).value(op.input_shape, name)


@dataclass(frozen=True)
class Finding:
    where: str
    what: str


@dataclass
class Scanner:
    """Needles: canary prefixes (all canaries), exact secrets, and 64-hex signatures."""

    prefixes: list[str]
    exact: set[str]
    signatures: set[str]
    findings: list[Finding] = field(default_factory=list)
    scanned_bytes: int = 0

    def _needles(self) -> Iterator[tuple[str, bytes]]:
        for text in (*self.prefixes, *self.exact):
            yield text, text.lower().encode()
            raw = text.encode()
            for shift in range(3):  # the needle's base64 at each byte alignment
                encoded = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0 : -4]
                if len(encoded) >= 8:
                    yield f"base64({text})", encoded.lower()

    def scan(self, where: str, data: bytes) -> None:
        self.scanned_bytes += len(data)
        low = data.lower()
        for what, needle in self._needles():
            if needle in low:
                self.findings.append(Finding(where, what))
        for sig in set(_HEX64.findall(low)) & {s.encode() for s in self.signatures}:
            self.findings.append(Finding(where, f"signature {sig[:12].decode()}…"))

    def scan_file(self, path: Path) -> None:
        data = path.read_bytes()
        self.scan(str(path), data)
        if data[:2] == b"\x1f\x8b":
            self.scan(f"{path} (gunzipped)", _gunzip(data))
        if data[:16] == b"SQLite format 3\0":
            for table, blob in _sqlite_values(path):
                self.scan(f"{path}:{table}", blob)

    def scan_tree(self, root: Path) -> int:
        files = [p for p in sorted(root.rglob("*")) if p.is_file()]
        for path in files:
            self.scan_file(path)
        return len(files)


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return b""


def _sqlite_values(path: Path) -> Iterable[tuple[str, bytes]]:
    """Every value of every table, read through SQLite (a value split over pages is whole here)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        yield table, value
                        if value[:2] == b"\x1f\x8b":
                            yield table, _gunzip(value)
                    elif isinstance(value, str):
                        yield table, value.encode()
    except sqlite3.DatabaseError:
        return
    finally:
        db.close()
