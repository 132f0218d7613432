"""Each storage module exports its public names, in the order ruff keeps ``__all__``; s3.toml loads."""

from __future__ import annotations

import inspect
from types import ModuleType

import botocore.session
import pytest

from trailkeeper.capture.wire import rest_xml
from trailkeeper.record.rules import load_rules
from trailkeeper.storage import errors, keys, local, registry, retention, s3, s3api


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize(
    "module", [errors, keys, local, registry, retention, s3, s3api, rest_xml], ids=lambda m: m.__name__
)
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


def test_s3_rules_classify_every_operation_once_and_the_view_as_cloudtrail_does() -> None:
    model = botocore.session.get_session().get_service_model("s3")
    rules = load_rules("s3", model)
    operations = set(model.operation_names)
    assert rules.read_only | rules.write == operations
    assert not rules.read_only & rules.write
    assert rules.event_source == "s3.amazonaws.com"
    served = {
        "ListBuckets",
        "GetBucketLocation",
        "HeadBucket",
        "ListObjects",
        "ListObjectsV2",
        "GetObject",
        "HeadObject",
    }
    assert served <= rules.read_only <= rules.null_response
    assert rules.data_events & served == {"ListObjects", "ListObjectsV2", "GetObject", "HeadObject"}
    assert {"PutObject", "DeleteObject"} <= rules.data_events
    assert all(op in rules.resources for op in served - {"ListBuckets"})
