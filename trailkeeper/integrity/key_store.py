"""The digest signing key contract: ``FileKeyStore`` (a data dir's key folder), ``pg_keys.PgKeyStore``.

Every node that signs digests or answers ListPublicKeys must see the same keys, or a digest is
signed with a key that another node does not list and ``aws cloudtrail validate-logs`` fails.
One node (SQLite) keeps them in ``<data_dir>/keys`` (``keys.py``); nodes sharing a PostgreSQL
journal keep them in its database (``pg_keys.py``). ``services/state.py`` picks one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from trailkeeper.integrity.keys import KEYS_DIR, KeyStore, PublicKey, SigningKey

__all__ = ["FileKeyStore", "SigningKeyStore"]


class SigningKeyStore(Protocol):
    """Per-region RSA-2048 key pairs: made on first use, rotated on demand, listed while valid."""

    def describe(self) -> str: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def public_keys(self, region: str, start_ms: int, end_ms: int) -> list[PublicKey]:
        """The region's keys whose validity overlaps [start_ms, end_ms], oldest first."""
        ...

    async def regions(self) -> list[str]:
        """Every region that has a key, sorted."""
        ...

    async def current(self, region: str, now_ms: int) -> SigningKey:
        """The key that signs in ``region`` at ``now_ms``; made (once, whoever asks) if none is valid."""
        ...

    async def rotate(self, regions: Iterable[str], now_ms: int) -> list[PublicKey]:
        """End each region's current key at ``now_ms`` and start a new one; the new public keys."""
        ...


class FileKeyStore:
    """The key folder of one data directory (``keys.KeyStore``), its file I/O on worker threads."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> FileKeyStore:
        return cls(KeyStore(data_dir / KEYS_DIR))

    def describe(self) -> str:
        return self.store.describe()

    async def open(self) -> None:
        return None  # the folder is made with the first key

    async def close(self) -> None:
        return None

    async def public_keys(self, region: str, start_ms: int, end_ms: int) -> list[PublicKey]:
        return await asyncio.to_thread(self.store.public_keys, region, start_ms, end_ms)

    async def regions(self) -> list[str]:
        return await asyncio.to_thread(self.store.regions)

    async def current(self, region: str, now_ms: int) -> SigningKey:
        return await asyncio.to_thread(self.store.current, region, now_ms)

    async def rotate(self, regions: Iterable[str], now_ms: int) -> list[PublicKey]:
        return await asyncio.to_thread(self.store.rotate, list(regions), now_ms)
