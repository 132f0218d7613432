"""Real CloudTrail records from the shared samples, found by their origin, for the selector tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

__all__ = ["invictus_record", "panther_record"]

SAMPLES = Path("/work/shared/data/cloudtrail-samples")


def invictus_record(event_id: str) -> dict[str, Any]:
    """A record of the genuine delivered log files (invictus-ir, us-east-1, 2023) by its eventID."""
    files = sorted((SAMPLES / "invictus-ir_aws_dataset" / "CloudTrail").glob("*.json"))
    if not files:
        pytest.skip(f"invictus-ir samples not available under {SAMPLES}")
    for path in files:
        for record in json.loads(path.read_text("utf-8"))["Records"]:
            if record.get("eventID") == event_id:
                return dict(record)
    raise LookupError(f"no invictus-ir record {event_id}")


def panther_record(rule_id: str, test_name: str) -> dict[str, Any]:
    """The event of one Panther rule test (real events, lightly edited by Panther's authors)."""
    path = SAMPLES / "panther-analysis_test-events" / "aws_cloudtrail_rule_tests.jsonl"
    if not path.exists():
        pytest.skip(f"panther samples not available under {SAMPLES}")
    for line in path.read_text("utf-8").splitlines():
        test = json.loads(line)
        if test["rule_id"] == rule_id and test["test_name"] == test_name:
            return dict(test["log"])
    raise LookupError(f"no panther test {rule_id} / {test_name}")
