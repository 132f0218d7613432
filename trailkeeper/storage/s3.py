"""A bucket store over any S3 endpoint: contract calls in, boto3 S3 requests (path-style) out.

boto3 blocks, so every call runs in a worker thread. The endpoint's answers are mapped onto the
contract: NoSuchBucket / NoSuchKey become the same S3Error the local store raises, and every other
failure (endpoint down, throttling, refused credentials, a 5xx) becomes ``StorageUnavailable``,
which the delivery engine retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from trailkeeper.config import BucketConfig
from trailkeeper.storage import errors
from trailkeeper.storage.base import Listing, ObjectInfo, StoredObject

__all__ = ["S3ObjectStore"]

_T = TypeVar("_T")
# A HEAD answer carries no error body: its 404 names the key when there is one, else the bucket.
_NOT_FOUND = frozenset({"404", "NotFound"})


def _client_config(signed: bool) -> Config:
    return Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 2, "mode": "standard"},  # delivery retries on its own schedule
        connect_timeout=5,
        read_timeout=30,
        # Newer botocore adds CRC checksums to every upload; many S3-compatible servers refuse them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        signature_version=None if signed else UNSIGNED,
    )


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else 0


class S3ObjectStore:
    """The buckets of one S3 endpoint (one set of credentials, one signing region)."""

    def __init__(self, config: BucketConfig, *, clock: Callable[[], float] = time.time) -> None:
        if config.endpoint_url is None:
            raise ValueError(f"bucket {config.name} has no endpoint_url: it is a local bucket")
        self._endpoint = config.endpoint_url
        self._clock = clock
        signed = config.access_key_id is not None and config.secret_access_key is not None
        # Without configured keys the requests go unsigned: nothing outside config.py reads the
        # environment, so boto3's default credential chain is never consulted.
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key,
            config=_client_config(signed),
        )

    def describe(self) -> str:
        return f"s3({self._endpoint})"

    async def _call(self, fn: Callable[..., _T], bucket: str, key: str | None = None, **kwargs: Any) -> _T:
        try:
            return await asyncio.to_thread(
                fn, Bucket=bucket, **({"Key": key} if key is not None else {}), **kwargs
            )
        except ClientError as err:
            error = err.response.get("Error", {})
            code = str(
                error.get("Code") or err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
            )
            if code == "NoSuchBucket" or (key is None and code in _NOT_FOUND):
                raise errors.no_such_bucket(bucket) from None
            if key is not None and (code == "NoSuchKey" or code in _NOT_FOUND):
                raise errors.no_such_key(key) from None
            raise errors.StorageUnavailable(
                code or "UnknownError", str(error.get("Message") or err)
            ) from None
        except BotoCoreError as err:
            raise errors.StorageUnavailable(type(err).__name__, str(err)) from None

    async def bucket_exists(self, bucket: str) -> bool:
        try:
            await self._call(self._client.head_bucket, bucket)
        except errors.S3Error:
            return False
        return True

    async def bucket_region(self, bucket: str) -> str:
        answer = await self._call(self._client.get_bucket_location, bucket)
        region = answer.get("LocationConstraint") or "us-east-1"  # S3 writes no region for us-east-1
        return "eu-west-1" if region == "EU" else str(region)  # the legacy spelling of Ireland

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
        """Write (or overwrite) an object atomically: S3 itself never shows a partial upload."""
        extra: dict[str, Any] = {"ContentType": content_type, "Metadata": dict(metadata or {})}
        extra["ServerSideEncryption"] = sse
        # As CloudTrail writes into another account's bucket: the bucket owner gets full control
        # (the one ACL that buckets with ACLs disabled still accept).
        extra["ACL"] = "bucket-owner-full-control"
        if content_encoding is not None:
            extra["ContentEncoding"] = content_encoding
        if sse == "aws:kms" and kms_key_id:
            extra["SSEKMSKeyId"] = kms_key_id
        answer = await self._call(self._client.put_object, bucket, key, Body=body, **extra)
        return ObjectInfo(
            key=key,
            size=len(body),
            etag=str(answer.get("ETag", "")),
            last_modified_ms=int(self._clock() * 1000),  # PutObject does not say; HeadObject would
            metadata={k.lower(): v for k, v in (metadata or {}).items()},
            content_type=content_type,
            content_encoding=content_encoding,
            sse=answer.get("ServerSideEncryption", sse),
            kms_key_id=answer.get("SSEKMSKeyId", kms_key_id if sse == "aws:kms" else None),
        )

    @staticmethod
    def _info(key: str, answer: Mapping[str, Any]) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=int(answer.get("ContentLength", 0)),
            etag=str(answer.get("ETag", "")),
            last_modified_ms=_ms(answer.get("LastModified")),
            metadata=dict(answer.get("Metadata") or {}),
            content_type=answer.get("ContentType") or "application/octet-stream",
            content_encoding=answer.get("ContentEncoding"),
            sse=answer.get("ServerSideEncryption"),
            kms_key_id=answer.get("SSEKMSKeyId"),
        )

    async def get(self, bucket: str, key: str) -> StoredObject:
        def fetch(**kwargs: Any) -> tuple[dict[str, Any], bytes]:
            answer = self._client.get_object(**kwargs)
            return answer, answer["Body"].read()  # read in the worker thread too: it is blocking I/O

        answer, body = await self._call(fetch, bucket, key)
        return StoredObject(self._info(key, answer), body)

    async def head(self, bucket: str, key: str) -> ObjectInfo:
        return self._info(key, await self._call(self._client.head_object, bucket, key))

    async def list(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
    ) -> Listing:
        # ListObjects (V1): its Marker continues after a common prefix too, exactly as Listing says.
        answer = await self._call(
            self._client.list_objects,
            bucket,
            Prefix=prefix,
            Delimiter=delimiter,
            Marker=after,
            MaxKeys=max_keys,
        )
        objects = [
            ObjectInfo(
                item["Key"],
                int(item.get("Size", 0)),
                str(item.get("ETag", "")),
                _ms(item.get("LastModified")),
            )
            for item in answer.get("Contents", [])
        ]
        prefixes = [item["Prefix"] for item in answer.get("CommonPrefixes", [])]
        truncated = bool(answer.get("IsTruncated"))
        # S3 sends NextMarker only with a delimiter; otherwise the last key is the marker.
        last = max([*(o.key for o in objects), *prefixes], default=None)
        return Listing(
            objects, prefixes, truncated, (answer.get("NextMarker") or last) if truncated else None
        )

    async def delete(self, bucket: str, key: str) -> None:
        await self._call(self._client.delete_object, bucket, key)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
