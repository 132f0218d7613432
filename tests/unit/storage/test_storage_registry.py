"""The bucket registry (storage/registry.py): configured, recorded and runtime-created buckets."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from tests.unit.storage.support import ACCOUNT, OTHER_ACCOUNT, MotoS3, moto_bucket_config
from trailkeeper.config import AccountConfig, BucketConfig, Settings
from trailkeeper.errors import AwsError, ConfigError
from trailkeeper.storage import base
from trailkeeper.storage.local import LocalObjectStore
from trailkeeper.storage.registry import BucketDirectory, BucketRegistry, create_local_bucket
from trailkeeper.storage.s3 import S3ObjectStore

T0 = 1_767_225_600.0


def _settings(data_dir: Path, *buckets: BucketConfig) -> Settings:
    return Settings(
        data_dir=data_dir, accounts=(AccountConfig(ACCOUNT), AccountConfig(OTHER_ACCOUNT)), buckets=buckets
    )


def test_registry_satisfies_both_contracts(tmp_path: Path) -> None:
    registry = BucketRegistry.from_settings(_settings(tmp_path))
    contract: base.BucketRegistry = registry
    assert isinstance(contract, BucketDirectory)


def test_configured_local_bucket_is_created_with_owner_and_writers(tmp_path: Path) -> None:
    config = BucketConfig("org-logs", writers=(OTHER_ACCOUNT,), region="eu-west-1")
    registry = BucketRegistry.from_settings(_settings(tmp_path, config), clock=lambda: T0)
    assert (tmp_path / "buckets" / "org-logs").is_dir()
    assert registry.owner_of("org-logs") == ACCOUNT  # the first configured account
    assert registry.may_deliver("org-logs", ACCOUNT)
    assert registry.may_deliver("org-logs", OTHER_ACCOUNT)
    assert not registry.may_deliver("org-logs", "999999999999")
    assert isinstance(registry.store_for("org-logs"), LocalObjectStore)
    assert asyncio.run(registry.local.bucket_region("org-logs")) == "eu-west-1"
    assert [(r.name, r.created_ms) for r in registry.buckets_of(ACCOUNT)] == [("org-logs", T0 * 1000)]
    assert registry.store_for("unknown-bucket") is None
    assert registry.owner_of("unknown-bucket") is None


def test_bucket_is_known_after_restart_and_config_wins_over_its_record(tmp_path: Path) -> None:
    BucketRegistry.from_settings(
        _settings(tmp_path, BucketConfig("logs-a", account=ACCOUNT)), clock=lambda: T0
    )
    restarted = BucketRegistry.from_settings(_settings(tmp_path))  # no longer configured: the record remains
    assert restarted.owner_of("logs-a") == ACCOUNT
    moved = BucketRegistry.from_settings(_settings(tmp_path, BucketConfig("logs-a", account=OTHER_ACCOUNT)))
    assert moved.owner_of("logs-a") == OTHER_ACCOUNT
    assert moved.buckets_of(OTHER_ACCOUNT)[0].created_ms == T0 * 1000  # the record keeps the creation time


def test_create_at_runtime_and_the_s3_answers_for_taken_names(tmp_path: Path) -> None:
    registry = BucketRegistry.from_settings(_settings(tmp_path))
    record, created = registry.create("runtime-bucket", OTHER_ACCOUNT, "us-west-2")
    assert created
    assert registry.owner_of("runtime-bucket") == OTHER_ACCOUNT
    assert registry.create("runtime-bucket", OTHER_ACCOUNT) == (record, False)
    with pytest.raises(AwsError) as taken:
        registry.create("runtime-bucket", ACCOUNT)
    with pytest.raises(AwsError) as invalid:
        registry.create("Not_Valid", ACCOUNT)
    assert (taken.value.code, taken.value.status) == ("BucketAlreadyExists", 409)
    assert invalid.value.code == "InvalidBucketName"


def test_bucket_created_by_the_cli_while_running_is_found(tmp_path: Path) -> None:
    registry = BucketRegistry.from_settings(_settings(tmp_path))
    assert registry.store_for("late-bucket") is None
    create_local_bucket(tmp_path, "late-bucket", OTHER_ACCOUNT, now_ms=1)
    assert registry.store_for("late-bucket") is registry.local
    assert registry.owner_of("late-bucket") == OTHER_ACCOUNT


def test_bucket_without_any_owner_account_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no owner account"):
        BucketRegistry.from_settings(Settings(data_dir=tmp_path, buckets=(BucketConfig("lonely-bucket"),)))


def test_endpoint_buckets_share_one_store_per_endpoint(
    tmp_path: Path, moto_s3: MotoS3, moto_client: object
) -> None:
    for name in ("remote-one", "remote-two"):
        moto_client.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    one, two = moto_bucket_config(moto_s3.url, "remote-one"), moto_bucket_config(moto_s3.url, "remote-two")
    registry = BucketRegistry.from_settings(_settings(tmp_path, one, replace(two, writers=(OTHER_ACCOUNT,))))
    store = registry.store_for("remote-one")
    assert isinstance(store, S3ObjectStore)
    assert store is registry.store_for("remote-two")
    assert registry.may_deliver("remote-two", OTHER_ACCOUNT)
    assert not registry.may_deliver("remote-one", OTHER_ACCOUNT)
    asyncio.run(store.put("remote-two", "k", b"v"))
    assert asyncio.run(store.get("remote-two", "k")).body == b"v"
    assert "s3(" in registry.describe()
    asyncio.run(registry.close())
