"""Shared by the integrity tests: one key folder made once per session (RSA-2048 generation is slow)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from trailkeeper.integrity.keys import KeyStore

T0 = 1_767_312_000_000  # 2026-01-02T00:00:00Z
REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture(scope="session")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("keys") / "keys"
    store = KeyStore(root)
    for region in REGIONS:
        store.current(region, T0 - 86_400_000)
    return root


@pytest.fixture
def keys_in(key_folder: Path) -> Callable[[Path], KeyStore]:
    """A copy of the session's keys under ``data_dir/keys``: a test may rotate them freely."""

    def copy(data_dir: Path) -> KeyStore:
        target = data_dir / "keys"
        shutil.copytree(key_folder, target)
        return KeyStore(target)

    return copy
