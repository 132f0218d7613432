"""Each identity module (and config) exports its public functions and classes, in isort order."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

from trailkeeper import config
from trailkeeper.capture.identity import sessions, sigv4, store, sts


def _isort_key(name: str) -> tuple[int, str]:
    """CONSTANTS, then Classes, then functions: the order ``ruff`` (RUF022) keeps ``__all__`` in."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("module", [config, store, sigv4, sessions, sts], ids=lambda m: m.__name__)
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
