"""The read-only S3 view of our buckets: parsed S3 calls in, outputs keyed by the botocore output shapes out.

Path-style addressing only (``/bucket/key``). A caller sees the buckets its account owns: another
account's bucket answers AccessDenied, an unknown one NoSuchBucket. Every S3 operation this view
does not serve is registered from the S3 model itself: those that change something (PUT, DELETE,
POST) answer MethodNotAllowed, the other reads NotImplemented. Output dicts are built in the order
S3 writes its XML elements (the rest-xml renderer keeps that order).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import botocore.session

from trailkeeper.services.registry import CallEnv, Handler, register
from trailkeeper.storage import errors
from trailkeeper.storage.base import ObjectInfo, ObjectStore
from trailkeeper.storage.registry import BucketDirectory, BucketRecord

__all__ = [
    "canonical_user_id",
    "get_bucket_location",
    "get_object",
    "head_bucket",
    "head_object",
    "list_buckets",
    "list_objects",
    "list_objects_v2",
]

_PAGE = 1000  # S3 returns at most 1000 keys per listing page, whatever MaxKeys asks
_MAX_KEYS = 2**31 - 1
_TOKEN_PREFIX = b"tk1:"  # our continuation tokens: base64 of this + the key to continue after
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# GetObject's response-* query parameters override these headers of the answer.
_OVERRIDES = {
    "ResponseCacheControl": "CacheControl",
    "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentLanguage": "ContentLanguage",
    "ResponseContentType": "ContentType",
    "ResponseExpires": "Expires",
}


def canonical_user_id(account_id: str) -> str:
    """The 64-hex canonical user id S3 shows as an owner. Ours is derived from the account id
    (AWS's is an opaque id of its own; UNCONFIRMED that any client relies on its form)."""
    return hashlib.sha256(f"trailkeeper-canonical-user:{account_id}".encode()).hexdigest()


def _served(fn: Handler) -> Handler:
    """A store that cannot be reached answers 503, as S3 does when it is unavailable."""

    @functools.wraps(fn)
    async def serve(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return await fn(env, params)
        except errors.StorageUnavailable as err:
            raise errors.service_unavailable(err) from None

    return serve


def _store(env: CallEnv, bucket: str) -> ObjectStore:
    registry = env.app.buckets
    store = registry.store_for(bucket) if registry is not None else None
    if registry is None or store is None:
        raise errors.no_such_bucket(bucket)
    if registry.owner_of(bucket) != env.principal.account_id:
        raise errors.access_denied()
    return store


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


# -- buckets ---------------------------------------------------------------------------------------


@register("s3", "ListBuckets")
async def list_buckets(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    """The caller's buckets by name; Prefix, BucketRegion, MaxBuckets and ContinuationToken as S3."""
    registry = env.app.buckets
    owned: list[BucketRecord] = []
    if isinstance(registry, BucketDirectory):
        owned = registry.buckets_of(env.principal.account_id)
    prefix, region, token = (
        params.get("Prefix") or "",
        params.get("BucketRegion"),
        params.get("ContinuationToken"),
    )
    limit = params.get("MaxBuckets", 10000)
    if not 1 <= limit <= 10000:  # UNCONFIRMED wording; the limits are the API reference's
        raise errors.invalid_argument("max-buckets must be between 1 and 10000", "max-buckets", str(limit))
    chosen = [
        r
        for r in owned
        if r.name.startswith(prefix) and region in (None, r.region) and (not token or r.name > token)
    ]
    out: dict[str, Any] = {
        "Owner": {"ID": canonical_user_id(env.principal.account_id)},
        "Buckets": [
            {"Name": r.name, "CreationDate": _time(r.created_ms), "BucketRegion": r.region}
            for r in chosen[:limit]
        ],
    }
    if len(chosen) > limit:
        out["ContinuationToken"] = chosen[limit - 1].name  # UNCONFIRMED: AWS's token is opaque
    if prefix:
        out["Prefix"] = prefix
    return out


@register("s3", "GetBucketLocation")
@_served
async def get_bucket_location(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    """An empty LocationConstraint for us-east-1, as S3 answers (botocore reads it as None)."""
    bucket = params["Bucket"]
    region = await _store(env, bucket).bucket_region(bucket)
    return {"LocationConstraint": None if region == "us-east-1" else region}


@register("s3", "HeadBucket")
@_served
async def head_bucket(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    bucket = params["Bucket"]
    store = _store(env, bucket)
    if not await store.bucket_exists(bucket):
        raise errors.no_such_bucket(bucket)
    return {"BucketRegion": await store.bucket_region(bucket), "AccessPointAlias": False}


# -- listings --------------------------------------------------------------------------------------


def _encoder(encoding_type: str | None) -> Callable[[str], str]:
    """``encoding-type=url``: keys and prefixes are percent-encoded in the answer (botocore decodes
    them with unquote_plus; "/" stays as is, which is what S3 does too, UNCONFIRMED for others)."""
    if encoding_type is None:
        return lambda text: text
    if encoding_type != "url":
        raise errors.invalid_argument(
            "Invalid Encoding Method specified in Request", "encoding-type", encoding_type
        )
    return lambda text: quote(text, safe="/")


def _max_keys(raw: int | None) -> int:
    if raw is None:
        return _PAGE
    if not 0 <= raw <= _MAX_KEYS:
        raise errors.invalid_argument(
            f"Argument maxKeys must be an integer between 0 and {_MAX_KEYS}", "maxKeys", str(raw)
        )
    return raw


def _contents(
    objects: list[ObjectInfo], encode: Callable[[str], str], owner: str | None
) -> list[dict[str, Any]]:
    listed = []
    for info in objects:
        item: dict[str, Any] = {
            "Key": encode(info.key),
            "LastModified": _time(info.last_modified_ms),
            "ETag": info.etag,
            "Size": info.size,
        }
        if owner is not None:
            item["Owner"] = {"ID": owner}
        item["StorageClass"] = "STANDARD"
        listed.append(item)
    return listed


@register("s3", "ListObjects")
@_served
async def list_objects(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    """ListObjects (V1): Marker continues after a key or common prefix; NextMarker only with a delimiter."""
    bucket = params["Bucket"]
    store = _store(env, bucket)
    encode, max_keys = _encoder(params.get("EncodingType")), _max_keys(params.get("MaxKeys"))
    prefix, delimiter, marker = (
        params.get("Prefix") or "",
        params.get("Delimiter") or "",
        params.get("Marker") or "",
    )
    page = await store.list(
        bucket, prefix=prefix, delimiter=delimiter, after=marker, max_keys=min(max_keys, _PAGE)
    )
    # V1 leaves Prefix unencoded, whatever the API reference says: botocore decodes every other
    # element but not this one, and against AWS its tests pass (boto/boto3#3534, ceph/s3-tests#481).
    out: dict[str, Any] = {"Name": bucket, "Prefix": prefix, "Marker": encode(marker)}
    if page.truncated and delimiter and page.next_marker is not None:
        out["NextMarker"] = encode(page.next_marker)
    out["MaxKeys"] = max_keys
    if delimiter:
        out["Delimiter"] = encode(delimiter)
    if "EncodingType" in params:
        out["EncodingType"] = params["EncodingType"]
    out["IsTruncated"] = page.truncated
    # V1 always names each object's owner (V2 only when FetchOwner asks).
    out["Contents"] = _contents(page.objects, encode, canonical_user_id(env.principal.account_id))
    out["CommonPrefixes"] = [{"Prefix": encode(p)} for p in page.common_prefixes]
    return out


def _token(after: str) -> str:
    return base64.b64encode(_TOKEN_PREFIX + after.encode("utf-8")).decode("ascii")


def _after_token(token: str) -> str:
    try:
        raw = base64.b64decode(token, validate=True)
        if raw.startswith(_TOKEN_PREFIX):
            return raw[len(_TOKEN_PREFIX) :].decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise errors.invalid_argument("The continuation token provided is incorrect", "continuation-token", token)


@register("s3", "ListObjectsV2")
@_served
async def list_objects_v2(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    """ListObjectsV2: a continuation token (ours: the key to continue after) wins over StartAfter."""
    bucket = params["Bucket"]
    store = _store(env, bucket)
    encode, max_keys = _encoder(params.get("EncodingType")), _max_keys(params.get("MaxKeys"))
    prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
    token, start_after = params.get("ContinuationToken"), params.get("StartAfter") or ""
    after = _after_token(token) if token is not None else start_after
    page = await store.list(
        bucket, prefix=prefix, delimiter=delimiter, after=after, max_keys=min(max_keys, _PAGE)
    )
    out: dict[str, Any] = {"Name": bucket, "Prefix": encode(prefix)}
    if token is not None:
        out["ContinuationToken"] = token
    if page.truncated and page.next_marker is not None:
        out["NextContinuationToken"] = _token(page.next_marker)
    if start_after:
        out["StartAfter"] = encode(start_after)
    out["KeyCount"] = len(page.objects) + len(page.common_prefixes)
    out["MaxKeys"] = max_keys
    if delimiter:
        out["Delimiter"] = encode(delimiter)
    if "EncodingType" in params:
        out["EncodingType"] = params["EncodingType"]
    out["IsTruncated"] = page.truncated
    owner = canonical_user_id(env.principal.account_id) if params.get("FetchOwner") else None
    out["Contents"] = _contents(page.objects, encode, owner)
    out["CommonPrefixes"] = [{"Prefix": encode(p)} for p in page.common_prefixes]
    return out


# -- objects ---------------------------------------------------------------------------------------


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte a Range header asks for; None = the whole object.

    A Range S3 cannot read (several ranges, bad syntax) is ignored, as S3 ignores it; one that
    starts beyond the object is InvalidRange (416).
    """
    found = _RANGE.fullmatch(header.strip()) if header else None
    if found is None or not (found[1] or found[2]):
        return None
    if found[1]:
        first = int(found[1])
        last = min(int(found[2]), size - 1) if found[2] else size - 1
        if found[2] and int(found[2]) < first:
            return None
    else:
        first, last = max(0, size - int(found[2])), size - 1
        if int(found[2]) == 0:
            first = size  # "the last 0 bytes" is unsatisfiable
    if first >= size:
        raise errors.invalid_range(str(header), size)
    return first, last


def _object_output(info: ObjectInfo, params: dict[str, Any], span: tuple[int, int] | None) -> dict[str, Any]:
    version = params.get("VersionId")
    if version not in (None, "null"):  # our buckets keep no versions ("null" is the unversioned one)
        raise errors.invalid_argument("Invalid version id specified", "versionId", str(version))
    out: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "LastModified": _time(info.last_modified_ms),
        "ContentLength": info.size if span is None else span[1] - span[0] + 1,
        "ETag": info.etag,
    }
    if info.content_encoding is not None:
        out["ContentEncoding"] = info.content_encoding
    if span is not None:
        out["ContentRange"] = f"bytes {span[0]}-{span[1]}/{info.size}"
    out["ContentType"] = info.content_type
    if info.sse is not None:
        out["ServerSideEncryption"] = info.sse
    if info.sse == "aws:kms" and info.kms_key_id:
        out["SSEKMSKeyId"] = info.kms_key_id
    out["Metadata"] = dict(info.metadata)
    for asked, header in _OVERRIDES.items():
        if params.get(asked) is not None:
            out[header] = params[asked]
    return out


@register("s3", "GetObject")
@_served
async def get_object(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = params["Bucket"], params["Key"]
    stored = await _store(env, bucket).get(bucket, key)
    span = _byte_range(params.get("Range"), stored.info.size)
    out = _object_output(stored.info, params, span)
    out["Body"] = stored.body if span is None else stored.body[span[0] : span[1] + 1]
    return out


@register("s3", "HeadObject")
@_served
async def head_object(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = params["Bucket"], params["Key"]
    info = await _store(env, bucket).head(bucket, key)
    return _object_output(info, params, _byte_range(params.get("Range"), info.size))


# -- everything else -------------------------------------------------------------------------------


def _refusal(method: str, resource_type: str) -> Handler:
    async def refuse(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
        raise errors.method_not_allowed(method, resource_type)

    return refuse


async def _not_implemented(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    raise errors.not_implemented()


def _register_the_rest() -> None:
    """Every other S3 operation: writes refused (the view is read-only), other reads not implemented."""
    model = botocore.session.get_session().get_service_model("s3")
    served = {"ListBuckets", "GetBucketLocation", "HeadBucket", "ListObjects", "ListObjectsV2"}
    served |= {"GetObject", "HeadObject"}
    for name in model.operation_names:
        if name in served:
            continue
        http = model.operation_model(name).http
        method = http.get("method", "POST")
        resource_type = "OBJECT" if "{Key+}" in http.get("requestUri", "") else "BUCKET"
        register("s3", name)(
            _not_implemented if method in ("GET", "HEAD") else _refusal(method, resource_type)
        )


_register_the_rest()
