"""Where the validator reads from: a data directory or AWS-compatible endpoints in; trails, keys, objects out.

Local: the trail store and signing keys of a data directory (or of the PostgreSQL journal's
database, when the config names one), and its buckets (local folders or the
configured S3 endpoints). Remote, as the AWS CLI reads them: DescribeTrails and ListPublicKeys
through a CloudTrail endpoint, objects through any S3 endpoint (ListObjects V1, GetObject), with
boto3's usual credential chain. boto3 blocks, so each request runs in a worker thread; the
caller sizes the thread pool and the client's connection pool alike.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trailkeeper.control.model import Trail
from trailkeeper.integrity.key_store import SigningKeyStore
from trailkeeper.integrity.validate import ValidationError
from trailkeeper.storage import errors
from trailkeeper.storage.base import Listing, ObjectInfo, StoredObject

__all__ = ["CloudTrailKeys", "LocalKeys", "S3Objects", "TrailInfo", "describe_trail", "trail_info"]


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else 0


@dataclass(frozen=True, slots=True)
class TrailInfo:
    """What validation needs of a trail: its bucket, prefix and whether it is an organization trail."""

    bucket: str
    prefix: str | None
    is_organization: bool


def trail_info(trail: Trail) -> TrailInfo:
    return TrailInfo(trail.s3_bucket, trail.s3_key_prefix, trail.is_organization)


async def describe_trail(cloudtrail: Any, trail_arn: str) -> TrailInfo:
    """The AWS CLI's lookup: a bare DescribeTrails, then the entry whose TrailARN is the argument."""
    answer = await asyncio.to_thread(cloudtrail.describe_trails)
    for trail in answer.get("trailList", []):
        if trail.get("TrailARN") == trail_arn:
            return TrailInfo(
                trail["S3BucketName"], trail.get("S3KeyPrefix"), bool(trail.get("IsOrganizationTrail"))
            )
    raise ValidationError(f"A trail could not be found for {trail_arn}")  # the CLI's words


class LocalKeys:
    """The public keys of one region from the server's own key store (opened by the caller)."""

    def __init__(self, store: SigningKeyStore, region: str) -> None:
        self._store, self._region = store, region

    async def public_keys(self, start_ms: int, end_ms: int) -> dict[str, bytes]:
        keys = await self._store.public_keys(self._region, start_ms, end_ms)
        return {key.fingerprint: key.der for key in keys}


class CloudTrailKeys:
    """ListPublicKeys through a CloudTrail client of the validated region (one call, as the CLI)."""

    def __init__(self, cloudtrail: Any) -> None:
        self._client = cloudtrail

    async def public_keys(self, start_ms: int, end_ms: int) -> dict[str, bytes]:
        answer = await asyncio.to_thread(
            self._client.list_public_keys, StartTime=_utc(start_ms), EndTime=_utc(end_ms)
        )
        return {key["Fingerprint"]: bytes(key["Value"]) for key in answer.get("PublicKeyList", [])}


class S3Objects:
    """Reads any S3 endpoint with a boto3 S3 client; NoSuchKey becomes the stores' own S3Error."""

    def __init__(self, s3: Any) -> None:
        self._client = s3

    async def get(self, bucket: str, key: str) -> StoredObject:
        return await asyncio.to_thread(self._get, bucket, key)

    def _get(self, bucket: str, key: str) -> StoredObject:
        from botocore.exceptions import ClientError  # botocore only when an endpoint is read

        try:
            answer = self._client.get_object(Bucket=bucket, Key=key)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise errors.no_such_key(key) from None
            raise
        body: bytes = answer["Body"].read()
        info = ObjectInfo(
            key, len(body), str(answer.get("ETag", "")), _ms(answer.get("LastModified")),
            dict(answer.get("Metadata", {})),
        )  # fmt: skip
        return StoredObject(info, body)

    async def list(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
    ) -> Listing:
        answer = await asyncio.to_thread(
            self._client.list_objects, Bucket=bucket, Prefix=prefix, Marker=after, MaxKeys=max_keys
        )
        objects = [
            ObjectInfo(o["Key"], int(o.get("Size", 0)), str(o.get("ETag", "")), _ms(o.get("LastModified")))
            for o in answer.get("Contents", [])
        ]
        truncated = bool(answer.get("IsTruncated"))
        marker = answer.get("NextMarker") or (objects[-1].key if objects else None)
        return Listing(objects, [], truncated, marker)
