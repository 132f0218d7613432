"""Requests serialized by botocore itself come back, through routing and parsing, as the params sent."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire._support import entry, http_request
from trailkeeper.capture.wire import parse_request, resolve_operation

APP_ARN = "arn:aws:emr-serverless:us-east-1:123456789012:/applications/00f1abcdef123456"
ROLE_ARN = "arn:aws:iam::123456789012:role/Admin"
WHEN = datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("glue", "GetDatabases", {}),
    ("glue", "GetDatabase", {"Name": "sales", "CatalogId": "123456789012"}),
    (
        "glue",
        "CreateDatabase",
        {
            "DatabaseInput": {
                "Name": "sales",
                "Description": "quarterly",
                "LocationUri": "s3://bucket/sales/",
                "Parameters": {"classification": "parquet", "owner": "ünïcødé ✓"},
                "CreateTableDefaultPermissions": [
                    {
                        "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                        "Permissions": ["ALL"],
                    }
                ],
                "TargetDatabase": {
                    "CatalogId": "123456789012",
                    "DatabaseName": "shared",
                    "Region": "us-east-1",
                },
            },
            "Tags": {"team": "data"},
        },
    ),
    (
        "glue",
        "CreateTable",
        {
            "DatabaseName": "sales",
            "TableInput": {
                "Name": "orders",
                "LastAccessTime": WHEN,
                "LastAnalyzedTime": datetime(2024, 1, 1, tzinfo=UTC),
                "Retention": 30,
                "StorageDescriptor": {
                    "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "total", "Type": "decimal(10,2)"}],
                    "Location": "s3://bucket/orders/",
                    "Compressed": False,
                    "NumberOfBuckets": -1,
                    "SerdeInfo": {"SerializationLibrary": "parquet", "Parameters": {"a": "1"}},
                    "SortColumns": [{"Column": "id", "SortOrder": 1}],
                    "StoredAsSubDirectories": True,
                },
                "PartitionKeys": [{"Name": "day", "Type": "date"}],
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"EXTERNAL": "TRUE"},
            },
        },
    ),
    (
        "glue",
        "CreateJob",
        {
            "Name": "etl",
            "Role": ROLE_ARN,
            "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/s.py", "PythonVersion": "3"},
            "DefaultArguments": {"--job-language": "python"},
            "MaxCapacity": 2.5,
            "Timeout": 60,
            "NumberOfWorkers": 10,
        },
    ),
    (
        "glue",
        "StartJobRun",
        {"JobName": "etl", "Arguments": {"--day": "2025-03-14", "--x": ""}, "Timeout": 5},
    ),
    ("glue", "DeleteCrawler", {"Name": "crawler"}),
    (
        "glue",
        "UpdateColumnStatisticsForTable",
        {
            "DatabaseName": "d",
            "TableName": "t",
            "ColumnStatisticsList": [
                {
                    "ColumnName": "price",
                    "ColumnType": "decimal(10,2)",
                    "AnalyzedTime": WHEN,
                    "StatisticsData": {
                        "Type": "DECIMAL",
                        "DecimalColumnStatisticsData": {
                            "MinimumValue": {"UnscaledValue": b"\x00\xff\x10", "Scale": 2},
                            "NumberOfNulls": 0,
                            "NumberOfDistinctValues": 12,
                        },
                    },
                }
            ],
        },
    ),
    (
        "emr-serverless",
        "CreateApplication",
        {
            "name": "spark-app",
            "releaseLabel": "emr-7.0.0",
            "type": "SPARK",
            "clientToken": "token-1",
            "initialCapacity": {
                "DRIVER": {"workerCount": 1, "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 GB"}}
            },
            "maximumCapacity": {"cpu": "200 vCPU", "memory": "200 GB"},
            "tags": {"env": "dev"},
            "autoStartConfiguration": {"enabled": True},
        },
    ),
    (
        "emr-serverless",
        "StartJobRun",
        {
            "applicationId": "00f1abcdef123456",
            "clientToken": "token-2",
            "executionRoleArn": ROLE_ARN,
            "jobDriver": {
                "sparkSubmit": {
                    "entryPoint": "s3://b/main.py",
                    "entryPointArguments": ["--in", "s3://b/in"],
                    "sparkSubmitParameters": "--conf spark.executor.cores=1",
                }
            },
            "configurationOverrides": {
                "applicationConfiguration": [
                    {"classification": "spark-defaults", "properties": {"spark.driver.cores": "1"}}
                ]
            },
            "tags": {"run": "nightly"},
            "executionTimeoutMinutes": 30,
            "name": "nightly",
        },
    ),
    ("emr-serverless", "ListApplications", {"states": ["CREATED", "STARTED"], "maxResults": 10}),
    ("emr-serverless", "ListApplications", {}),
    (
        "emr-serverless",
        "ListJobRuns",
        {
            "applicationId": "00f1abcdef123456",
            "createdAtAfter": WHEN,
            "states": ["RUNNING"],
            "nextToken": "a+b/c=",
        },
    ),
    ("emr-serverless", "GetApplication", {"applicationId": "00f1abcdef123456"}),
    (
        "emr-serverless",
        "CancelJobRun",
        {"applicationId": "app", "jobRunId": "run", "shutdownGracePeriodInSeconds": 5},
    ),
    (
        "emr-serverless",
        "GetDashboardForJobRun",
        {"applicationId": "app", "jobRunId": "run", "attempt": 2, "accessSystemProfileLogs": False},
    ),
    ("emr-serverless", "TagResource", {"resourceArn": APP_ARN, "tags": {"a": "1", "b c": "2"}}),
    ("emr-serverless", "UntagResource", {"resourceArn": APP_ARN, "tagKeys": ["a", "b c", "d+e", "ü"]}),
    (
        "emr-serverless",
        "UpdateApplication",
        {"applicationId": "app", "clientToken": "t", "releaseLabel": "emr-7.1.0"},
    ),
    (
        "sts",
        "AssumeRole",
        {
            "RoleArn": ROLE_ARN,
            "RoleSessionName": "alice@example.com",
            "PolicyArns": [
                {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                {"arn": "arn:aws:iam::aws:policy/X"},
            ],
            "Policy": '{"Version": "2012-10-17", "Statement": []}',
            "DurationSeconds": 3600,
            "Tags": [{"Key": "project", "Value": "a b&c=d"}, {"Key": "team", "Value": ""}],
            "TransitiveTagKeys": ["project"],
            "ExternalId": "ext-1",
        },
    ),
    ("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "s1", "TransitiveTagKeys": []}),
    ("sts", "GetCallerIdentity", {}),
    (
        "sts",
        "GetSessionToken",
        {"DurationSeconds": 900, "SerialNumber": "arn:aws:iam::1:mfa/a", "TokenCode": "123456"},
    ),
    (
        "sts",
        "GetFederationToken",
        {"Name": "bob", "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnly"}]},
    ),
    ("sts", "DecodeAuthorizationMessage", {"EncodedMessage": "abc=="}),
    (
        "cloudtrail",
        "LookupEvents",
        {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateDatabase"}],
            "StartTime": datetime(2025, 1, 1, tzinfo=UTC),
            "EndTime": WHEN,
            "MaxResults": 50,
            "NextToken": "tok",
        },
    ),
    ("cloudtrail", "LookupEvents", {}),
    ("cloudtrail", "ListPublicKeys", {"StartTime": datetime(2025, 1, 1, tzinfo=UTC)}),
    (
        "cloudtrail",
        "CreateTrail",
        {
            "Name": "trail",
            "S3BucketName": "bucket",
            "IsMultiRegionTrail": True,
            "EnableLogFileValidation": True,
            "TagsList": [{"Key": "k", "Value": "v"}],
        },
    ),
    (
        "cloudtrail",
        "PutEventSelectors",
        {
            "TrailName": "trail",
            "AdvancedEventSelectors": [
                {
                    "Name": "mgmt",
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"], "NotEquals": ["Data"]}
                    ],
                }
            ],
        },
    ),
    ("cloudtrail", "DescribeTrails", {"trailNameList": ["a", "b"], "includeShadowTrails": False}),
]


@pytest.mark.parametrize(("service", "operation", "params"), CASES, ids=[f"{s}.{o}" for s, o, _ in CASES])
def test_roundtrip_botocore_request_parses_back_to_params(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    req = http_request(service, operation, params)
    op = resolve_operation(entry(service), req)
    assert op.name == operation
    assert parse_request(entry(service), op, req) == params


def test_roundtrip_json_timestamps_are_aware_utc() -> None:
    params = {"DatabaseName": "d", "TableInput": {"Name": "t", "LastAccessTime": WHEN}}
    req = http_request("glue", "CreateTable", params)
    parsed = parse_request(entry("glue"), resolve_operation(entry("glue"), req), req)
    assert parsed["TableInput"]["LastAccessTime"].tzinfo is UTC


_unicode = st.characters(codec="utf-8")  # any character but lone surrogates


@settings(max_examples=60, deadline=None, database=None)
@given(name=st.text(_unicode, min_size=2, max_size=40), value=st.text(_unicode, max_size=40))
def test_roundtrip_any_unicode_survives_every_protocol(name: str, value: str) -> None:
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("glue", "StartJobRun", {"JobName": name, "Arguments": {name: value}}),
        ("emr-serverless", "UntagResource", {"resourceArn": APP_ARN + name, "tagKeys": [name, name + value]}),
        (
            "sts",
            "AssumeRole",
            {"RoleArn": ROLE_ARN, "RoleSessionName": name, "Tags": [{"Key": name, "Value": value}]},
        ),
    ]
    for service, operation, params in cases:
        req = http_request(service, operation, params)
        assert parse_request(entry(service), resolve_operation(entry(service), req), req) == params


@settings(max_examples=40, deadline=None, database=None)
@given(label=st.text(alphabet=string.printable, min_size=1, max_size=30))
def test_roundtrip_uri_labels_are_percent_decoded(label: str) -> None:
    params = {"applicationId": label, "jobRunId": label + "/x"}
    req = http_request("emr-serverless", "GetJobRun", params)
    op = resolve_operation(entry("emr-serverless"), req)
    assert (op.name, parse_request(entry("emr-serverless"), op, req)) == ("GetJobRun", params)
