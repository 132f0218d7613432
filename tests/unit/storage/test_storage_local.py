"""The local bucket store (storage/local.py): objects and metadata on disk, safe keys, atomic writes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from pathlib import Path

import pytest

from trailkeeper.errors import AwsError
from trailkeeper.storage.base import ObjectStore
from trailkeeper.storage.local import LocalObjectStore

BUCKET = "trail-logs"


class _Crash(Exception):
    """Stands for the process dying at that instant: nothing after it runs."""


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    local = LocalObjectStore(tmp_path / "buckets", clock=lambda: 1_767_225_600.5)
    assert local.create_bucket(BUCKET)
    return local


def test_local_store_satisfies_the_object_store_contract(store: LocalObjectStore) -> None:
    contract: ObjectStore = store
    assert contract.describe().startswith("local(")


def test_put_then_get_returns_bytes_and_every_metadata_field(store: LocalObjectStore) -> None:
    key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/f.json.gz"
    info = asyncio.run(
        store.put(
            BUCKET, key, b"payload", content_type="application/json", content_encoding="gzip",
            metadata={"Signature": "ab12", "signature-algorithm": "SHA256withRSA"},
            sse="aws:kms", kms_key_id="arn:aws:kms:us-east-1:111122223333:key/k",
        )
    )  # fmt: skip
    got = asyncio.run(store.get(BUCKET, key))
    assert got.body == b"payload"
    assert got.info == info == asyncio.run(store.head(BUCKET, key))
    assert info.etag == f'"{hashlib.md5(b"payload").hexdigest()}"'
    assert info.metadata == {"signature": "ab12", "signature-algorithm": "SHA256withRSA"}  # lower-cased
    assert (info.size, info.last_modified_ms) == (7, 1_767_225_600_500)
    assert (info.content_type, info.content_encoding) == ("application/json", "gzip")
    assert (info.sse, info.kms_key_id) == ("aws:kms", "arn:aws:kms:us-east-1:111122223333:key/k")
    assert (
        store.root / BUCKET / "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/f.json.gz"
    ).read_bytes() == b"payload"


def test_put_default_is_sse_s3_and_drops_a_kms_key_without_kms(store: LocalObjectStore) -> None:
    info = asyncio.run(store.put(BUCKET, "k", b"x", kms_key_id="ignored"))
    assert (info.sse, info.kms_key_id, info.content_type) == ("AES256", None, "application/octet-stream")


@pytest.mark.parametrize(
    "key",
    [
        "../../../escape",
        "/abs/olute",
        "a//b",
        "a/./b/../c",
        ".hidden",
        "%2E%2E/x",
        "tab\there",
        "ü/ñ/😀",
        "x" * 1024,
    ],
)
def test_unsafe_keys_stay_inside_the_bucket_and_read_back(store: LocalObjectStore, key: str) -> None:
    asyncio.run(store.put(BUCKET, key, key.encode()))
    assert asyncio.run(store.get(BUCKET, key)).body == key.encode()
    bucket = (store.root / BUCKET).resolve()
    files = [Path(folder, name).resolve() for folder, _, names in os.walk(store.root) for name in names]
    assert files
    assert all(f.is_relative_to(bucket) for f in files)
    assert [o.key for o in asyncio.run(store.list(BUCKET)).objects] == [key]


def test_a_key_and_a_key_under_it_coexist_in_either_order(store: LocalObjectStore) -> None:
    for first, second in (("a", "a/b"), ("c/d", "c")):
        asyncio.run(store.put(BUCKET, first, b"1"))
        asyncio.run(store.put(BUCKET, second, b"2"))
    listing = asyncio.run(store.list(BUCKET))
    assert [o.key for o in listing.objects] == ["a", "a/b", "c", "c/d"]
    assert [asyncio.run(store.get(BUCKET, k)).body for k in ("a", "a/b", "c", "c/d")] == [
        b"1",
        b"2",
        b"2",
        b"1",
    ]
    asyncio.run(store.delete(BUCKET, "a"))
    asyncio.run(store.put(BUCKET, "a", b"3"))  # the file twin comes back where readers find it
    assert asyncio.run(store.get(BUCKET, "a")).body == b"3"
    assert len([o for o in asyncio.run(store.list(BUCKET)).objects if o.key == "a"]) == 1


def test_key_longer_than_1024_bytes_is_refused(store: LocalObjectStore) -> None:
    with pytest.raises(AwsError) as refused:
        asyncio.run(store.put(BUCKET, "é" * 513, b""))
    assert refused.value.code == "KeyTooLongError"


def test_missing_bucket_and_key_raise_s3_errors(store: LocalObjectStore) -> None:
    with pytest.raises(AwsError) as no_key:
        asyncio.run(store.get(BUCKET, "missing"))
    with pytest.raises(AwsError) as no_bucket:
        asyncio.run(store.list("no-such-bucket"))
    with pytest.raises(AwsError) as bad_name:
        store.create_bucket("../etc")
    assert (no_key.value.code, no_key.value.status) == ("NoSuchKey", 404)
    assert (no_bucket.value.code, no_bucket.value.status) == ("NoSuchBucket", 404)
    assert bad_name.value.code == "InvalidBucketName"
    assert asyncio.run(store.bucket_exists(BUCKET))
    assert not asyncio.run(store.bucket_exists("other-bucket"))


def test_delete_removes_object_sidecar_and_emptied_folders(store: LocalObjectStore) -> None:
    asyncio.run(store.put(BUCKET, "x/y/z.json", b"1"))
    asyncio.run(store.put(BUCKET, "x/keep", b"2"))
    asyncio.run(store.delete(BUCKET, "x/y/z.json"))
    asyncio.run(store.delete(BUCKET, "never/there"))  # S3: deleting a missing key succeeds
    assert sorted(os.listdir(store.root / BUCKET / "x")) == [".keep.json", "keep"]


def test_overwrite_after_crash_before_rename_keeps_the_old_object(
    store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(store.put(BUCKET, "k", b"old", metadata={"v": "1"}))
    real_replace = os.replace
    calls = []

    def crash_at_commit(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(dst)
        if len(calls) == 2:  # the sidecar went in; the process dies before the object's rename
            raise _Crash
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_at_commit)
    with pytest.raises(_Crash):
        asyncio.run(store.put(BUCKET, "k", b"new!", metadata={"v": "2"}))
    monkeypatch.undo()
    got = asyncio.run(store.get(BUCKET, "k"))
    assert (got.body, got.info.metadata, got.info.size) == (b"old", {"v": "1"}, 3)
    asyncio.run(store.put(BUCKET, "k", b"newer", metadata={"v": "3"}))
    got = asyncio.run(store.get(BUCKET, "k"))
    assert (got.body, got.info.metadata) == (b"newer", {"v": "3"})


def test_readers_never_see_a_partial_or_mismatched_object_during_overwrites(store: LocalObjectStore) -> None:
    bodies = [bytes([n]) * (50_000 + n) for n in range(20)]
    asyncio.run(store.put(BUCKET, "hot", bodies[0], metadata={"n": "0"}))
    stop = threading.Event()
    seen: list[tuple[bytes, str, dict[str, str]]] = []

    def read() -> None:
        while not stop.is_set():
            got = asyncio.run(store.get(BUCKET, "hot"))
            seen.append((got.body, got.info.etag, dict(got.info.metadata)))

    reader = threading.Thread(target=read)
    reader.start()
    for n, body in enumerate(bodies[1:], start=1):
        asyncio.run(store.put(BUCKET, "hot", body, metadata={"n": str(n)}))
    stop.set()
    reader.join()
    assert len(seen) > 5
    for body, etag, metadata in seen:
        assert body in bodies
        assert etag == f'"{hashlib.md5(body).hexdigest()}"'
        assert metadata == {"n": str(bodies.index(body))}


def test_a_file_copied_in_by_hand_is_served_with_computed_metadata(store: LocalObjectStore) -> None:
    (store.root / BUCKET / "manual").mkdir()
    (store.root / BUCKET / "manual" / "f.txt").write_bytes(b"by hand")
    info = asyncio.run(store.head(BUCKET, "manual/f.txt"))
    assert (info.size, info.etag) == (7, f'"{hashlib.md5(b"by hand").hexdigest()}"')
    assert [o.key for o in asyncio.run(store.list(BUCKET, prefix="manual/")).objects] == ["manual/f.txt"]


def test_list_pages_with_prefix_delimiter_and_markers(store: LocalObjectStore) -> None:
    keys = ["AWSLogs/1/a.gz", "AWSLogs/1/b.gz", "AWSLogs/2/c.gz", "AWSLogs/20/d.gz", "top", "ü"]
    for key in keys:
        asyncio.run(store.put(BUCKET, key, b"."))
    first = asyncio.run(store.list(BUCKET, prefix="AWSLogs/", delimiter="/", max_keys=2))
    assert (first.common_prefixes, first.truncated, first.next_marker) == (
        ["AWSLogs/1/", "AWSLogs/2/"],
        True,
        "AWSLogs/2/",
    )
    rest = asyncio.run(store.list(BUCKET, prefix="AWSLogs/", delimiter="/", after=first.next_marker or ""))
    assert (rest.common_prefixes, rest.truncated) == (["AWSLogs/20/"], False)
    partial = asyncio.run(store.list(BUCKET, prefix="AWSLogs/2"))
    assert [o.key for o in partial.objects] == ["AWSLogs/2/c.gz", "AWSLogs/20/d.gz"]
    after = asyncio.run(store.list(BUCKET, after="AWSLogs/2/c.gz"))
    assert [o.key for o in after.objects] == ["AWSLogs/20/d.gz", "top", "ü"]


def test_prune_deletes_old_objects_and_stale_temp_files(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = LocalObjectStore(tmp_path, clock=lambda: now[0])
    store.create_bucket(BUCKET)
    asyncio.run(store.put(BUCKET, "old/one", b"1"))
    (tmp_path / BUCKET / "old" / ".~deadbeef").write_bytes(b"left by a crash")
    os.utime(tmp_path / BUCKET / "old" / ".~deadbeef", (now[0], now[0]))
    now[0] += 7200
    asyncio.run(store.put(BUCKET, "new/two", b"2"))
    assert asyncio.run(store.prune(BUCKET, before_ms=int((now[0] - 60) * 1000))) == 1
    assert [o.key for o in asyncio.run(store.list(BUCKET)).objects] == ["new/two"]
    assert not (tmp_path / BUCKET / "old").exists()
