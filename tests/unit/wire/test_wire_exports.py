"""The wire package exports exactly its public names, sorted, and each resolves."""

from __future__ import annotations

import trailkeeper.capture.wire as wire


def test_exports_all_is_sorted_and_exact() -> None:
    assert wire.__all__ == sorted(wire.__all__)
    assert set(wire.__all__) == {
        "AWS_FAULT_NAMESPACE",
        "CallError",
        "Outcome",
        "WireResponse",
        "error_outcome",
        "parse_backend_response",
        "parse_request",
        "render_error",
        "render_output",
        "resolve_operation",
        "validate_required",
    }
    assert all(hasattr(wire, name) for name in wire.__all__)
