"""Restarts (clean and kill -9) keep every record and every temporary credential; the demo store works."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.e2e.conftest import ACCOUNT_A, ALICE, Keys, find_event, lookup_all, make_client, write_config
from tests.e2e.server import TrailkeeperServer

DEMO_USER = Keys("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
DEMO_ROOT = Keys("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")


def test_restart_and_kill_keep_records_and_temporary_credentials(tmp_path: Path) -> None:
    srv = TrailkeeperServer(tmp_path / "data", config=write_config(tmp_path))
    srv.start()
    try:
        creds = make_client(srv.url, "sts", ALICE).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/Admin", RoleSessionName="survivor"
        )["Credentials"]
        temp = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        glue = make_client(srv.url, "glue", ALICE)
        acked = [
            glue.create_database(DatabaseInput={"Name": f"r{uuid.uuid4().hex[:8]}"})["ResponseMetadata"][
                "RequestId"
            ]
            for _ in range(20)
        ]
        srv.restart()
        acked.append(make_client(srv.url, "glue", temp).get_databases()["ResponseMetadata"]["RequestId"])
        srv.restart(kill=True)
        ct = make_client(srv.url, "cloudtrail", ALICE)
        stored = {json.loads(e["CloudTrailEvent"])["requestID"] for e in lookup_all(ct)}
        assert set(acked) <= stored
        # the temporary credentials minted before both restarts still verify
        who = make_client(srv.url, "sts", temp).get_caller_identity()
        assert who["Arn"] == f"arn:aws:sts::{ACCOUNT_A}:assumed-role/Admin/survivor"
        record = find_event(ct, acked[-1], "GetDatabases")
        assert record["userIdentity"]["type"] == "AssumedRole"
    finally:
        srv.stop()


def test_demo_identities_work_without_config(tmp_path: Path) -> None:
    srv = TrailkeeperServer(tmp_path / "data")
    srv.start()
    try:
        glue = make_client(srv.url, "glue", DEMO_USER)
        resp = glue.get_databases()
        record = find_event(
            make_client(srv.url, "cloudtrail", DEMO_USER),
            resp["ResponseMetadata"]["RequestId"],
            "GetDatabases",
        )
        assert record["userIdentity"]["arn"] == "arn:aws:iam::123456789012:user/johndoe"
        assert record["userIdentity"]["accessKeyId"] == "AKIAIOSFODNN7EXAMPLE"
        root = make_client(srv.url, "sts", DEMO_ROOT).get_caller_identity()
        assert root["Arn"] == "arn:aws:iam::123456789012:root"
        role = make_client(srv.url, "sts", DEMO_USER).assume_role(
            RoleArn="arn:aws:iam::123456789012:role/Admin", RoleSessionName="admin"
        )
        assert role["AssumedRoleUser"]["Arn"] == "arn:aws:sts::123456789012:assumed-role/Admin/admin"
    finally:
        srv.stop()
