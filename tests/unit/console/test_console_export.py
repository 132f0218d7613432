"""Downloads: the CSV columns of the Event history table and the {"Records": [...]} JSON envelope."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import orjson

from trailkeeper.console.export import CSV_COLUMNS, to_csv, to_json
from trailkeeper.console.history import event_rows

RECORD = {
    "eventTime": "2026-05-01T11:59:00Z",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "192.0.2.1",
    "requestParameters": {"name": '=HYPERLINK("x"), "quoted"'},
}
EVENT = {
    "EventId": "e1",
    "EventName": "CreateTable",
    "ReadOnly": "false",
    "EventTime": datetime.now(UTC),
    "EventSource": "glue.amazonaws.com",
    "Username": "alice",
    "Resources": [
        {"ResourceType": "AWS::Glue::Database", "ResourceName": "db"},
        {"ResourceType": "AWS::Glue::Table", "ResourceName": "t,1"},
    ],
    "CloudTrailEvent": orjson.dumps(RECORD).decode(),
}


def test_export_csv_has_the_table_columns_and_joins_resources() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(event_rows([EVENT])).decode("utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    got = dict(zip(rows[0], rows[1], strict=True))
    assert got["Event name"] == "CreateTable"
    assert got["Event ID"] == "e1"
    assert got["Resource type"] == "AWS::Glue::Database, AWS::Glue::Table"
    assert got["Resource name"] == "db, t,1"  # quoted by the CSV writer, read back intact
    assert (got["AWS access key"], got["Error code"], got["Read-only"]) == ("", "", "false")


def test_export_json_is_the_records_envelope() -> None:
    assert orjson.loads(to_json(event_rows([EVENT, EVENT]))) == {"Records": [RECORD, RECORD]}


def test_export_empty_result_still_has_a_header() -> None:
    assert to_csv([]).decode().splitlines() == [",".join(CSV_COLUMNS)]
