"""The record package's public names: every ``__all__`` entry exists, the package re-exports resolve."""

from __future__ import annotations

import importlib

import pytest

import trailkeeper.record

MODULES = ("build", "identity", "index", "project", "rules")


@pytest.mark.parametrize("module", MODULES)
def test_module_all_names_every_public_name_exists(module: str) -> None:
    loaded = importlib.import_module(f"trailkeeper.record.{module}")
    assert all(hasattr(loaded, name) for name in loaded.__all__)


def test_package_reexports_resolve_to_the_defining_modules() -> None:
    from trailkeeper.record.build import build_record

    assert trailkeeper.record.build_record is build_record
    for name in trailkeeper.record.__all__:
        assert getattr(trailkeeper.record, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = trailkeeper.record.nope
