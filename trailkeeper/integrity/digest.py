"""Digest files: a period's log files, the chain link and a signing key in; AWS's signed digest out (pure).

Formats (cloudtrail-spec.md §3, datasets.md §1.3-1.4): the JSON fields in the order of AWS's
files (the Elastic fixture), compact; the key
``[prefix/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/
ACCOUNT_CloudTrail-Digest_REGION_TRAILNAME_HOMEREGION_YYYYMMDDTHHmmssZ.json.gz`` dated by the
digest's end; the signature is SHA256withRSA over ``end\\nbucket/key\\nsha256(json)\\nprevious
signature or "null"``, hex in the object metadata ``signature`` beside ``signature-algorithm``.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from trailkeeper.integrity.keys import SigningKey

__all__ = [
    "HASH_ALGORITHM",
    "SIGNATURE_ALGORITHM",
    "ChainLink",
    "DigestContent",
    "LogFileEntry",
    "SignedDigest",
    "compress",
    "digest_document",
    "digest_key",
    "digest_prefix",
    "iso_seconds",
    "sign_digest",
    "string_to_sign",
    "verify_signature",
]

SIGNATURE_ALGORITHM = "SHA256withRSA"
HASH_ALGORITHM = "SHA-256"
# One gzip member with a fixed header (no timestamp): the CLI inflates digests with one zlib call,
# and a replayed write-ahead digest is byte-identical.
_GZIP_MTIME = 0


def iso_seconds(ms: int) -> str:
    """``2020-09-11T19:36:49Z``: UTC, whole seconds, as every time in a digest is written."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class LogFileEntry:
    bucket: str
    key: str
    sha256: str  # lowercase hex of the uncompressed content
    oldest_event_ms: int
    newest_event_ms: int


@dataclass(frozen=True, slots=True)
class ChainLink:
    """What a digest records of the one before it."""

    bucket: str
    key: str
    sha256: str  # of the previous digest's uncompressed JSON
    signature: str  # hex, as in the previous digest's metadata


@dataclass(frozen=True, slots=True)
class DigestContent:
    """One digest before signing. ``previous`` None makes a starting digest (every previous* null)."""

    account_id: str
    start_ms: int
    end_ms: int
    bucket: str
    key: str
    fingerprint: str
    previous: ChainLink | None
    log_files: tuple[LogFileEntry, ...]  # newest first, as AWS lists them


@dataclass(frozen=True, slots=True)
class SignedDigest:
    bucket: str
    key: str
    body: bytes  # the uncompressed JSON
    gzip_body: bytes
    sha256: str  # of ``body``
    signature: str  # hex

    @property
    def metadata(self) -> dict[str, str]:
        return {"signature": self.signature, "signature-algorithm": SIGNATURE_ALGORITHM}

    def link(self) -> ChainLink:
        return ChainLink(self.bucket, self.key, self.sha256, self.signature)


def digest_prefix(prefix: str | None, org_id: str | None, account_id: str, region: str) -> str:
    """``[prefix/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail-Digest/REGION/`` (the prefix verbatim, as for logs)."""
    head = f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"
    org = f"{org_id}/" if org_id else ""
    return f"{head}{org}{account_id}/CloudTrail-Digest/{region}/"


def digest_key(
    *,
    prefix: str | None,
    org_id: str | None,
    account_id: str,
    region: str,
    trail_name: str,
    home_region: str,
    end_ms: int,
) -> str:
    at = datetime.fromtimestamp(end_ms // 1000, tz=UTC)
    name = f"{account_id}_CloudTrail-Digest_{region}_{trail_name}_{home_region}_{at:%Y%m%dT%H%M%SZ}.json.gz"
    return f"{digest_prefix(prefix, org_id, account_id, region)}{at:%Y/%m/%d}/{name}"


def digest_document(content: DigestContent) -> dict[str, Any]:
    """The digest's JSON object, keys in AWS's order; absent times and links are JSON null."""
    files = content.log_files
    previous = content.previous
    return {
        "awsAccountId": content.account_id,
        "digestStartTime": iso_seconds(content.start_ms),
        "digestEndTime": iso_seconds(content.end_ms),
        "digestS3Bucket": content.bucket,
        "digestS3Object": content.key,
        "digestPublicKeyFingerprint": content.fingerprint,
        "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        "newestEventTime": iso_seconds(max(f.newest_event_ms for f in files)) if files else None,
        "oldestEventTime": iso_seconds(min(f.oldest_event_ms for f in files)) if files else None,
        "previousDigestS3Bucket": previous.bucket if previous else None,
        "previousDigestS3Object": previous.key if previous else None,
        "previousDigestHashValue": previous.sha256 if previous else None,
        "previousDigestHashAlgorithm": HASH_ALGORITHM if previous else None,
        "previousDigestSignature": previous.signature if previous else None,
        "logFiles": [
            {
                "s3Bucket": f.bucket,
                "s3Object": f.key,
                "hashValue": f.sha256,
                "hashAlgorithm": HASH_ALGORITHM,
                "newestEventTime": iso_seconds(f.newest_event_ms),
                "oldestEventTime": iso_seconds(f.oldest_event_ms),
            }
            for f in files
        ],
    }


def string_to_sign(
    end_time: str, bucket: str, key: str, body_sha256: str, previous_signature: str | None
) -> bytes:
    """AWS's data signing string; a missing previous signature is the literal ``null`` (Java's)."""
    previous = "null" if previous_signature is None else previous_signature
    return f"{end_time}\n{bucket}/{key}\n{body_sha256}\n{previous}".encode()


def compress(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=_GZIP_MTIME)


def sign_digest(content: DigestContent, key: SigningKey) -> SignedDigest:
    """Serialize, hash, sign and compress one digest. ``key`` must be the one ``content`` names."""
    if key.public.fingerprint != content.fingerprint:
        raise ValueError("the digest names another key's fingerprint")
    body = orjson.dumps(digest_document(content))
    sha = hashlib.sha256(body).hexdigest()
    previous = content.previous.signature if content.previous else None
    signature = key.sign(
        string_to_sign(iso_seconds(content.end_ms), content.bucket, content.key, sha, previous)
    )
    return SignedDigest(content.bucket, content.key, body, compress(body), sha, signature)


def verify_signature(public_der: bytes, data: bytes, signature_hex: str) -> bool:
    """Whether ``signature_hex`` is a SHA256withRSA signature of ``data`` by the PKCS#1 DER key."""
    try:
        # cryptography reads a bare PKCS#1 RSAPublicKey as well as a SubjectPublicKeyInfo.
        key = serialization.load_der_public_key(public_der)
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
