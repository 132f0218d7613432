"""One digest or log file in; the AWS CLI's verdict on it out (pure: bytes and metadata, no I/O).

The checks and their wording are those of ``aws cloudtrail validate-logs``
(awscli/customizations/cloudtrail/validation.py: ``fetch_digest``, ``_load_and_validate_digest``,
``Sha256RSADigestValidator``, ``_download_log``), in the same order, so that a file the CLI calls
invalid for one reason is called invalid here for the same one.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from trailkeeper.integrity.digest import string_to_sign

__all__ = [
    "REQUIRED_KEYS",
    "DigestInvalid",
    "PublicKeys",
    "check_digest",
    "check_log",
    "display_time",
    "where",
]

# DigestTraverser.required_digest_keys: checked before anything inside the digest is used.
REQUIRED_KEYS = (
    "digestPublicKeyFingerprint", "digestS3Bucket", "digestS3Object",
    "previousDigestSignature", "digestEndTime", "digestStartTime",
)  # fmt: skip


class DigestInvalid(Exception):
    """A digest failed a check; the message is the CLI's status line for it."""


def display_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def where(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


class PublicKeys:
    """The fingerprint -> DER keys ListPublicKeys returned, each parsed once (from any thread)."""

    def __init__(self, ders: Mapping[str, bytes]) -> None:
        self.ders = dict(ders)
        self._loaded: dict[str, rsa.RSAPublicKey | None] = {}
        self._lock = threading.Lock()

    def key(self, fingerprint: str) -> rsa.RSAPublicKey | None:
        with self._lock:
            if fingerprint not in self._loaded:
                try:
                    loaded = serialization.load_der_public_key(self.ders[fingerprint])  # PKCS#1 loads too
                except ValueError:
                    loaded = None
                self._loaded[fingerprint] = loaded if isinstance(loaded, rsa.RSAPublicKey) else None
            return self._loaded[fingerprint]


def check_digest(
    bucket: str,
    key: str,
    body: bytes,
    metadata: Mapping[str, str],
    public: PublicKeys,
    home_region: str,
    recorded: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The digest's JSON when every check holds; else DigestInvalid with the CLI's line.

    ``recorded`` is the digest that links to this one: one check beyond the CLI's, a validly signed
    digest put in another's place does not match what the next digest recorded of it.
    """
    at = f"Digest file\t{where(bucket, key)}\tINVALID"
    raw, data = _inflate(body, at)
    if "signature" not in metadata or "signature-algorithm" not in metadata:
        raise DigestInvalid(f"{at}: signature verification failed")
    if not isinstance(data, dict) or any(name not in data for name in REQUIRED_KEYS):
        raise DigestInvalid(f"{at}: invalid format")
    if data["digestS3Bucket"] != bucket or data["digestS3Object"] != key:
        raise DigestInvalid(f"{at}: has been moved from its original location")
    fingerprint = data["digestPublicKeyFingerprint"]
    if fingerprint not in public.ders:
        raise DigestInvalid(
            f"{at}: public key not found in region {home_region} for fingerprint {fingerprint}"
        )
    public_key = public.key(fingerprint)
    if public_key is None:
        raise DigestInvalid(f"{at}: Unable to load PKCS #1 key with fingerprint {fingerprint}")
    sha = hashlib.sha256(raw).hexdigest()
    previous = data["previousDigestSignature"]
    to_sign = string_to_sign(
        str(data["digestEndTime"]), bucket, key, sha, None if previous is None else str(previous)
    )
    if not _verifies(public_key, to_sign, str(metadata["signature"])):
        raise DigestInvalid(f"{at}: signature verification failed")
    if recorded is not None and not _as_recorded(recorded, sha, str(metadata["signature"])):
        raise DigestInvalid(f"{at}: does not match the digest that follows it")
    return data


def _inflate(body: bytes, at: str) -> tuple[bytes, Any]:
    """One zlib call, as the CLI inflates a digest (trailing data is not its concern here)."""
    try:
        raw = zlib.decompress(body, zlib.MAX_WBITS | 16)
        return raw, json.loads(raw.decode())
    except (ValueError, zlib.error) as err:
        raise DigestInvalid(f"{at}: invalid format") from err


def _as_recorded(recorded: Mapping[str, Any], sha: str, signature: str) -> bool:
    """Whether the next digest's previousDigestHashValue/Signature name these bytes and signature."""
    return (
        recorded.get("previousDigestHashValue") in (None, sha)
        and recorded.get("previousDigestSignature") == signature
    )


def check_log(body: bytes, expected: str) -> str | None:
    """None when the log file is valid, else the CLI's reason (one gzip member, hash of its content)."""
    try:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        digest = hashlib.sha256(inflater.decompress(body))
        digest.update(inflater.flush())
    except zlib.error:
        return "invalid format"
    if inflater.unused_data:
        return "unexpected data after end of compressed stream"
    return None if digest.hexdigest() == expected else "hash value doesn't match"


def _verifies(key: rsa.RSAPublicKey, data: bytes, signature_hex: str) -> bool:
    try:
        key.verify(bytes.fromhex(signature_hex), data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True
