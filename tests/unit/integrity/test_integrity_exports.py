"""Each integrity module exports its public functions and classes, in the order ruff keeps ``__all__``."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

from trailkeeper.delivery import state
from trailkeeper.integrity import (
    chain,
    checks,
    command,
    digest,
    key_seal,
    key_store,
    keys,
    pg_keys,
    public_keys,
    sources,
    validate,
    writer,
)


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


MODULES = [
    chain,
    checks,
    command,
    digest,
    key_seal,
    key_store,
    keys,
    pg_keys,
    public_keys,
    sources,
    validate,
    writer,
    state,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_exports_name_every_public_function_and_class(module: ModuleType) -> None:
    defined = {
        name
        for name, value in vars(module).items()
        if (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
        and not name.startswith("_")
    }
    assert module.__all__ == sorted(module.__all__, key=_isort_key)
    assert all(hasattr(module, name) for name in module.__all__)
    assert defined <= set(module.__all__)
