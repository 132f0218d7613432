"""Digest signing keys: a region and a time in; that region's RSA-2048 key pair (made on first use) out.

Layout under ``<data_dir>/keys/`` (mode 0700, outside every bucket):

- ``index.json``: every key's public half and validity window (``region``, ``fingerprint``,
  ``value`` = base64 of the DER PKCS#1 RSAPublicKey, ``start_ms``, ``end_ms``), oldest first;
- ``<region>/<fingerprint>.pem``: the private key (PKCS#8 PEM, unencrypted, mode 0600).

A key is valid for 30 days from its creation, as AWS's published keys are (ValidityEndTime -
ValidityStartTime = 2,592,000 s); the newest key whose window holds ``now`` signs, and when none
does a new one is made. ``rotate`` ends the current window now and starts a new key; the old one
stays listed for every range that overlaps its (shortened) window. Changes are made under an
exclusive ``flock`` and the index is replaced atomically, so the server and ``trailkeeper keys
rotate`` (another process) can both change it; readers re-read the index on every call.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from trailkeeper.errors import TrailkeeperError

__all__ = [
    "KEYS_DIR",
    "KEY_BITS",
    "KEY_VALIDITY_MS",
    "KeyStore",
    "KeyStoreError",
    "PublicKey",
    "SigningKey",
    "check_region",
    "current_of",
    "fingerprint_of",
    "is_region_name",
    "new_key_pair",
    "public_key_der",
]

KEYS_DIR = "keys"  # under the data dir, beside (never inside) the buckets
KEY_BITS = 2048  # every AWS sample key and signature (512 hex digits) is RSA-2048
KEY_VALIDITY_MS = 30 * 86_400_000  # AWS's published keys: 2,592,000 s between start and end
_INDEX = "index.json"
_LOCK = ".lock"
# A region becomes a folder name, and may come from a caller's SigV4 scope: letters, digits, dashes.
_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+){1,3}-\d{1,2}")


class KeyStoreError(TrailkeeperError):
    """The key folder cannot be used (unreadable index, missing private key, bad region name)."""


def is_region_name(region: str) -> bool:
    """Whether ``region`` looks like an AWS region name (``us-east-1``, ``us-gov-west-1``, …)."""
    return _REGION.fullmatch(region) is not None


def public_key_der(key: rsa.RSAPublicKey) -> bytes:
    """The DER PKCS#1 RSAPublicKey (what the AWS CLI loads), not the X.509 SubjectPublicKeyInfo."""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def fingerprint_of(der: bytes) -> str:
    """Lowercase hex MD5 of the DER bytes ListPublicKeys returns as ``Value`` (all four AWS samples)."""
    return hashlib.md5(der, usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class PublicKey:
    region: str
    fingerprint: str
    der: bytes  # DER PKCS#1 RSAPublicKey
    start_ms: int
    end_ms: int

    def overlaps(self, start_ms: int, end_ms: int) -> bool:
        return self.start_ms <= end_ms and start_ms <= self.end_ms


@dataclass(frozen=True, slots=True)
class SigningKey:
    public: PublicKey
    private: rsa.RSAPrivateKey

    def sign(self, data: bytes) -> str:
        """RSASSA-PKCS1-v1_5 over SHA-256 (Java's SHA256withRSA), hex-encoded as S3 metadata carries it."""
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256()).hex()


def new_key_pair(region: str, now_ms: int) -> tuple[PublicKey, rsa.RSAPrivateKey]:
    """A fresh RSA-2048 key pair for ``region``, valid for KEY_VALIDITY_MS from ``now_ms`` (slow: ~0.1 s)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    der = public_key_der(private.public_key())
    return PublicKey(region, fingerprint_of(der), der, now_ms, now_ms + KEY_VALIDITY_MS), private


def _encode(keys: Iterable[PublicKey]) -> bytes:
    rows = [
        {
            "region": k.region,
            "fingerprint": k.fingerprint,
            "value": base64.b64encode(k.der).decode("ascii"),
            "start_ms": k.start_ms,
            "end_ms": k.end_ms,
        }
        for k in keys
    ]
    return orjson.dumps(rows, option=orjson.OPT_INDENT_2)


def _decode(raw: bytes) -> list[PublicKey]:
    try:
        rows = orjson.loads(raw)
        return [
            PublicKey(
                str(r["region"]),
                str(r["fingerprint"]),
                base64.b64decode(r["value"]),
                int(r["start_ms"]),
                int(r["end_ms"]),
            )
            for r in rows
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise KeyStoreError(f"key index is damaged: {err}") from err


class KeyStore:
    """The key folder of one data directory (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._private: dict[str, rsa.RSAPrivateKey] = {}  # fingerprint -> key; a key file never changes
        self._guard = threading.Lock()  # the flock excludes other processes, this other threads

    def describe(self) -> str:
        return f"keys({self.root})"

    def public_keys(self, region: str, start_ms: int, end_ms: int) -> list[PublicKey]:
        """The region's keys whose validity overlaps [start_ms, end_ms], oldest first."""
        return [k for k in self._load() if k.region == region and k.overlaps(start_ms, end_ms)]

    def regions(self) -> list[str]:
        return sorted({k.region for k in self._load()})

    def current(self, region: str, now_ms: int) -> SigningKey:
        """The key that signs in ``region`` at ``now_ms``; made (and stored) if there is none."""
        check_region(region)
        found = current_of(self._load(), region, now_ms)
        if found is None:
            with self._locked():
                keys = self._load()
                found = current_of(keys, region, now_ms)
                if found is None:
                    found = self._create(region, now_ms)
                    self._save([*keys, found])
        return SigningKey(found, self._private_key(found))

    def rotate(self, regions: Iterable[str], now_ms: int) -> list[PublicKey]:
        """End each region's current window at ``now_ms`` and start a new key; the new public keys."""
        made: list[PublicKey] = []
        with self._locked():
            keys = self._load()
            for region in sorted(set(regions)):
                check_region(region)
                keys = [
                    PublicKey(k.region, k.fingerprint, k.der, k.start_ms, now_ms)
                    if k.region == region and k.start_ms <= now_ms < k.end_ms
                    else k
                    for k in keys
                ]
                made.append(self._create(region, now_ms))
            self._save([*keys, *made])
        return made

    # -- files -------------------------------------------------------------------------------------

    def _load(self) -> list[PublicKey]:
        try:
            return _decode((self.root / _INDEX).read_bytes())
        except FileNotFoundError:
            return []

    def _save(self, keys: list[PublicKey]) -> None:
        ordered = sorted(keys, key=lambda k: (k.start_ms, k.region, k.fingerprint))
        temp = self.root / f".~{uuid.uuid4().hex}"
        _write_new(temp, _encode(ordered), 0o600)
        temp.replace(self.root / _INDEX)
        _fsync_dir(self.root)

    def _create(self, region: str, now_ms: int) -> PublicKey:
        public, private = new_key_pair(region, now_ms)
        folder = self.root / region
        folder.mkdir(mode=0o700, exist_ok=True)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_new(folder / f"{public.fingerprint}.pem", pem, 0o600)
        _fsync_dir(folder)
        self._private[public.fingerprint] = private
        return public

    def _private_key(self, key: PublicKey) -> rsa.RSAPrivateKey:
        cached = self._private.get(key.fingerprint)
        if cached is not None:
            return cached
        path = self.root / key.region / f"{key.fingerprint}.pem"
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as err:
            raise KeyStoreError(f"private key {key.fingerprint} of {key.region} is unreadable") from err
        if not isinstance(loaded, rsa.RSAPrivateKey) or public_key_der(loaded.public_key()) != key.der:
            raise KeyStoreError(
                f"private key {key.fingerprint} of {key.region} does not match its index entry"
            )
        self._private[key.fingerprint] = loaded
        return loaded

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)  # private keys live here: nobody else may even list them
        with self._guard:
            fd = os.open(self.root / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock


def current_of(keys: Iterable[PublicKey], region: str, now_ms: int) -> PublicKey | None:
    """The newest of ``region``'s keys whose window holds ``now_ms`` (the one that signs), if any."""
    valid = [k for k in keys if k.region == region and k.start_ms <= now_ms < k.end_ms]
    return max(valid, key=lambda k: k.start_ms, default=None)


def check_region(region: str) -> None:
    """KeyStoreError unless ``region`` is a region name (it becomes a folder name or a row key)."""
    if not is_region_name(region):
        raise KeyStoreError(f"not a region name: {region!r}")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL + the mode at creation: the bytes are never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
