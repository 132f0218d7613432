"""The read-only S3 view of local buckets via boto3 and the aws CLI: listings, objects, errors, records."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import botocore.exceptions
import httpx
import pytest

from tests.e2e.conftest import (
    ACCOUNT_A,
    ACCOUNT_B,
    ALICE,
    BOB,
    CONFIG,
    Keys,
    aws_cli,
    find_event,
    lookup_all,
    make_client,
)
from tests.e2e.server import TrailkeeperServer
from trailkeeper.storage.local import LocalObjectStore

BUCKET = "view-logs"
BOB_BUCKET = "bob-logs"
KMS_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT_A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# Seeded under seed/: a trail delivers its own log files into the same bucket under AWSLogs/.
KEYS = {
    "seed/AWSLogs/2026/01/01/f1.json.gz": b"first log file",
    "seed/AWSLogs/2026/01/02/f2.json.gz": b"second log file",
    "seed/dir with space/a+b.txt": b"space and plus",
    "seed/unicode/\u00fc \u00f1 \U0001f600.txt": b"unicode key",
    "seed/top.txt": b"0123456789",
}
SIGNED = "seed/AWSLogs/2026/01/01/f1.json.gz"


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrailkeeperServer]:
    root = tmp_path_factory.mktemp("s3view")
    config = root / "trailkeeper.toml"
    config.write_text(f'{CONFIG}\n[[bucket]]\nname = "{BUCKET}"\n\n[delivery]\ninterval_seconds = 1\n')
    created = subprocess.run(
        [sys.executable, "-m", "trailkeeper.cli", "bucket", "create", BOB_BUCKET, "--account", ACCOUNT_B,
         "--data-dir", str(root / "data"), "--config", str(config)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert f"created bucket {BOB_BUCKET} (owner {ACCOUNT_B}, region us-east-1)" in created.stderr
    server = TrailkeeperServer(root / "data", config=config)
    server.start()
    store = LocalObjectStore(root / "data" / "buckets")  # the delivery side of the same folders

    async def seed() -> None:
        for key, body in KEYS.items():
            extra: dict[str, Any] = {}
            if key == SIGNED:
                extra = {"metadata": {"signature": "a1b2", "signature-algorithm": "SHA256withRSA"}}
                extra |= {"sse": "aws:kms", "kms_key_id": KMS_KEY, "content_encoding": "gzip"}
            await store.put(BUCKET, key, body, content_type="application/json", **extra)
        await store.put(BOB_BUCKET, "private.txt", b"bob's")

    # A thread of its own: another test's browser driver may keep an event loop in this one.
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, seed()).result()
    yield server
    server.stop()


def _s3(server: TrailkeeperServer, keys: Keys = ALICE) -> Any:
    return make_client(server.url, "s3", keys)


def _error(call: Any) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as failed:
        call()
    response: Any = failed.value.response
    return {"status": response["ResponseMetadata"]["HTTPStatusCode"], **response["Error"]}


def test_list_buckets_shows_each_account_its_own(view: TrailkeeperServer) -> None:
    assert [b["Name"] for b in _s3(view).list_buckets()["Buckets"]] == [BUCKET]
    assert [b["Name"] for b in _s3(view, BOB).list_buckets()["Buckets"]] == [BOB_BUCKET]
    listed = aws_cli(view.url, ALICE, "s3", "ls")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[-1] == BUCKET


def test_list_objects_v2_pages_with_prefix_delimiter_and_continuation(view: TrailkeeperServer) -> None:
    pages = list(
        _s3(view)
        .get_paginator("list_objects_v2")
        .paginate(Bucket=BUCKET, Prefix="seed/", PaginationConfig={"PageSize": 2})
    )
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(KEYS)
    assert [p["KeyCount"] for p in pages] == [2, 2, 1]
    top = _s3(view).list_objects_v2(Bucket=BUCKET, Prefix="seed/", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == [
        "seed/AWSLogs/",
        "seed/dir with space/",
        "seed/unicode/",
    ]
    assert [o["Key"] for o in top["Contents"]] == ["seed/top.txt"]


def test_list_objects_v1_pages_with_markers(view: TrailkeeperServer) -> None:
    pages = list(
        _s3(view)
        .get_paginator("list_objects")
        .paginate(Bucket=BUCKET, Prefix="seed/", PaginationConfig={"PageSize": 3})
    )
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(KEYS)
    assert [p["IsTruncated"] for p in pages] == [True, False]


def test_aws_s3_ls_recursive_lists_every_key(view: TrailkeeperServer) -> None:
    listed = aws_cli(view.url, ALICE, "s3", "ls", "--recursive", f"s3://{BUCKET}/seed/")
    assert listed.returncode == 0, listed.stderr
    # "2026-01-01 10:00:00       14 key with spaces": the key is everything after the size.
    assert sorted(line.split(maxsplit=3)[3] for line in listed.stdout.splitlines()) == sorted(KEYS)


def test_aws_s3_cp_to_stdout_prints_the_object(view: TrailkeeperServer) -> None:
    key = "seed/unicode/\u00fc \u00f1 \U0001f600.txt"
    copied = aws_cli(view.url, ALICE, "s3", "cp", f"s3://{BUCKET}/{key}", "-")
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.encode() == KEYS[key]


def test_s3api_list_objects_encoding_type_url_encodes_keys(view: TrailkeeperServer) -> None:
    listed = aws_cli(
        view.url,
        ALICE,
        "s3api",
        "list-objects",
        "--bucket",
        BUCKET,
        "--prefix",
        "seed/",
        "--encoding-type",
        "url",
    )
    assert listed.returncode == 0, listed.stderr
    keys = [o["Key"] for o in json.loads(listed.stdout)["Contents"]]
    assert keys == [quote(k, safe="/") for k in sorted(KEYS)]
    assert "seed/dir%20with%20space/a%2Bb.txt" in keys


def test_get_and_head_return_metadata_and_sse_headers(view: TrailkeeperServer) -> None:
    s3 = _s3(view)
    got = s3.get_object(Bucket=BUCKET, Key=SIGNED)
    head = s3.head_object(Bucket=BUCKET, Key=SIGNED)
    assert got["Body"].read() == KEYS[SIGNED]
    for answer in (got, head):
        assert answer["Metadata"] == {"signature": "a1b2", "signature-algorithm": "SHA256withRSA"}
        assert (answer["ServerSideEncryption"], answer["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)
        assert (answer["ContentType"], answer["ContentEncoding"]) == ("application/json", "gzip")
        assert answer["ContentLength"] == len(KEYS[SIGNED])
        assert answer["ETag"] == got["ETag"]
    assert s3.head_object(Bucket=BUCKET, Key="seed/top.txt")["ServerSideEncryption"] == "AES256"
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] is None  # us-east-1


def test_range_get_returns_the_partial_content(view: TrailkeeperServer) -> None:
    s3 = _s3(view)
    part = s3.get_object(Bucket=BUCKET, Key="seed/top.txt", Range="bytes=2-5")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert (part["Body"].read(), part["ContentRange"]) == (b"2345", "bytes 2-5/10")
    assert s3.get_object(Bucket=BUCKET, Key="seed/top.txt", Range="bytes=-3")["Body"].read() == b"789"
    beyond = _error(lambda: s3.get_object(Bucket=BUCKET, Key="seed/top.txt", Range="bytes=10-"))
    assert (beyond["status"], beyond["Code"]) == (416, "InvalidRange")


def test_missing_bucket_and_key_are_s3_errors(view: TrailkeeperServer) -> None:
    s3 = _s3(view)
    no_key = _error(lambda: s3.get_object(Bucket=BUCKET, Key="seed/none"))
    no_bucket = _error(lambda: s3.list_objects_v2(Bucket="no-such-bucket"))
    assert (no_key["status"], no_key["Code"], no_key["Key"]) == (404, "NoSuchKey", "seed/none")
    assert (no_bucket["status"], no_bucket["Code"]) == (404, "NoSuchBucket")
    assert _error(lambda: s3.head_object(Bucket=BUCKET, Key="seed/none"))["status"] == 404


def test_another_accounts_bucket_is_access_denied(view: TrailkeeperServer) -> None:
    bob = _s3(view, BOB)
    for call in (
        lambda: bob.get_object(Bucket=BUCKET, Key="seed/top.txt"),
        lambda: bob.list_objects_v2(Bucket=BUCKET),
        lambda: _s3(view).get_object(Bucket=BOB_BUCKET, Key="private.txt"),
    ):
        denied = _error(call)
        assert (denied["status"], denied["Code"], denied["Message"]) == (403, "AccessDenied", "Access Denied")
    assert bob.get_object(Bucket=BOB_BUCKET, Key="private.txt")["Body"].read() == b"bob's"


def test_unsigned_request_is_refused(view: TrailkeeperServer) -> None:
    answer = httpx.get(f"{view.url}/{BUCKET}/seed/top.txt")
    assert answer.status_code == 403
    assert KEYS["seed/top.txt"] not in answer.content
    # As S3 answers anonymous requests: an XML error an S3 client can parse.
    assert answer.headers["content-type"].startswith("application/xml")
    assert b"<Code>AccessDenied</Code>" in answer.content


def test_writes_are_method_not_allowed(view: TrailkeeperServer) -> None:
    s3 = _s3(view)
    put = _error(lambda: s3.put_object(Bucket=BUCKET, Key="seed/new.txt", Body=b"x"))
    delete = _error(lambda: s3.delete_object(Bucket=BUCKET, Key="seed/top.txt"))
    assert (put["status"], put["Code"], put["Method"], put["ResourceType"]) == (
        405,
        "MethodNotAllowed",
        "PUT",
        "OBJECT",
    )
    assert (delete["status"], delete["Code"], delete["Method"]) == (405, "MethodNotAllowed", "DELETE")
    assert s3.get_object(Bucket=BUCKET, Key="seed/top.txt")["Body"].read() == KEYS["seed/top.txt"]


def test_management_calls_are_in_event_history_and_data_calls_are_not(view: TrailkeeperServer) -> None:
    s3, ct = _s3(view), make_client(view.url, "cloudtrail", ALICE)
    listed = s3.list_buckets()["ResponseMetadata"]["RequestId"]
    located = s3.get_bucket_location(Bucket=BUCKET)["ResponseMetadata"]["RequestId"]
    read = s3.get_object(Bucket=BUCKET, Key="seed/top.txt")["ResponseMetadata"]["RequestId"]
    record = find_event(ct, located, "GetBucketLocation")
    assert find_event(ct, listed, "ListBuckets")["eventSource"] == "s3.amazonaws.com"
    assert (record["readOnly"], record["managementEvent"], record["eventCategory"]) == (
        True,
        True,
        "Management",
    )
    assert record["responseElements"] is None
    host = view.url.removeprefix("http://")
    # As S3 logs it: the bucket, the sub-resource flag and the Host header the client sent.
    assert record["requestParameters"] == {"bucketName": BUCKET, "location": "", "Host": host}
    assert record["resources"] == [
        {"accountId": ACCOUNT_A, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{BUCKET}"}
    ]
    time.sleep(0.3)  # a data event would be as visible as the management events found above
    events = lookup_all(ct, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetObject"}])
    assert read not in [json.loads(e["CloudTrailEvent"])["requestID"] for e in events]


def _delivered(s3: Any, request_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """The record of one call, read back from the log files a trail delivered into the bucket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="AWSLogs/").get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
            for record in json.loads(body)["Records"]:
                if record["requestID"] == request_id:
                    found: dict[str, Any] = record
                    return found
        time.sleep(0.3)
    raise AssertionError(f"no delivered record with requestID {request_id}")


def test_data_events_reach_a_trail_that_selects_them(view: TrailkeeperServer) -> None:
    s3, ct = _s3(view), make_client(view.url, "cloudtrail", ALICE)
    ct.create_trail(Name="view-data", S3BucketName=BUCKET)
    selector = {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{BUCKET}/seed/unicode/"]}
    ct.put_event_selectors(
        TrailName="view-data",
        EventSelectors=[
            {"ReadWriteType": "All", "IncludeManagementEvents": False, "DataResources": [selector]}
        ],
    )
    ct.start_logging(Name="view-data")
    key = "seed/unicode/\u00fc \u00f1 \U0001f600.txt"
    request_id = s3.get_object(Bucket=BUCKET, Key=key)["ResponseMetadata"]["RequestId"]
    record = _delivered(s3, request_id)
    assert (record["eventSource"], record["eventName"], record["readOnly"]) == (
        "s3.amazonaws.com",
        "GetObject",
        True,
    )
    assert (record["managementEvent"], record["eventCategory"]) == (False, "Data")
    assert [r["ARN"] for r in record["resources"]] == [
        f"arn:aws:s3:::{BUCKET}/{key}",
        f"arn:aws:s3:::{BUCKET}",
    ]
    assert record["responseElements"] is None
