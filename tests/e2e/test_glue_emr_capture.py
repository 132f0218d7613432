"""Glue and EMR Serverless calls of every kind, made with boto3, land in history as AWS writes them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import botocore.exceptions
import pytest

from tests.e2e.conftest import ACCOUNT_A, ALICE, ClientFactory, find_event

# The order AWS writes top-level keys in (real delivered files; optional keys where they apply).
AWS_KEY_ORDER = [
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
]


def _name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def _record(
    client: ClientFactory, resp: Mapping[str, Any], event_name: str, region: str = "us-east-1"
) -> dict[str, Any]:
    return find_event(client("cloudtrail", ALICE, region), resp["ResponseMetadata"]["RequestId"], event_name)


def _assert_envelope(record: dict[str, Any], source: str, name: str, *, read_only: bool, region: str) -> None:
    keys = list(record)
    assert keys == [k for k in AWS_KEY_ORDER if k in record], keys
    assert record["eventVersion"] == "1.11"
    assert record["eventSource"] == source
    assert record["eventName"] == name
    assert record["awsRegion"] == region
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in record["userAgent"] or "botocore" in record["userAgent"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["eventTime"])
    assert re.fullmatch(r"[0-9a-f-]{36}", record["eventID"])
    assert record["readOnly"] is read_only
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True
    assert record["recipientAccountId"] == ACCOUNT_A
    assert record["eventCategory"] == "Management"


def test_glue_database_lifecycle_records_create_read_update_delete(client: ClientFactory) -> None:
    glue = client("glue", region="us-west-2")
    db = _name()
    created = glue.create_database(DatabaseInput={"Name": db, "Description": "first"})
    rec = _record(client, created, "CreateDatabase", "us-west-2")
    _assert_envelope(rec, "glue.amazonaws.com", "CreateDatabase", read_only=False, region="us-west-2")
    assert rec["requestParameters"] == {"databaseInput": {"name": db, "description": "first"}}
    assert rec["resources"][0]["type"] == "AWS::Glue::Database"
    assert rec["resources"][0]["ARN"] == f"arn:aws:glue:us-west-2:{ACCOUNT_A}:database/{db}"

    got = glue.get_database(Name=db)
    assert got["Database"]["Name"] == db
    rec = _record(client, got, "GetDatabase", "us-west-2")
    _assert_envelope(rec, "glue.amazonaws.com", "GetDatabase", read_only=True, region="us-west-2")
    assert rec["requestParameters"] == {"name": db}
    assert rec["responseElements"] is None  # the Glue read APIs are logged with a null response

    updated = glue.update_database(Name=db, DatabaseInput={"Name": db, "Description": "second"})
    rec = _record(client, updated, "UpdateDatabase", "us-west-2")
    assert rec["readOnly"] is False
    assert rec["requestParameters"]["databaseInput"]["description"] == "second"

    deleted = glue.delete_database(Name=db)
    rec = _record(client, deleted, "DeleteDatabase", "us-west-2")
    assert rec["requestParameters"] == {"name": db}
    assert rec["readOnly"] is False


def test_glue_crawler_delete_record_matches_seed_shape(client: ClientFactory) -> None:
    glue = client("glue")
    name = _name()
    glue.create_crawler(
        Name=name, Role="arn:aws:iam::111122223333:role/Admin", Targets={"S3Targets": [{"Path": "s3://b/p"}]}
    )
    resp = glue.delete_crawler(Name=name)
    rec = _record(client, resp, "DeleteCrawler")
    # The seed's DeleteCrawler sample: requestParameters {"name": …}, responseElements null.
    assert rec["requestParameters"] == {"name": name}
    assert rec["responseElements"] is None
    assert rec["requestID"] == resp["ResponseMetadata"]["RequestId"]


def test_glue_failed_call_records_error_code_and_message(client: ClientFactory) -> None:
    glue = client("glue")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        glue.get_table(DatabaseName="missing-db", Name="missing-table")
    err = info.value.response
    assert err["Error"]["Code"] == "EntityNotFoundException"
    rec = _record(client, err, "GetTable")
    assert rec["errorCode"] == "EntityNotFoundException"
    assert rec["errorMessage"] == err["Error"]["Message"]
    assert rec["responseElements"] is None
    assert rec["requestParameters"] == {"databaseName": "missing-db", "name": "missing-table"}


def test_glue_operation_missing_from_backend_is_answered_and_recorded(client: ClientFactory) -> None:
    glue = client("glue")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        glue.create_blueprint(Name=_name(), BlueprintLocation="s3://bucket/bp.zip")
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "UnsupportedOperationException"
    rec = _record(client, err, "CreateBlueprint")
    assert rec["errorCode"] == "UnsupportedOperationException"


def test_emr_serverless_application_lifecycle_records_responses(client: ClientFactory) -> None:
    emr = client("emr-serverless", region="us-west-2")
    created = emr.create_application(
        name="my-serverless-application",
        releaseLabel="emr-6.6.0",
        type="SPARK",
        clientToken=str(uuid.uuid4()),
    )
    app_id = created["applicationId"]
    rec = _record(client, created, "CreateApplication", "us-west-2")
    _assert_envelope(
        rec, "emr-serverless.amazonaws.com", "CreateApplication", read_only=False, region="us-west-2"
    )
    assert rec["requestParameters"]["name"] == "my-serverless-application"
    assert rec["requestParameters"]["type"] == "SPARK"
    assert rec["responseElements"]["applicationId"] == app_id
    assert rec["responseElements"]["arn"] == created["arn"]
    assert rec["resources"][0]["type"] == "AWS::EMRServerless::Application"
    assert rec["resources"][0]["ARN"].endswith(f"/applications/{app_id}")

    got = emr.get_application(applicationId=app_id)
    rec = _record(client, got, "GetApplication", "us-west-2")
    assert rec["readOnly"] is True
    assert rec["requestParameters"] == {"applicationId": app_id}

    emr.stop_application(applicationId=app_id)  # the embedded backend starts applications at once
    updated = emr.update_application(
        applicationId=app_id,
        clientToken=str(uuid.uuid4()),
        maximumCapacity={"cpu": "4 vCPU", "memory": "16 GB"},
    )
    rec = _record(client, updated, "UpdateApplication", "us-west-2")
    assert rec["readOnly"] is False
    assert rec["requestParameters"]["maximumCapacity"] == {"cpu": "4 vCPU", "memory": "16 GB"}

    listed = emr.list_applications(states=["CREATED", "STARTED"])
    rec = _record(client, listed, "ListApplications", "us-west-2")
    assert rec["readOnly"] is True
    assert rec["requestParameters"] == {"states": ["CREATED", "STARTED"]}

    deleted = emr.delete_application(applicationId=app_id)
    rec = _record(client, deleted, "DeleteApplication", "us-west-2")
    assert rec["readOnly"] is False
    assert rec["requestParameters"] == {"applicationId": app_id}


def test_emr_serverless_job_run_and_failure_are_recorded(client: ClientFactory) -> None:
    emr = client("emr-serverless")
    app_id = emr.create_application(name="jobs", releaseLabel="emr-6.6.0", type="SPARK")["applicationId"]
    run = emr.start_job_run(
        applicationId=app_id,
        executionRoleArn="arn:aws:iam::111122223333:role/Admin",
        jobDriver={"sparkSubmit": {"entryPoint": "s3://b/job.py"}},
    )
    rec = _record(client, run, "StartJobRun")
    assert rec["responseElements"]["jobRunId"] == run["jobRunId"]
    assert (
        rec["requestParameters"]["jobDriver"]["sparkSubmit"]["entryPoint"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    )
    cancelled = emr.cancel_job_run(applicationId=app_id, jobRunId=run["jobRunId"])
    assert _record(client, cancelled, "CancelJobRun")["readOnly"] is False
    with pytest.raises(botocore.exceptions.ClientError) as info:
        emr.get_application(applicationId="00000000000000000")
    err = info.value.response
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    rec = _record(client, err, "GetApplication")
    assert rec["errorCode"] == "ResourceNotFoundException"
    assert rec["errorMessage"] == err["Error"]["Message"]


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        (
            "list_tags_for_resource",
            {"resourceArn": "arn:aws:emr-serverless:us-east-1:111122223333:/applications/x"},
        ),
        (
            "tag_resource",
            {
                "resourceArn": "arn:aws:emr-serverless:us-east-1:111122223333:/applications/x",
                "tags": {"team": "data"},
            },
        ),
    ],
)
def test_emr_serverless_operation_missing_from_backend_is_recorded(
    client: ClientFactory, operation: str, kwargs: dict[str, Any]
) -> None:
    emr = client("emr-serverless")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        getattr(emr, operation)(**kwargs)
    err = info.value.response
    assert err["Error"]["Code"] == "UnsupportedOperationException"
    event_name = emr.meta.method_to_api_mapping[operation]
    rec = _record(client, err, event_name)
    assert rec["errorCode"] == "UnsupportedOperationException"
    assert rec["requestParameters"]["resourceArn"] == kwargs["resourceArn"]


def test_presigned_url_is_verified_and_recorded(client: ClientFactory) -> None:
    import httpx

    emr = client("emr-serverless")
    url = emr.generate_presigned_url("list_applications", ExpiresIn=60)
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200
    assert "applications" in resp.json()
    rec = _record(
        client, {"ResponseMetadata": {"RequestId": resp.headers["x-amzn-requestid"]}}, "ListApplications"
    )
    assert rec["userIdentity"]["userName"] == "alice"
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    refused = httpx.get(tampered, timeout=30)
    assert refused.status_code in (400, 403)
    assert refused.headers["x-amzn-errortype"].startswith("InvalidSignatureException")


def test_forwarded_for_from_an_untrusted_peer_is_not_the_source_address(client: ClientFactory) -> None:
    # No trusted_proxies in the config: X-Forwarded-For from the loopback peer must not be believed
    # (uvicorn's own proxy-headers middleware would have trusted any 127.0.0.1 peer).
    glue = client("glue")

    def forwarded(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-For"] = "203.0.113.9"
        request.headers["X-Forwarded-Proto"] = "https"

    glue.meta.events.register("before-send.glue.GetDatabases", forwarded)
    resp = glue.get_databases()
    rec = _record(client, resp, "GetDatabases")
    assert rec["sourceIPAddress"] == "127.0.0.1"
    assert "tlsDetails" not in rec
