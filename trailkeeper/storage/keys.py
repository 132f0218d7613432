"""S3 keys on disk and S3 listing rules: a key in, safe path names out (and back); keys in, a page out.

A key ``a/b/c.json.gz`` is stored as the file ``c.json.gz`` in the folders ``a/b``: a bucket stays
browsable (and globbable by DuckDB or Spark). Each ``/``-separated segment becomes one file or folder
name, encoded so that no key can name anything outside its bucket folder or collide with our own
files:

- ``%`` and control characters are percent-encoded (``%25``, ``%0A``); a leading ``.`` is ``%2E``, so
  ``.`` and ``..`` cannot appear and every name that starts with ``.`` is ours (sidecars, temp files);
- an empty segment (``a//b``, a leading or trailing ``/``) is ``%~``;
- a segment longer than one name allows is cut into pieces; every piece but the last is a folder
  whose name ends ``%+`` ("the segment goes on inside, without a slash");
- a file and a folder that would share a name (keys ``a`` and ``a/b``) are told apart by ``%!``
  appended to whichever of them came second (see ``LocalObjectStore``).

``%`` followed by anything but two hex digits never comes out of the encoding, so the markers
cannot be confused with an encoded character.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ALT",
    "EMPTY",
    "JOINED",
    "MAX_KEY_BYTES",
    "Page",
    "decode_names",
    "encode_key",
    "encode_segment",
    "is_dir",
    "is_file",
    "list_page",
    "twin_dir",
    "walk_keys",
]

MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length
EMPTY = "%~"
JOINED = "%+"
ALT = "%!"
# NAME_MAX is 255 bytes; a piece leaves room for our sidecar's "." prefix, ".json" suffix and ALT.
_PIECE_BYTES = 200
_HEX = frozenset("0123456789ABCDEFabcdef")


def _char(ch: str, first: bool) -> str:
    if ch == "%" or ch < " " or ch == "\x7f" or (first and ch == "."):
        return f"%{ord(ch):02X}"
    return ch


def encode_segment(segment: str) -> list[str]:
    """One key segment as one or more names (all but the last end with JOINED)."""
    if not segment:
        return [EMPTY]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for index, ch in enumerate(segment):
        token = _char(ch, index == 0)
        width = len(token.encode("utf-8"))
        if size + width > _PIECE_BYTES:
            pieces.append("".join(current) + JOINED)
            current, size = [], 0
        current.append(token)
        size += width
    pieces.append("".join(current))
    return pieces


def encode_key(key: str) -> list[str]:
    """The names from the bucket folder down to the object's file, without ALT markers."""
    names: list[str] = []
    for segment in key.split("/"):
        names.extend(encode_segment(segment))
    return names


def _decode_name(name: str) -> str:
    if name == EMPTY:
        return ""
    out: list[str] = []
    index = 0
    while index < len(name):
        ch = name[index]
        code = name[index + 1 : index + 3]
        if ch == "%" and len(code) == 2 and set(code) <= _HEX:
            out.append(chr(int(code, 16)))
            index += 3
        else:
            out.append(ch)  # not ours (a file someone copied in by hand): kept as it is
            index += 1
    return "".join(out)


def decode_names(names: Sequence[str]) -> str:
    """The key (or key prefix) a path of names spells; ALT markers are dropped."""
    parts: list[str] = []
    for position, raw in enumerate(names):
        name = raw.removesuffix(ALT)
        if name.endswith(JOINED):
            parts.append(_decode_name(name.removesuffix(JOINED)))
            continue
        parts.append(_decode_name(name))
        if position < len(names) - 1:
            parts.append("/")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Page:
    keys: list[str]
    prefixes: list[str]
    truncated: bool
    next_marker: str | None


def list_page(keys: Iterable[str], *, prefix: str, delimiter: str, after: str, max_keys: int) -> Page:
    """One listing page from ``keys`` in ascending UTF-8 binary order, as S3 pages them.

    Keys outside ``prefix`` or not after ``after`` are skipped. With a delimiter, keys whose rest
    (after the prefix) holds it are rolled up into one common prefix ending at its first
    occurrence; a common prefix is an entry like a key: it counts against ``max_keys`` and is
    returned only when it sorts after ``after``, so continuing from a returned common prefix skips
    every key under it. (Python compares strings by code point, which is UTF-8 byte order.)
    """
    found_keys: list[str] = []
    prefixes: list[str] = []
    last: str | None = None
    count = 0
    for key in keys:
        if not key.startswith(prefix) or key <= after:
            continue
        entry, rolled = key, False
        if delimiter and (cut := key.find(delimiter, len(prefix))) >= 0:
            entry, rolled = key[: cut + len(delimiter)], True
            if entry == last or entry <= after:
                continue
        if count == max_keys:
            return Page(found_keys, prefixes, max_keys > 0, last)
        (prefixes if rolled else found_keys).append(entry)
        last, count = entry, count + 1
    return Page(found_keys, prefixes, False, None)


# -- on disk ---------------------------------------------------------------------------------------


def is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)  # lstat: a symlink never leads out of the bucket
    except OSError:
        return False


def is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def twin_dir(parent: Path, name: str) -> Path | None:
    """The folder for ``name`` under ``parent``: its natural name, else its ALT twin; None if neither."""
    return next((p for p in (parent / name, parent / f"{name}{ALT}") if is_dir(p)), None)


def walk_keys(root: Path, prefix: str, after: str) -> Iterator[tuple[str, Path]]:
    """(key, file) of every object that may match, from the deepest folder the prefix names."""
    start, names = root, list[str]()
    for segment in prefix.split("/")[:-1]:
        for name in encode_segment(segment):
            found = twin_dir(start, name)
            if found is None:
                return
            start, names = found, [*names, found.name]
    yield from _walk_dir(start, names, prefix, after)


def _walk_dir(folder: Path, names: list[str], prefix: str, after: str) -> Iterator[tuple[str, Path]]:
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for item in entries:
        if item.name.startswith("."):
            continue  # sidecars and temp files
        path_names = [*names, item.name]
        if item.is_file(follow_symlinks=False):
            yield decode_names(path_names), Path(item.path)
        elif item.is_dir(follow_symlinks=False):
            under = decode_names(path_names)
            under += "" if item.name.removesuffix(ALT).endswith(JOINED) else "/"
            # Skip folders whose keys cannot match the prefix or all sort before ``after``.
            if not (under.startswith(prefix) or prefix.startswith(under)):
                continue
            if under < after and not after.startswith(under):
                continue
            yield from _walk_dir(Path(item.path), path_names, prefix, after)
