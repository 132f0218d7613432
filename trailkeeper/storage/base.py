"""The object store contract: what delivery writes with and what the S3 read view reads with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["BucketRegistry", "Listing", "ObjectInfo", "ObjectStore", "StoredObject"]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # quoted hex MD5 of the stored bytes, as S3 returns it
    last_modified_ms: int
    metadata: Mapping[str, str] = field(default_factory=dict)  # user metadata, without "x-amz-meta-"
    content_type: str = "application/octet-stream"
    content_encoding: str | None = None
    sse: str | None = None  # "AES256" | "aws:kms"
    kms_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredObject:
    info: ObjectInfo
    body: bytes


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of keys in UTF-8 binary order, S3 semantics (prefix, delimiter, after)."""

    objects: list[ObjectInfo]
    common_prefixes: list[str]
    truncated: bool
    next_marker: str | None  # the last key or prefix returned, to continue after


class ObjectStore(Protocol):
    """One bucket backend. Raises AwsError NoSuchBucket / NoSuchKey like S3 does."""

    def describe(self) -> str: ...

    async def bucket_exists(self, bucket: str) -> bool: ...

    async def bucket_region(self, bucket: str) -> str: ...

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
        ...

    async def get(self, bucket: str, key: str) -> StoredObject: ...

    async def head(self, bucket: str, key: str) -> ObjectInfo: ...

    async def list(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
    ) -> Listing: ...

    async def delete(self, bucket: str, key: str) -> None: ...

    async def close(self) -> None: ...


class BucketRegistry(Protocol):
    """Every bucket this server knows (local folders and S3 endpoints), by name."""

    def store_for(self, bucket: str) -> ObjectStore | None:
        """The store holding ``bucket``, or None if no configured or created bucket has that name."""
        ...

    def owner_of(self, bucket: str) -> str | None:
        """The account that owns the bucket (reads it through the S3 view), or None."""
        ...

    def may_deliver(self, bucket: str, account_id: str) -> bool:
        """Whether a trail of ``account_id`` may write log files into the bucket (its bucket policy)."""
        ...

    async def close(self) -> None: ...
