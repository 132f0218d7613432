"""Record: pure functions from a parsed call, its outcome and its principal to a CloudTrail record.

The public names are re-exported lazily: ``capture.catalog`` imports ``record.rules`` while
``record.build`` imports ``capture`` modules, so eager imports here would make package import order
matter (an import cycle as soon as ``capture/__init__`` re-exports the catalog).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trailkeeper.record.build import CallContext, ResourceRef, build_record, encode_record, resource_refs
    from trailkeeper.record.identity import user_identity
    from trailkeeper.record.index import index_entry
    from trailkeeper.record.project import HIDDEN, project
    from trailkeeper.record.rules import ResourceRule, ServiceRules, load_rules

__all__ = [
    "HIDDEN",
    "CallContext",
    "ResourceRef",
    "ResourceRule",
    "ServiceRules",
    "build_record",
    "encode_record",
    "index_entry",
    "load_rules",
    "project",
    "resource_refs",
    "user_identity",
]

_HOME = {
    "CallContext": "build",
    "ResourceRef": "build",
    "build_record": "build",
    "encode_record": "build",
    "resource_refs": "build",
    "user_identity": "identity",
    "index_entry": "index",
    "HIDDEN": "project",
    "project": "project",
    "ResourceRule": "rules",
    "ServiceRules": "rules",
    "load_rules": "rules",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
