"""Shared, non-fixture helpers for the record tests: where the reference material lives, how to read it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["AWS_ORDER", "SAMPLES", "SEEDS", "SERVICES", "invictus_records", "seed_records"]

SERVICES = ("glue", "emr-serverless", "sts", "cloudtrail")
SHARED = Path("/work/shared")
SEEDS = SHARED / "seeds"
SAMPLES = SHARED / "data" / "cloudtrail-samples"
# Top-level key order of genuine delivered log files (reference/datasets.md §1.2).
AWS_ORDER = [
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "sharedEventID",
    "vpcEndpointId",
    "eventCategory",
    "tlsDetails",
    "sessionCredentialFromConsole",
]


def seed_records(name_prefix: str) -> list[dict[str, Any]]:
    """The sample records embedded in one seed document, in order."""
    paths = sorted(SEEDS.glob(f"{name_prefix}_*.txt"))
    if not paths:
        pytest.skip(f"seed {name_prefix} not available under {SEEDS}")
    text = paths[0].read_text("utf-8")
    decoder = json.JSONDecoder()
    found = []
    start = text.find('{ "eventVersion"')
    while start >= 0:
        record, end = decoder.raw_decode(text, start)
        found.append(record)
        start = text.find('{ "eventVersion"', end)
    return found


def invictus_records() -> Iterator[dict[str, Any]]:
    """Every record of the genuine delivered log files (invictus-ir), key order as delivered."""
    files = sorted((SAMPLES / "invictus-ir_aws_dataset" / "CloudTrail").glob("*.json"))
    if not files:
        pytest.skip(f"invictus-ir samples not available under {SAMPLES}")
    for path in files:
        yield from json.loads(path.read_text("utf-8"))["Records"]
