"""The S3 endpoint store (storage/s3.py) against moto's S3 server, and the local store's listings
compared with S3's (moto) for the same objects and queries."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.e2e.server import free_port
from tests.unit.storage.support import MotoS3, moto_bucket_config
from trailkeeper.errors import AwsError
from trailkeeper.storage.base import Listing, ObjectStore
from trailkeeper.storage.errors import StorageUnavailable
from trailkeeper.storage.local import LocalObjectStore
from trailkeeper.storage.s3 import S3ObjectStore

KEYS = [
    "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/a.json.gz",
    "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/02/b.json.gz",
    "AWSLogs/111122223333/CloudTrail/us-west-2/2026/01/01/c.json.gz",
    "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/d.json.gz",
    "AWSLogs/444455556666/CloudTrail/eu-west-1/e.json.gz",
    "a b+c/space and plus",
    "a b+c/ü-unicode",
    "aa",
    "top",
    "z/😀",
    "é",
]


def _bucket(client: Any) -> str:
    name = f"tk-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def remote(moto_s3: MotoS3, moto_client: Any) -> tuple[S3ObjectStore, str]:
    bucket = _bucket(moto_client)
    return S3ObjectStore(moto_bucket_config(moto_s3.url, bucket)), bucket


def test_s3_store_satisfies_the_object_store_contract(remote: tuple[S3ObjectStore, str]) -> None:
    contract: ObjectStore = remote[0]
    assert contract.describe().startswith("s3(http://127.0.0.1:")


def test_put_sends_sse_metadata_and_content_headers(
    remote: tuple[S3ObjectStore, str], moto_client: Any
) -> None:
    store, bucket = remote
    asyncio.run(
        store.put(
            bucket, "logs/f.json.gz", b"gz", content_type="application/json", content_encoding="gzip",
            metadata={"signature": "ab", "signature-algorithm": "SHA256withRSA"},
            sse="aws:kms", kms_key_id="key-1",
        )
    )  # fmt: skip
    asyncio.run(store.put(bucket, "plain", b"p"))
    head = moto_client.head_object(Bucket=bucket, Key="logs/f.json.gz")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", "key-1")
    assert head["Metadata"] == {"signature": "ab", "signature-algorithm": "SHA256withRSA"}
    assert (head["ContentType"], head["ContentEncoding"]) == ("application/json", "gzip")
    assert moto_client.head_object(Bucket=bucket, Key="plain")["ServerSideEncryption"] == "AES256"
    got = asyncio.run(store.get(bucket, "logs/f.json.gz"))
    assert got.body == b"gz"
    assert (got.info.sse, got.info.kms_key_id, got.info.metadata["signature"]) == ("aws:kms", "key-1", "ab")
    assert got.info.etag == head["ETag"] == asyncio.run(store.head(bucket, "logs/f.json.gz")).etag


def test_missing_bucket_and_key_map_to_s3_errors(remote: tuple[S3ObjectStore, str]) -> None:
    store, bucket = remote
    with pytest.raises(AwsError) as no_key:
        asyncio.run(store.get(bucket, "missing"))
    with pytest.raises(AwsError) as no_head:
        asyncio.run(store.head(bucket, "missing"))
    with pytest.raises(AwsError) as no_bucket:
        asyncio.run(store.list("tk-never-created"))
    assert (no_key.value.code, no_head.value.code, no_bucket.value.code) == (
        "NoSuchKey",
        "NoSuchKey",
        "NoSuchBucket",
    )
    assert asyncio.run(store.bucket_exists(bucket))
    assert not asyncio.run(store.bucket_exists("tk-never-created"))
    assert asyncio.run(store.bucket_region(bucket)) == "us-east-1"


def test_endpoint_down_raises_storage_unavailable() -> None:
    store = S3ObjectStore(moto_bucket_config(f"http://127.0.0.1:{free_port()}", "any-bucket"))
    with pytest.raises(StorageUnavailable) as down:
        asyncio.run(store.put("any-bucket", "k", b"x"))
    assert down.value.code == "EndpointConnectionError"


def _all_pages(store: ObjectStore, bucket: str, **query: Any) -> list[tuple[list[str], list[str], bool]]:
    pages, after = [], ""
    while True:
        page: Listing = asyncio.run(store.list(bucket, after=after, **query))
        pages.append(([o.key for o in page.objects], page.common_prefixes, page.truncated))
        if not page.truncated or page.next_marker is None:
            return pages
        after = page.next_marker


def _moto_pages(
    client: Any, bucket: str, prefix: str, delimiter: str, max_keys: int
) -> list[tuple[list[str], list[str], bool]]:
    pages: list[tuple[list[str], list[str], bool]] = []
    token: dict[str, str] = {}
    while True:
        answer = client.list_objects_v2(
            Bucket=bucket, Prefix=prefix, Delimiter=delimiter, MaxKeys=max_keys, **token
        )
        keys = [o["Key"] for o in answer.get("Contents", [])]
        pages.append((keys, [p["Prefix"] for p in answer.get("CommonPrefixes", [])], answer["IsTruncated"]))
        if not answer["IsTruncated"]:
            return pages
        token = {"ContinuationToken": answer["NextContinuationToken"]}


QUERIES = [
    ("", "", 1000),
    ("", "", 3),
    ("", "/", 1000),
    ("", "/", 2),
    ("AWSLogs/", "/", 1000),
    ("AWSLogs/111122223333/", "/", 1),
    ("AWSLogs/111122223333/CloudTrail/", "", 2),
    ("AWSLogs/1111", "/", 5),
    ("a", "/", 1),
    ("a b+c/", "", 1000),
    ("z", "", 1000),
    ("nothing-here/", "/", 1000),
    ("", "CloudTrail", 4),
]


@pytest.fixture(scope="module")
def same_objects(tmp_path_factory: pytest.TempPathFactory, moto_client: Any) -> tuple[LocalObjectStore, str]:
    local = LocalObjectStore(tmp_path_factory.mktemp("local"))
    bucket = _bucket(moto_client)
    local.create_bucket(bucket)
    for key in KEYS:
        asyncio.run(local.put(bucket, key, key.encode()))
        moto_client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return local, bucket


@pytest.mark.parametrize(("prefix", "delimiter", "max_keys"), QUERIES)
def test_local_listing_pages_equal_s3_pages(
    same_objects: tuple[LocalObjectStore, str], moto_client: Any, prefix: str, delimiter: str, max_keys: int
) -> None:
    local, bucket = same_objects
    ours = _all_pages(local, bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys)
    assert ours == _moto_pages(moto_client, bucket, prefix, delimiter, max_keys)


def test_s3_store_listing_equals_local_listing(
    same_objects: tuple[LocalObjectStore, str], moto_s3: MotoS3
) -> None:
    local, bucket = same_objects
    remote = S3ObjectStore(moto_bucket_config(moto_s3.url, bucket))
    for max_keys in (1000, 4):
        assert _all_pages(remote, bucket, max_keys=max_keys) == _all_pages(local, bucket, max_keys=max_keys)
    # One page only with a delimiter, and no "+" in a common prefix: moto's ListObjects (V1) neither
    # pages common prefixes past a marker nor URL-encodes them as S3 does.
    query = {"prefix": "AWSLogs/111122223333/", "delimiter": "/"}
    assert _all_pages(remote, bucket, **query) == _all_pages(local, bucket, **query)
