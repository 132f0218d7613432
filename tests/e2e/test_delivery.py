"""Trail delivery end to end: a real server, boto3, aws-cli, moto's S3 server; DuckDB and Spark as readers."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ACCOUNT_A, ACCOUNT_B, ALICE, BOB, Keys, aws_cli, make_client
from tests.e2e.delivery_support import (
    ORG_ID,
    Archive,
    MotoS3,
    TcpProxy,
    delivery_config,
    key_pattern,
    request_ids,
    wait_for,
)
from tests.e2e.server import TrailkeeperServer

BUCKET, REMOTE = "audit-logs", "remote-logs"
KMS_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT_A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
Files = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    moto = MotoS3(tmp_path_factory.mktemp("moto") / "moto.log")
    moto.start()
    make_client(moto.url, "s3", Keys("testing", "testing")).create_bucket(Bucket=REMOTE)
    yield moto
    moto.stop()


@pytest.fixture(scope="module")
def proxy(moto_s3: MotoS3) -> Iterator[TcpProxy]:
    """The remote bucket's endpoint as the server sees it; stopping it is an S3 outage."""
    tcp = TcpProxy(moto_s3.port)
    tcp.start()
    yield tcp
    tcp.stop()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, proxy: TcpProxy) -> Iterator[TrailkeeperServer]:
    root = tmp_path_factory.mktemp("delivery")
    server = TrailkeeperServer(root / "data", config=delivery_config(root, remote_url=proxy.url))
    server.start()
    yield server
    server.stop()


def start_trail(url: str, name: str, keys: Keys = ALICE, *, bucket: str = BUCKET, **options: Any) -> str:
    """CreateTrail (prefix = name) + StartLogging; returns the prefix its files go under."""
    ct = make_client(url, "cloudtrail", keys)
    ct.create_trail(Name=name, S3BucketName=bucket, S3KeyPrefix=name, **options)
    ct.start_logging(Name=name)
    return name


class Trails:
    """Trails a test starts, deleted when it ends: an account may have only 5 per region, as on AWS."""

    def __init__(self, url: str) -> None:
        self.url, self._made = url, list[tuple[Keys, str]]()

    def start(self, name: str, keys: Keys = ALICE, **options: Any) -> str:
        self._made.append((keys, start_trail(self.url, name, keys, **options)))
        return name

    def delete_all(self) -> None:
        for keys, name in self._made:
            make_client(self.url, "cloudtrail", keys).delete_trail(Name=name)


@pytest.fixture
def trails(srv: TrailkeeperServer) -> Iterator[Trails]:
    made = Trails(srv.url)
    yield made
    made.delete_all()


def calls(url: str, count: int, keys: Keys = ALICE, region: str = "us-east-1") -> list[str]:
    """``count`` acknowledged Glue GetDatabases calls; their request IDs."""
    glue = make_client(url, "glue", keys, region)
    return [glue.get_databases()["ResponseMetadata"]["RequestId"] for _ in range(count)]


def wait_delivered(
    s3: Any, prefix: str, ids: list[str], *, bucket: str = BUCKET, timeout: float = 20
) -> Files:
    """The trail's files once every request in ``ids`` is in one of them."""
    archive = Archive(s3, bucket, prefix)

    def complete() -> Files | None:
        files = archive.refresh()
        return files if set(ids) <= set(request_ids(files)) else None

    return wait_for(complete, timeout)


def key_of(files: Files, request_id: str) -> str:
    """The one file holding the request's record."""
    [key] = [k for k, records in files.items() if any(r["requestID"] == request_id for r in records)]
    return key


def regions_of(files: Files, prefix: str, ids: list[str], *, org: bool = False) -> set[str]:
    """The region folders holding the records of ``ids``; every key must follow AWS's layout."""
    pattern, found = key_pattern(prefix, org=org), set()
    for key, records in files.items():
        match = pattern.fullmatch(key)
        assert match, key
        assert all(r["awsRegion"] == match["region"] for r in records)
        assert all(r["recipientAccountId"] == match["acct"] for r in records)
        found |= {match["region"] for r in records if r["requestID"] in ids}
    return found


def test_single_region_trail_gets_its_region_multi_region_trail_gets_both(
    srv: TrailkeeperServer, trails: Trails
) -> None:
    single, multi = trails.start("single"), trails.start("multi", IsMultiRegionTrail=True)
    east, west = calls(srv.url, 3), calls(srv.url, 2, region="eu-west-1")
    after = calls(srv.url, 1)  # once the single-region trail has this, it has looked past the west calls
    s3 = make_client(srv.url, "s3", ALICE)
    both = wait_delivered(s3, multi, east + west + after)
    only = wait_delivered(s3, single, east + after)
    assert regions_of(only, single, east + west) == {"us-east-1"}
    assert not set(west) & set(request_ids(only))
    assert regions_of(both, multi, east) == {"us-east-1"}
    assert regions_of(both, multi, west) == {"eu-west-1"}
    assert all(request_ids(both)[i] == 1 for i in east + west + after)


def test_two_accounts_aggregate_into_one_bucket_by_account_folder(
    srv: TrailkeeperServer, trails: Trails
) -> None:
    trails.start("agg-a")
    trails.start("agg-b", BOB)
    mine, theirs = calls(srv.url, 2), calls(srv.url, 2, BOB)
    s3 = make_client(srv.url, "s3", ALICE)  # the bucket owner reads every account's folder
    a_files, b_files = wait_delivered(s3, "agg-a", mine), wait_delivered(s3, "agg-b", theirs)
    assert {key_pattern("agg-b").fullmatch(k)["acct"] for k in b_files} == {ACCOUNT_B}  # type: ignore[index]
    assert {key_pattern("agg-a").fullmatch(k)["acct"] for k in a_files} == {ACCOUNT_A}  # type: ignore[index]
    assert not set(theirs) & set(request_ids(a_files))


def test_organization_trail_delivers_member_accounts_under_the_org_id(
    srv: TrailkeeperServer, trails: Trails
) -> None:
    prefix = trails.start("org", IsOrganizationTrail=True, IsMultiRegionTrail=True)
    member, management = calls(srv.url, 2, BOB, region="eu-west-1"), calls(srv.url, 1)
    files = wait_delivered(make_client(srv.url, "s3", ALICE), prefix, member + management)
    assert regions_of(files, prefix, member, org=True) == {"eu-west-1"}
    by_account = {key_pattern(prefix, org=True).fullmatch(k)["acct"] for k in files}  # type: ignore[index]
    assert {ACCOUNT_A, ACCOUNT_B} <= by_account
    assert all(k.startswith(f"{prefix}/AWSLogs/{ORG_ID}/") for k in files)


def test_log_objects_carry_sse_aes256_by_default_and_kms_with_the_trails_key(
    srv: TrailkeeperServer, trails: Trails
) -> None:
    plain, kms = trails.start("sse-plain"), trails.start("sse-kms", KmsKeyId=KMS_KEY)
    ids = calls(srv.url, 1)
    s3 = make_client(srv.url, "s3", ALICE)
    plain_key, kms_key = (
        key_of(wait_delivered(s3, plain, ids), ids[0]),
        key_of(wait_delivered(s3, kms, ids), ids[0]),
    )
    head = s3.head_object(Bucket=BUCKET, Key=plain_key)
    assert head["ServerSideEncryption"] == "AES256"
    assert (head["ContentType"], head["ContentEncoding"]) == ("application/json", "gzip")
    head = s3.head_object(Bucket=BUCKET, Key=kms_key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)


@pytest.fixture(scope="module")
def archive(
    srv: TrailkeeperServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, list[str], Counter[str]]]:
    """A multi-region trail's files copied out with `aws s3 cp --recursive`, and what they must count."""
    trails = Trails(srv.url)
    prefix = trails.start("analytics", IsMultiRegionTrail=True)
    glue = make_client(srv.url, "glue", ALICE)
    names = [f"a{uuid.uuid4().hex[:10]}" for _ in range(3)]
    made = [glue.create_database(DatabaseInput={"Name": name}) for name in names]
    made += [glue.get_database(Name=name) for name in names[:2]]
    ids = [m["ResponseMetadata"]["RequestId"] for m in made]
    ids += calls(srv.url, 4) + calls(srv.url, 2, region="eu-west-1")
    expected = Counter({"CreateDatabase": 3, "GetDatabase": 2, "GetDatabases": 6})
    wait_delivered(make_client(srv.url, "s3", ALICE), prefix, ids)
    target = tmp_path_factory.mktemp("archive")
    copied = aws_cli(srv.url, ALICE, "s3", "cp", f"s3://{BUCKET}/{prefix}/", str(target), "--recursive")
    assert copied.returncode == 0, copied.stderr
    yield target, ids, expected
    trails.delete_all()


def test_duckdb_reads_the_archive_and_counts_events_by_name(
    archive: tuple[Path, list[str], Counter[str]],
) -> None:
    import duckdb

    target, ids, expected = archive
    with duckdb.connect() as db:
        rows = db.execute(
            f"""SELECT r.eventName, count(*) FROM (
                  SELECT unnest(Records) AS r FROM read_json('{target}/**/*.json.gz', format='auto'))
                WHERE list_contains($ids, lower(r.requestID::VARCHAR)) GROUP BY 1""",
            {"ids": [i.lower() for i in ids]},  # DuckDB infers requestID as a UUID column
        ).fetchall()
    assert Counter(dict(rows)) == expected


def test_spark_reads_the_archive_and_counts_events_by_name(
    archive: tuple[Path, list[str], Counter[str]],
) -> None:
    from pyspark.sql import SparkSession, functions

    target, ids, expected = archive
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("trailkeeper-archive")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        frame = spark.read.option("recursiveFileLookup", "true").json(str(target))
        records = frame.select(functions.explode("Records").alias("r")).where(
            functions.col("r.requestID").isin(ids)
        )
        rows = records.groupBy("r.eventName").count().collect()
    finally:
        spark.stop()
    assert Counter({row["eventName"]: row["count"] for row in rows}) == expected


def test_s3_endpoint_outage_shows_in_status_then_every_event_is_delivered_once(
    srv: TrailkeeperServer, trails: Trails, moto_s3: MotoS3, proxy: TcpProxy
) -> None:
    prefix = trails.start("remote", bucket=REMOTE)
    remote = make_client(moto_s3.url, "s3", Keys("testing", "testing"))  # read moto directly
    before = calls(srv.url, 3)
    key = key_of(wait_delivered(remote, prefix, before, bucket=REMOTE), before[0])
    assert remote.head_object(Bucket=REMOTE, Key=key)["ServerSideEncryption"] == "AES256"
    grants = remote.get_object_acl(Bucket=REMOTE, Key=key)["Grants"]
    assert any(g["Permission"] == "FULL_CONTROL" for g in grants)  # bucket-owner-full-control
    ct = make_client(srv.url, "cloudtrail", ALICE)
    outage = datetime.now(UTC).replace(microsecond=0)
    proxy.stop()
    try:
        during = calls(srv.url, 4)
        status = wait_for(
            lambda: (s := ct.get_trail_status(Name=prefix)).get("LatestDeliveryError") and s, 15
        )
        assert status["LatestDeliveryAttemptTime"]
        assert status["IsLogging"]
    finally:
        proxy.start()
    after = calls(srv.url, 2)
    files = wait_delivered(remote, prefix, before + during + after, bucket=REMOTE, timeout=30)
    assert all(request_ids(files)[i] == 1 for i in before + during + after)

    def healed_status() -> dict[str, Any] | None:
        now: dict[str, Any] = ct.get_trail_status(Name=prefix)
        return None if now.get("LatestDeliveryError") else now

    healed = wait_for(healed_status)
    assert healed["LatestDeliveryTime"] >= outage


def burst(url: str, count: int, region: str = "us-east-1", workers: int = 8) -> list[str]:
    """``count`` acknowledged calls made by ``workers`` clients at once (a backlog, fast)."""
    with ThreadPoolExecutor(workers) as pool:
        shares = pool.map(lambda n: calls(url, n, region=region), [count // workers] * workers)
        return [request_id for share in shares for request_id in share]


def test_kill_9_during_delivery_leaves_every_call_in_exactly_one_file_per_trail(tmp_path: Path) -> None:
    # One record per file (the smallest bound): the backlog is hundreds of objects per trail. It is
    # made while the flush interval is an hour, then the server restarts with 1 s and is killed mid-way.
    config = delivery_config(tmp_path, max_file_bytes=1024)
    fast = config.read_text()
    config.write_text(fast.replace("interval_seconds = 1\n", "interval_seconds = 3600\n"))
    server = TrailkeeperServer(tmp_path / "data", config=config)
    server.start()
    try:
        single = start_trail(server.url, "k-single")
        multi = start_trail(server.url, "k-multi", IsMultiRegionTrail=True)
        ct = make_client(server.url, "cloudtrail", ALICE)
        before = calls(server.url, 3)  # logged, then the trail stops and starts before any flush
        ct.stop_logging(Name=single)
        stopped = calls(server.url, 5)  # made while the single-region trail is not logging
        ct.start_logging(Name=single)
        east, west = burst(server.url, 128), burst(server.url, 40, region="eu-west-1")
        east = before + east
        config.write_text(fast)
        on_disk, chance = [], random.Random()
        for _ in range(3):
            server.restart(kill=True)
            time.sleep(chance.uniform(0.05, 0.6))
            on_disk.append(len(list((tmp_path / "data" / "buckets" / BUCKET).rglob("*.json.gz"))))
        server.restart(kill=True)
        east += calls(server.url, 10)
        s3 = make_client(server.url, "s3", ALICE)
        everything = wait_delivered(s3, multi, east + west + stopped, timeout=60)
        logged = wait_delivered(s3, single, east, timeout=60)
    finally:
        server.stop()
    assert all(request_ids(everything)[i] == 1 for i in east + west + stopped)
    assert all(request_ids(logged)[i] == 1 for i in east)
    assert not set(stopped + west) & set(request_ids(logged))
    assert any(0 < n < len(everything) + len(logged) for n in on_disk), on_disk  # killed while delivering
