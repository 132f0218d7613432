"""The local bucket store: objects in and out of folders under ``<data_dir>/buckets``, S3 semantics.

A bucket is the folder ``<root>/<bucket>``; an object is a file at its key's path (names encoded by
``storage.keys``), its metadata in a JSON sidecar ``.<file name>.json`` beside it. A write is
atomic and durable: the bytes go to a temp file in the same folder (fsync), the sidecar is
replaced (fsync) listing the new version *and* the one it replaces, then the temp file is renamed
over the object (fsync of the folder). Each sidecar entry names its file by (inode, size, mtime),
so a reader always pairs the bytes it sees with their own metadata: a crash leaves the old object
or the new one, never a part or a mix. A file without a matching entry (copied in by hand) is
served with metadata computed from its bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from trailkeeper.config.names import is_bucket_name
from trailkeeper.storage import errors
from trailkeeper.storage.base import Listing, ObjectInfo, StoredObject
from trailkeeper.storage.keys import (
    ALT,
    MAX_KEY_BYTES,
    encode_key,
    is_dir,
    is_file,
    list_page,
    twin_dir,
    walk_keys,
)

__all__ = ["SSE_ALGORITHMS", "LocalObjectStore", "fsync_dir", "write_durably"]

SSE_ALGORITHMS = ("AES256", "aws:kms")
_TEMP = ".~"  # temp files: never a sidecar (those end ".json") nor an encoded name (never "."-led)
_TEMP_MAX_AGE_S = 3600.0  # temp files older than this were left by a crash: retention removes them
Fingerprint = tuple[int, int, int]  # (inode, size, mtime_ns): which file a sidecar entry describes


def fsync_dir(directory: Path) -> None:
    """Make a folder's entries (a rename, a new file or folder) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> Fingerprint:
    """Write a new file (it must not exist) and fsync it; its fingerprint, which a rename keeps."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _fingerprint(st: os.stat_result) -> Fingerprint:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.json")


def _info(key: str, entry: Mapping[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=entry["size"],
        etag=entry["etag"],
        last_modified_ms=entry["last_modified_ms"],
        metadata=entry.get("metadata") or {},
        content_type=entry.get("content_type") or "application/octet-stream",
        content_encoding=entry.get("content_encoding"),
        sse=entry.get("sse"),
        kms_key_id=entry.get("kms_key_id"),
    )


def _entry(info: ObjectInfo, fp: Fingerprint) -> dict[str, Any]:
    return {
        "fp": list(fp),
        "size": info.size,
        "etag": info.etag,
        "last_modified_ms": info.last_modified_ms,
        "metadata": dict(info.metadata),
        "content_type": info.content_type,
        "content_encoding": info.content_encoding,
        "sse": info.sse,
        "kms_key_id": info.kms_key_id,
    }


def _entry_for(path: Path, fp: Fingerprint) -> dict[str, Any] | None:
    """The sidecar entry describing exactly this file (fingerprint), if any."""
    try:
        versions = orjson.loads(_sidecar(path).read_bytes()).get("versions", [])
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None
    return next((v for v in versions if isinstance(v, dict) and tuple(v.get("fp", ())) == fp), None)


def _checked_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    # S3 keeps user metadata keys lower-case (they travel as HTTP headers) and REST requires US-ASCII.
    checked = {k.lower(): v for k, v in (metadata or {}).items()}
    for name, value in checked.items():
        if not (name.isascii() and value.isascii() and name.isprintable() and value.isprintable()):
            raise errors.invalid_argument("User-defined metadata must be US-ASCII.", f"x-amz-meta-{name}", "")
    return checked


_INLINE_READ_BYTES = 256 * 1024  # objects up to this size are read without a thread hop


class LocalObjectStore:
    """Every local bucket under one root folder; blocking file work runs in worker threads."""

    def __init__(
        self,
        root: Path,
        *,
        region_of: Callable[[str], str] = lambda _bucket: "us-east-1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self._region_of = region_of
        self._clock = clock
        # Writers are serialised: a put or delete changes folders another one may be walking.
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"local({self.root})"

    def bucket_path(self, bucket: str) -> Path:
        """The bucket's folder (it may not exist); InvalidBucketName for names S3 would refuse."""
        if not is_bucket_name(bucket):
            raise errors.invalid_bucket_name(bucket)
        return self.root / bucket

    def create_bucket(self, bucket: str) -> bool:
        """Create the bucket's folder durably; False if it already existed."""
        path = self.bucket_path(bucket)
        if is_dir(path):
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        path.mkdir(exist_ok=True)
        fsync_dir(self.root)
        return True

    def _existing(self, bucket: str) -> Path:
        path = self.root / bucket
        if not is_bucket_name(bucket) or not is_dir(path):
            raise errors.no_such_bucket(bucket)
        return path

    async def bucket_exists(self, bucket: str) -> bool:
        return is_bucket_name(bucket) and await asyncio.to_thread(is_dir, self.root / bucket)

    async def bucket_region(self, bucket: str) -> str:
        await asyncio.to_thread(self._existing, bucket)
        return self._region_of(bucket)

    # -- paths -----------------------------------------------------------------------------

    def _find(self, root: Path, key: str) -> Path | None:
        """The object file of ``key``, following ALT twins; None when there is none."""
        if not key or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            return None
        names = encode_key(key)
        current = root
        for name in names[:-1]:
            found = twin_dir(current, name)
            if found is None:
                return None
            current = found
        return next((p for p in (current / names[-1], current / f"{names[-1]}{ALT}") if is_file(p)), None)

    def _make_dirs(self, root: Path, names: list[str]) -> Path:
        """Walk down ``names``, creating folders durably; a name held by a file gets its ALT twin."""
        current = root
        for name in names:
            found = twin_dir(current, name)
            if found is None:
                found = current / (f"{name}{ALT}" if os.path.lexists(current / name) else name)
                found.mkdir()
                fsync_dir(current)
            current = found
        return current

    @staticmethod
    def _target(directory: Path, name: str) -> Path:
        natural, twin = directory / name, directory / f"{name}{ALT}"
        if is_file(natural) or (not is_file(twin) and not os.path.lexists(natural)):
            return natural
        return twin

    # -- write -----------------------------------------------------------------------------

    async def put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        content_encoding: str | None = None,
        metadata: Mapping[str, str] | None = None,
        sse: str = "AES256",
        kms_key_id: str | None = None,
    ) -> ObjectInfo:
        """Write (or overwrite) an object atomically: readers see the old or the new bytes, never a part."""
        size = len(key.encode("utf-8", "surrogatepass"))
        if not key or size > MAX_KEY_BYTES:
            raise errors.key_too_long(size, MAX_KEY_BYTES)
        if sse not in SSE_ALGORITHMS:
            raise errors.invalid_argument(
                "The encryption method specified is not supported", "x-amz-server-side-encryption", sse
            )
        info = ObjectInfo(
            key=key,
            size=len(body),
            etag=f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"',
            last_modified_ms=int(self._clock() * 1000),
            metadata=_checked_metadata(metadata),
            content_type=content_type,
            content_encoding=content_encoding,
            sse=sse,
            kms_key_id=kms_key_id if sse == "aws:kms" else None,
        )
        await asyncio.to_thread(self._put_sync, bucket, body, info)
        return info

    def _put_sync(self, bucket: str, body: bytes, info: ObjectInfo) -> None:
        root = self._existing(bucket)
        names = encode_key(info.key)
        with self._lock:
            directory = self._make_dirs(root, names[:-1])
            target = self._target(directory, names[-1])
            temp = directory / f"{_TEMP}{uuid.uuid4().hex}"
            fp = write_durably(temp, body)
            try:
                versions = [_entry(info, fp)]
                if is_file(target) and (old := _entry_for(target, _fingerprint(os.lstat(target)))):
                    versions.append(old)  # still describes the file until the rename below
                side_temp = directory / f"{_TEMP}{uuid.uuid4().hex}"
                write_durably(side_temp, orjson.dumps({"versions": versions}))
                os.replace(side_temp, _sidecar(target))
                fsync_dir(directory)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            os.replace(temp, target)  # the commit point
            fsync_dir(directory)

    async def delete(self, bucket: str, key: str) -> None:
        """Remove an object (no error when it does not exist, as S3) and its emptied folders."""
        await asyncio.to_thread(self._delete_sync, bucket, key)

    def _delete_sync(self, bucket: str, key: str) -> None:
        root = self._existing(bucket)
        with self._lock:
            path = self._find(root, key)
            if path is None:
                return
            path.unlink()
            _sidecar(path).unlink(missing_ok=True)
            fsync_dir(path.parent)
            folder = path.parent
            while folder != root:
                try:
                    folder.rmdir()  # only succeeds while empty
                except OSError:
                    break
                folder = folder.parent

    # -- read ------------------------------------------------------------------------------

    async def head(self, bucket: str, key: str) -> ObjectInfo:
        return await asyncio.to_thread(self._head_sync, bucket, key)

    def _head_sync(self, bucket: str, key: str) -> ObjectInfo:
        path = self._find(self._existing(bucket), key)
        if path is None:
            raise errors.no_such_key(key)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise errors.no_such_key(key) from None
        entry = _entry_for(path, _fingerprint(st))
        return _info(key, entry) if entry else self._computed(key, path.read_bytes(), st)

    async def get(self, bucket: str, key: str) -> StoredObject:
        # A small object is read on the caller's thread: a thread hop costs more than the read
        # (most log files are a few KB). Large ones go to a worker so the event loop keeps moving.
        path = self._find(self._existing(bucket), key)
        if path is None:
            raise errors.no_such_key(key)
        try:
            small = path.stat().st_size <= _INLINE_READ_BYTES
        except OSError:
            small = False  # gone meanwhile: the read below says NoSuchKey
        if small:
            return self._read(path, key)
        return await asyncio.to_thread(self._read, path, key)

    def _read(self, path: Path, key: str) -> StoredObject:
        try:
            with path.open("rb") as handle:  # the open file keeps these bytes, whatever renames follow
                st = os.fstat(handle.fileno())
                body = handle.read()
        except FileNotFoundError:
            raise errors.no_such_key(key) from None
        entry = _entry_for(path, _fingerprint(st))
        return StoredObject(_info(key, entry) if entry else self._computed(key, body, st), body)

    @staticmethod
    def _computed(key: str, body: bytes, st: os.stat_result) -> ObjectInfo:
        """Metadata of a file with no sidecar entry: what its bytes and mtime say."""
        etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
        return ObjectInfo(key, len(body), etag, st.st_mtime_ns // 1_000_000)

    async def list(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
    ) -> Listing:
        return await asyncio.to_thread(self._list_sync, bucket, prefix, delimiter, after, max_keys)

    def _list_sync(self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int) -> Listing:
        root = self._existing(bucket)
        found = dict(walk_keys(root, prefix, after))
        page = list_page(sorted(found), prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys)
        infos = []
        for key in page.keys:
            try:
                st = os.lstat(found[key])
            except FileNotFoundError:
                continue  # deleted while we listed
            entry = _entry_for(found[key], _fingerprint(st))
            infos.append(_info(key, entry) if entry else self._computed(key, found[key].read_bytes(), st))
        return Listing(infos, page.prefixes, page.truncated, page.next_marker)

    # -- retention ---------------------------------------------------------------------------

    async def prune(self, bucket: str, before_ms: int) -> int:
        """Delete objects last modified before ``before_ms`` and stale temp files; how many objects."""
        return await asyncio.to_thread(self._prune_sync, bucket, before_ms)

    def _prune_sync(self, bucket: str, before_ms: int) -> int:
        root = self._existing(bucket)
        self._sweep_temp(root)  # first, so that folders emptied below can go too
        deleted = 0
        for key, path in list(walk_keys(root, "", "")):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            entry = _entry_for(path, _fingerprint(st))
            modified = entry["last_modified_ms"] if entry else st.st_mtime_ns // 1_000_000
            if modified < before_ms:
                self._delete_sync(bucket, key)
                deleted += 1
        return deleted

    def _sweep_temp(self, root: Path) -> None:
        stale = self._clock() - _TEMP_MAX_AGE_S
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = Path(folder, name)
                if name.startswith(_TEMP) and not name.endswith(".json") and path.stat().st_mtime < stale:
                    path.unlink(missing_ok=True)

    async def close(self) -> None:
        return None
