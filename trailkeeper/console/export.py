"""Event-history rows in, the CSV and JSON files the console's Download buttons give out.

JSON is ``{"Records": [...]}``: the full records, the envelope of CloudTrail log files. CSV has
one row per event with the columns of AWS's Event history table (its column preferences), in
that order; several resources of one event are joined with ", ". Values are written as
recorded: AWS warns that such files can carry spreadsheet formulas (CSV injection) rather than
altering them, and the page repeats that warning. UNCONFIRMED: AWS's exact CSV header and its
time format; we write eventTime as recorded (ISO 8601 UTC).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import orjson

from trailkeeper.console.history import EventRow

__all__ = ["CSV_COLUMNS", "to_csv", "to_json"]

CSV_COLUMNS = (
    "Event name",
    "Event time",
    "User name",
    "Event source",
    "Resource type",
    "Resource name",
    "AWS access key",
    "AWS region",
    "Error code",
    "Event ID",
    "Read-only",
    "Source IP address",
)


def _cells(row: EventRow) -> list[str]:
    return [
        row.event_name,
        row.event_time,
        row.username,
        row.event_source,
        ", ".join(row.resource_types),
        ", ".join(row.resource_names),
        row.access_key_id,
        row.region,
        row.error_code,
        row.event_id,
        row.read_only,
        row.source_ip,
    ]


def to_csv(rows: Iterable[EventRow]) -> bytes:
    """UTF-8 CSV with a header row (RFC 4180 quoting, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_cells(row) for row in rows)
    return out.getvalue().encode("utf-8")


def to_json(rows: Iterable[EventRow]) -> bytes:
    return orjson.dumps({"Records": [row.record for row in rows]}, option=orjson.OPT_INDENT_2)
