"""Secrets put into calls appear in no stored byte and no log line (canary values)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ACCOUNT_A, ALICE, ClientFactory, Keys, find_event
from tests.e2e.server import TrailkeeperServer


def _capture_auth(client: Any, seen: list[str]) -> None:
    def hook(request: Any, **_: Any) -> None:
        for header in ("Authorization", "X-Amz-Security-Token"):
            if header in request.headers:
                value = request.headers[header]
                seen.append(value.decode() if isinstance(value, bytes) else value)

    client.meta.events.register("before-send", hook)


def _stored_bytes(server: TrailkeeperServer) -> bytes:
    blobs = [p.read_bytes() for p in Path(server.data_dir).rglob("*") if p.is_file()]
    return b"".join(blobs) + server.log_text().encode()


def test_canaries_never_reach_disk_or_logs(client: ClientFactory, server: TrailkeeperServer) -> None:
    canary = f"CANARY{uuid.uuid4().hex}"
    sent_auth: list[str] = []

    glue = client("glue")
    _capture_auth(glue, sent_auth)
    conn = f"conn-{uuid.uuid4().hex[:8]}"
    resp = glue.create_connection(
        ConnectionInput={
            "Name": conn,
            "ConnectionType": "JDBC",
            "ConnectionProperties": {"USERNAME": "admin", "PASSWORD": f"{canary}-connprop"},
            "PhysicalConnectionRequirements": {
                "SubnetId": "subnet-323232",
                "AvailabilityZone": "us-east-1a",
                "SecurityGroupIdList": ["sg-12121212"],
            },
            "AuthenticationConfiguration": {
                "AuthenticationType": "BASIC",
                "BasicAuthenticationCredentials": {"Username": "u", "Password": f"{canary}-sensitive"},
            },
        }
    )
    record = find_event(client("cloudtrail"), resp["ResponseMetadata"]["RequestId"], "CreateConnection")
    conn_input = record["requestParameters"]["connectionInput"]
    # As in the Glue seed's CreateConnection sample: ConnectionProperties is left out entirely.
    assert "connectionProperties" not in conn_input
    assert conn_input["physicalConnectionRequirements"] == {
        "subnetId": "subnet-323232",
        "availabilityZone": "us-east-1a",
        "securityGroupIdList": ["sg-12121212"],
    }
    creds = conn_input["authenticationConfiguration"]["basicAuthenticationCredentials"]
    assert creds["password"] == "HIDDEN_DUE_TO_SECURITY_REASONS"

    emr = client("emr-serverless")
    _capture_auth(emr, sent_auth)
    app = emr.create_application(name="canary", releaseLabel="emr-6.6.0", type="SPARK")["applicationId"]
    emr.start_job_run(
        applicationId=app,
        executionRoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/Admin",
        jobDriver={
            "sparkSubmit": {
                "entryPoint": "s3://b/j.py",
                "entryPointArguments": [f"{canary}-arg"],
                "sparkSubmitParameters": f"--conf x={canary}-param",
            }
        },
    )

    temp = client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/Admin", RoleSessionName="canary")
    c = temp["Credentials"]
    temp_keys = Keys(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    temp_glue = client("glue", temp_keys)
    _capture_auth(temp_glue, sent_auth)
    temp_glue.get_databases()
    find_event(client("cloudtrail"), resp["ResponseMetadata"]["RequestId"], "CreateConnection")

    stored = _stored_bytes(server)
    assert stored, "the data directory should hold the journal"
    for secret in (
        f"{canary}-connprop",
        f"{canary}-sensitive",
        f"{canary}-arg",
        f"{canary}-param",
        ALICE.secret_access_key,
        c["SecretAccessKey"],
        c["SessionToken"],
    ):
        assert secret.encode() not in stored, f"secret {secret[:12]}… found in stored bytes"
    assert len(sent_auth) >= 3
    for header in sent_auth:
        signature = header.rpartition("Signature=")[2] if "Signature=" in header else header
        assert signature.encode() not in stored
