"""TOML tables with typed getters: parsed TOML and its text in, values out or a line-numbered ConfigError.

tomllib locates only syntax errors; semantic ones are located by a line-based scan (``Locator``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit

from trailkeeper.errors import ConfigError

__all__ = ["Locator", "Table", "TablePath", "is_url", "label", "read_table"]

# Where semantic errors point: the line of a table header or of a `key =` inside its span.
_T = TypeVar("_T")
TablePath = tuple[str | int, ...]  # ("account", 0, "user", 1): the second user of the first account
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")


def label(path: TablePath) -> str:
    """``("account", 0, "user", 1)`` -> ``account[0].user[1]``, the way errors name a table."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


class Locator:
    """Maps table paths to their line spans in the file text, so semantic errors can name a line."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        heads: list[tuple[TablePath, int]] = [((), 1)]
        latest: dict[TablePath, int] = {}  # array-of-tables path -> index of its newest element
        for number, line in enumerate(self._lines, start=1):
            if match := _HEADER.match(line):
                heads.append((_table_path(match.group(2), match.group(1) == "[[", latest), number))
        ends = [start - 1 for _, start in heads[1:]] + [len(self._lines)]
        self._spans = {path: (start, end) for (path, start), end in zip(heads, ends, strict=True)}

    def line_of(self, path: TablePath, key: str | None = None, value: object = None) -> int:
        """Best line for ``key`` (holding ``value``) in table ``path``, else the table's header line."""
        if key is not None and (own := self._spans.get((*path, key)) or self._spans.get((*path, key, 0))):
            return own[0]  # the key names a table with a header of its own
        known = next(path[:n] for n in range(len(path), -1, -1) if path[:n] in self._spans)
        start, end = self._spans[known]
        for needle in _needles(path[len(known) :], key, value):
            for number in range(start, end + 1):
                if needle.search(self._lines[number - 1]):
                    return number
        return start


def _table_path(header: str, array: bool, latest: dict[TablePath, int]) -> TablePath:
    names = [n.strip().strip("\"'") for n in header.split(".")]
    path: TablePath = ()
    for name in names[:-1]:
        path = (*path, name)
        if path in latest:  # a dotted header continues the newest element of an array of tables
            path = (*path, latest[path])
    path = (*path, names[-1])
    if not array:
        return path
    latest[path] = latest.get(path, -1) + 1
    return (*path, latest[path])


def _needles(rest: TablePath, key: str | None, value: object) -> list[re.Pattern[str]]:
    """What to look for, best first: ``key = value``, the quoted value, ``key =``, an inline table's key."""
    literal = f"[\"']{re.escape(value)}[\"']" if isinstance(value, str) else re.escape(str(value))
    keyed = [rf"(^|[\s{{,]){re.escape(k)}[\"']?\s*=" for k in (key, *rest) if isinstance(k, str)]
    # `key = value`, or `key = [..., value` for an element of an array written on the key's line.
    found = [rf"{keyed[0]}\s*(?:\[[^\]]*?)?{literal}"] if key and value is not None else []
    found += [literal] if isinstance(value, str) and value else []
    return [re.compile(p) for p in (*found, *keyed)]


@dataclass(frozen=True, slots=True)
class Table:
    """One TOML table: typed getters that fail with the file's line, and unknown-key refusal."""

    file: str
    locator: Locator
    path: TablePath
    data: dict[str, object]

    def only(self, *allowed: str) -> Table:
        for key in self.data:
            if key not in allowed:
                self.fail(f'unknown key "{key}" (expected one of: {", ".join(allowed)})', key)
        return self

    def fail(self, problem: str, key: str | None = None, value: object = None) -> NoReturn:
        where = f"{label(self.path)}: " if self.path else ""
        raise ConfigError(f"{self.file}:{self.locator.line_of(self.path, key, value)}: {where}{problem}")

    def expect(self, ok: object, key: str, value: object, problem: str) -> None:
        """Refuse ``key = value`` with ``problem`` unless ``ok``."""
        if not ok:
            self.fail(f'{key} "{value}" {problem}', key, value)

    def get(self, key: str, kind: type[_T], default: _T | None = None) -> _T | None:
        value = self.data.get(key, default)
        # bool is an int subclass, but TOML's true is no number here.
        if value is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
            return value
        self.fail(f"{key} must be {_kind(kind)}, got {_kind(type(value))}", key)

    def need(self, key: str, kind: type[_T]) -> _T:
        if (value := self.get(key, kind)) is None:
            self.fail(f'missing required key "{key}"')
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.get(key, int, default)
        if value is None or not low <= value <= high:
            self.fail(f"{key} {value} is out of range {low}..{high}", key, value)
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        """An integer or a float (TOML keeps them apart; ``interval_seconds = 1`` must read as 1.0)."""
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{key} must be a number, got {_kind(type(value))}", key)
        if not low <= value <= high:
            self.fail(f"{key} {value} is out of range {low:g}..{high:g}", key, value)
        return float(value)

    def credentials(self) -> tuple[str | None, str | None]:
        """``access_key_id`` and ``secret_access_key``: both or neither."""
        key_id, secret = self.get("access_key_id", str), self.get("secret_access_key", str)
        self.expect(
            (key_id is None) == (secret is None), "access_key_id", key_id, "needs a secret_access_key"
        )
        return key_id, secret

    def url(self, key: str) -> str:
        value = self.need(key, str)
        self.expect(is_url(value), key, value, "must be an http:// or https:// URL")
        return value

    def texts(self, key: str, valid: Callable[[str], object], problem: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if value is None or not all(isinstance(v, str) for v in value):
            self.fail(f"{key} must be an array of strings", key)
        for entry in value:
            self.expect(valid(entry), key, entry, problem)
        return tuple(value)

    def table(self, key: str) -> Table | None:
        value = self.get(key, dict)
        return None if value is None else Table(self.file, self.locator, (*self.path, key), value)

    def tables(self, key: str) -> list[Table]:
        value = self.get(key, list, [])
        if value is None or not all(isinstance(v, dict) for v in value):
            self.fail(f"{key} must be an array of tables ([[{label((*self.path, key))}]])", key)
        return [Table(self.file, self.locator, (*self.path, key, i), v) for i, v in enumerate(value)]


def _kind(kind: type) -> str:
    return _KINDS.get(kind, "a table" if issubclass(kind, dict) else kind.__name__)


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "an array"}


def is_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def read_table(config_file: Path) -> Table:
    """The whole file as the root table; unreadable files and TOML syntax errors raise ConfigError."""
    try:
        text = config_file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{config_file}: cannot read the config file: {err}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # tomllib's message ends "(at line N, column M)"; lead with the line like every other error.
        line = re.search(r"at line (\d+)", str(err))
        raise ConfigError(f"{config_file}:{line.group(1) if line else 1}: {err}") from err
    return Table(str(config_file), Locator(text), (), data)
