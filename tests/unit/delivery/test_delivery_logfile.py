"""delivery/logfile.py: AWS key names, grouping by account and region, size splits, one-member gzip."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib

import pytest

from tests.unit.journal.support import ACCOUNT, OTHER_ACCOUNT, REGION, T0, make_entry
from trailkeeper.delivery.logfile import (
    EMPTY_BODY_BYTES,
    body_of,
    log_key,
    render,
    split_into_files,
    unique_id,
)
from trailkeeper.journal.base import StoredEvent

DELIVERED_MS = 1_767_312_345_678  # 2026-01-02T00:05:45.678Z
UNIQUE = "AbCdEfGh01234567"
# The shape of a real CloudTrail log file name (datasets.md §1.2).
NAME = re.compile(r"\d{12}_CloudTrail_[a-z0-9-]+_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz")


def _events(*specs: tuple[str, str], size: int = 0) -> list[StoredEvent]:
    """One stored event per (account, region), seqs from 1, each record padded to about ``size`` bytes."""
    return [
        StoredEvent(seq, make_entry(T0 + seq, account_id=acct, region=region, pad="x" * size))
        for seq, (acct, region) in enumerate(specs, start=1)
    ]


@pytest.mark.parametrize(
    ("prefix", "org_id", "expected"),
    [
        (
            None,
            None,
            f"AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2026/01/02/"
            f"{ACCOUNT}_CloudTrail_eu-west-1_20260102T0005Z_{UNIQUE}.json.gz",
        ),
        (
            "audit/prod",
            None,
            f"audit/prod/AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2026/01/02/"
            f"{ACCOUNT}_CloudTrail_eu-west-1_20260102T0005Z_{UNIQUE}.json.gz",
        ),
        (
            "org",
            "o-exampleorgid",
            f"org/AWSLogs/o-exampleorgid/{ACCOUNT}/CloudTrail/eu-west-1/2026/01/02/"
            f"{ACCOUNT}_CloudTrail_eu-west-1_20260102T0005Z_{UNIQUE}.json.gz",
        ),
    ],
)
def test_log_key_follows_aws_layout_dated_by_delivery_time(
    prefix: str | None, org_id: str | None, expected: str
) -> None:
    key = log_key(
        prefix=prefix,
        org_id=org_id,
        account_id=ACCOUNT,
        region="eu-west-1",
        delivered_ms=DELIVERED_MS,
        unique=UNIQUE,
    )
    assert key == expected
    assert NAME.fullmatch(key.rsplit("/", 1)[1])


def test_log_key_date_folders_are_utc_at_day_boundaries() -> None:
    last_ms_of_2025 = T0 - 1  # 2025-12-31T23:59:59.999Z
    key = log_key(
        prefix=None,
        org_id=None,
        account_id=ACCOUNT,
        region=REGION,
        delivered_ms=last_ms_of_2025,
        unique=UNIQUE,
    )
    assert "/2025/12/31/" in key
    assert "_20251231T2359Z_" in key


def test_unique_id_is_16_alphanumerics_and_differs_each_time() -> None:
    ids = {unique_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9]{16}", i) for i in ids)


def test_split_into_files_groups_by_account_and_region_keeping_seq_order() -> None:
    events = _events(
        (ACCOUNT, "us-east-1"), (ACCOUNT, "eu-west-1"), (OTHER_ACCOUNT, "us-east-1"), (ACCOUNT, "us-east-1")
    )
    files = split_into_files(events, 1 << 20)
    assert [(f.account_id, f.region, f.seqs) for f in files] == [
        (ACCOUNT, "us-east-1", (1, 4)),
        (ACCOUNT, "eu-west-1", (2,)),
        (OTHER_ACCOUNT, "us-east-1", (3,)),
    ]


def test_split_into_files_cuts_so_no_body_exceeds_the_bound() -> None:
    events = _events(*[(ACCOUNT, REGION)] * 25, size=300)
    record_bytes = len(events[0].entry.record)
    bound = EMPTY_BODY_BYTES + 4 * record_bytes + 3  # exactly four records and their commas
    files = split_into_files(events, bound)
    assert [len(f.events) for f in files] == [4, 4, 4, 4, 4, 4, 1]
    assert [seq for f in files for seq in f.seqs] == list(range(1, 26))
    assert all(len(body_of([e.entry.record for e in f.events])) <= bound for f in files)


def test_split_into_files_gives_an_oversized_record_a_file_of_its_own() -> None:
    small, big, small2 = _events((ACCOUNT, REGION), (ACCOUNT, REGION), (ACCOUNT, REGION))
    big = StoredEvent(big.seq, make_entry(T0, pad="y" * 5000))
    files = split_into_files([small, big, small2], 1000)
    assert [f.seqs for f in files] == [(1,), (2,), (3,)]


def test_render_writes_one_gzip_member_holding_the_records_verbatim() -> None:
    events = _events((ACCOUNT, REGION), (ACCOUNT, REGION), (ACCOUNT, REGION))
    rendered = render(events)
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)  # exactly what `aws cloudtrail validate-logs` does
    body = inflater.decompress(rendered.gzip_body) + inflater.flush()
    assert inflater.eof
    assert inflater.unused_data == b""
    assert body == b'{"Records":[' + b",".join(e.entry.record for e in events) + b"]}\n"
    assert json.loads(body)["Records"] == [json.loads(e.entry.record) for e in events]
    assert rendered.sha256 == hashlib.sha256(body).hexdigest()
    assert rendered.uncompressed_bytes == len(body)
    assert (rendered.oldest_event_ms, rendered.newest_event_ms) == (T0 + 1, T0 + 3)


def test_render_is_byte_identical_on_replay() -> None:
    events = _events((ACCOUNT, REGION), (OTHER_ACCOUNT, REGION))
    assert render(events).gzip_body == render(list(events)).gzip_body
    assert gzip.decompress(render(events).gzip_body).endswith(b"]}\n")


def test_body_of_no_records_is_an_empty_records_array() -> None:
    assert body_of([]) == b'{"Records":[]}\n'
    assert len(body_of([])) == EMPTY_BODY_BYTES
