"""Every bucket the server knows: Settings and bucket records in; a bucket's store, owner and writers out.

Local buckets are folders under ``<data_dir>/buckets``. Each has a record
``<data_dir>/buckets/.<name>.json`` (owner account, region, creation time), written when the bucket
is created (``trailkeeper bucket create``, ``BucketRegistry.create``, or a configured bucket's folder
made at startup), so the registry still knows it after a restart. ``[[bucket]]`` entries of the
config win over a record of the same name; those with an ``endpoint_url`` are served by one
``S3ObjectStore`` per endpoint and credentials.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import orjson

from trailkeeper.config import BucketConfig, Settings
from trailkeeper.config.names import ACCOUNT_ID, is_bucket_name
from trailkeeper.errors import ConfigError
from trailkeeper.storage import errors
from trailkeeper.storage.base import ObjectStore
from trailkeeper.storage.local import LocalObjectStore, fsync_dir, write_durably
from trailkeeper.storage.s3 import S3ObjectStore

__all__ = ["BucketDirectory", "BucketRecord", "BucketRegistry", "buckets_root", "create_local_bucket"]


@dataclass(frozen=True, slots=True)
class BucketRecord:
    """What the registry knows of one bucket besides its objects."""

    name: str
    account: str  # the owner: reads it through the S3 view, its trails may deliver into it
    region: str = "us-east-1"
    created_ms: int = 0  # 0 = unknown (a bucket on an S3 endpoint)
    writers: tuple[str, ...] = ()  # other accounts whose trails may deliver into it
    endpoint_url: str | None = None  # None = a local bucket


@runtime_checkable
class BucketDirectory(Protocol):
    """What the S3 view's ListBuckets needs beyond the BucketRegistry contract: the list itself."""

    def buckets_of(self, account_id: str) -> list[BucketRecord]: ...


def buckets_root(data_dir: Path) -> Path:
    return data_dir / "buckets"


def _record_path(root: Path, name: str) -> Path:
    return root / f".{name}.json"  # bucket names never start with "." so this is no bucket's folder


def _read_record(root: Path, name: str) -> BucketRecord | None:
    try:
        raw = orjson.loads(_record_path(root, name).read_bytes())
        account = raw["account"]
        if not ACCOUNT_ID.fullmatch(account):
            return None
        region, created, writers = (
            raw.get("region", "us-east-1"),
            raw.get("created_ms", 0),
            raw.get("writers", []),
        )
        return BucketRecord(name, account, str(region), int(created), tuple(str(w) for w in writers))
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _write_record(root: Path, record: BucketRecord) -> None:
    temp = root / f".~{uuid.uuid4().hex}"
    fields = {"name": record.name, "account": record.account, "region": record.region}
    write_durably(
        temp, orjson.dumps({**fields, "created_ms": record.created_ms, "writers": list(record.writers)})
    )
    temp.replace(_record_path(root, record.name))
    fsync_dir(root)


def create_local_bucket(
    data_dir: Path, name: str, account: str, region: str = "us-east-1", *, now_ms: int
) -> tuple[BucketRecord, bool]:
    """Create a local bucket (folder and record): ``(record, True)``, or ``(record, False)`` when
    ``account`` already owns it. S3Error InvalidBucketName, or BucketAlreadyExists when another
    account owns the name."""
    root = buckets_root(data_dir)
    store = LocalObjectStore(root)
    store.bucket_path(name)  # raises InvalidBucketName
    existing = _read_record(root, name)
    if existing is not None:
        if existing.account != account:
            raise errors.bucket_already_exists(name)
        store.create_bucket(name)  # a record without its folder: make the folder again
        return existing, False
    record = BucketRecord(name, account, region, now_ms)
    store.create_bucket(name)
    _write_record(root, record)
    return record, True


class BucketRegistry:
    """The BucketRegistry contract over local folders and configured S3 endpoints."""

    def __init__(self, data_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._data_dir = data_dir
        self._root = buckets_root(data_dir)
        self._clock = clock
        self._records: dict[str, BucketRecord] = {}
        self._remote: dict[str, S3ObjectStore] = {}  # bucket name -> the store of its endpoint
        self.local = LocalObjectStore(self._root, region_of=self._region_of, clock=clock)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Callable[[], float] = time.time) -> BucketRegistry:
        """Known buckets: the records under the data dir, then the config's (folders made if absent)."""
        registry = cls(settings.data_dir, clock=clock)
        registry._root.mkdir(parents=True, exist_ok=True)
        for path in sorted(registry._root.glob(".*.json")):
            name = path.name[1:-5]
            if is_bucket_name(name) and (record := _read_record(registry._root, name)) is not None:
                registry._records[name] = record
        default = settings.accounts[0].id if settings.accounts else None
        endpoints: dict[tuple[str | None, ...], S3ObjectStore] = {}
        for config in settings.buckets:
            owner = config.account or default
            if owner is None:
                raise ConfigError(f"bucket {config.name}: no owner account (configure an [[account]])")
            if config.endpoint_url is None:
                registry._configure_local(config, owner)
                continue
            identity = (config.endpoint_url, config.region, config.access_key_id, config.secret_access_key)
            store = endpoints.get(identity) or endpoints.setdefault(
                identity, S3ObjectStore(config, clock=clock)
            )
            registry._remote[config.name] = store
            registry._records[config.name] = BucketRecord(
                config.name, owner, config.region, 0, config.writers, config.endpoint_url
            )
        return registry

    def _configure_local(self, config: BucketConfig, owner: str) -> None:
        known = _read_record(self._root, config.name)
        if known is None:
            known, _ = create_local_bucket(
                self._data_dir, config.name, owner, config.region, now_ms=self._now_ms()
            )
        else:
            self.local.create_bucket(config.name)
        # The config is the truth for owner, region and writers; the record keeps the creation time.
        self._records[config.name] = BucketRecord(
            config.name, owner, config.region, known.created_ms, config.writers
        )

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _region_of(self, bucket: str) -> str:
        record = self.record(bucket)
        return record.region if record is not None else "us-east-1"

    def describe(self) -> str:
        remote = sorted({store.describe() for store in self._remote.values()})
        return f"buckets[{len(self._records)}: {', '.join([self.local.describe(), *remote])}]"

    def record(self, bucket: str) -> BucketRecord | None:
        """The bucket's record; a bucket created by the CLI while the server runs is picked up here."""
        known = self._records.get(bucket)
        if known is None and is_bucket_name(bucket) and (known := _read_record(self._root, bucket)):
            self._records[bucket] = known
        return known

    def store_for(self, bucket: str) -> ObjectStore | None:
        record = self.record(bucket)
        if record is None:
            return None
        return self._remote[bucket] if record.endpoint_url is not None else self.local

    def owner_of(self, bucket: str) -> str | None:
        record = self.record(bucket)
        return record.account if record is not None else None

    def may_deliver(self, bucket: str, account_id: str) -> bool:
        record = self.record(bucket)
        return record is not None and (account_id == record.account or account_id in record.writers)

    def buckets_of(self, account_id: str) -> list[BucketRecord]:
        """The buckets ``account_id`` owns, by name."""
        return sorted((r for r in self._records.values() if r.account == account_id), key=lambda r: r.name)

    def local_buckets(self) -> list[str]:
        return sorted(name for name, record in self._records.items() if record.endpoint_url is None)

    def create(self, name: str, account: str, region: str = "us-east-1") -> tuple[BucketRecord, bool]:
        """Create a local bucket at runtime (see ``create_local_bucket``); the registry knows it at once."""
        known = self.record(name)
        if known is not None and known.account != account:
            raise errors.bucket_already_exists(name)
        if known is not None and known.endpoint_url is not None:
            return known, False  # configured on an S3 endpoint: nothing to create here
        record, created = create_local_bucket(self._data_dir, name, account, region, now_ms=self._now_ms())
        self._records.setdefault(name, record)
        return self._records[name], created

    async def close(self) -> None:
        for store in {id(s): s for s in self._remote.values()}.values():
            await store.close()
        await self.local.close()
