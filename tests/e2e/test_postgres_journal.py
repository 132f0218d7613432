"""`serve --journal postgresql://…`: real servers on one PostgreSQL schema, real boto3 clients, restarts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ACCOUNT_A, ALICE, BOB, Keys, find_event, lookup_all, make_client, write_config
from tests.e2e.server import TrailkeeperServer, free_port
from tests.unit.journal.support import Backend, backend_of


@pytest.fixture
def schema(tmp_path: Path) -> Iterator[Backend]:
    with backend_of("postgres", tmp_path) as store:  # its own schema, dropped afterwards
        yield store


def _server(tmp_path: Path, name: str, url: str) -> TrailkeeperServer:
    return TrailkeeperServer(tmp_path / name, config=write_config(tmp_path), extra_args=("--journal", url))


def _request_ids(url: str, keys: Keys) -> set[str]:
    ct = make_client(url, "cloudtrail", keys)
    return {json.loads(e["CloudTrailEvent"])["requestID"] for e in lookup_all(ct)}


def test_server_on_postgres_records_looks_up_and_keeps_everything_across_restarts(
    tmp_path: Path, schema: Backend
) -> None:
    srv = _server(tmp_path, "data", schema.location)
    srv.start()
    try:
        creds = make_client(srv.url, "sts", ALICE).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/Admin", RoleSessionName="pg"
        )["Credentials"]
        temp = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        glue = make_client(srv.url, "glue", ALICE)
        names = [f"pg{uuid.uuid4().hex[:8]}" for _ in range(12)]
        acked = [
            glue.create_database(DatabaseInput={"Name": n})["ResponseMetadata"]["RequestId"] for n in names
        ]
        ct = make_client(srv.url, "cloudtrail", ALICE)
        record = find_event(ct, acked[0], "CreateDatabase")
        assert record["requestParameters"] == {"databaseInput": {"name": names[0]}}
        by_name = ct.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": names[3]}]
        )["Events"]
        assert [json.loads(e["CloudTrailEvent"])["requestID"] for e in by_name] == [acked[3]]

        srv.restart()
        acked.append(make_client(srv.url, "glue", temp).get_databases()["ResponseMetadata"]["RequestId"])
        srv.restart(kill=True)
        assert set(acked) <= _request_ids(srv.url, ALICE)
        # the session key lives in the database: credentials minted before both restarts verify
        who = make_client(srv.url, "sts", temp).get_caller_identity()
        assert who["Arn"] == f"arn:aws:sts::{ACCOUNT_A}:assumed-role/Admin/pg"
        assert not _request_ids(srv.url, BOB) & set(acked)  # another account sees none of them
    finally:
        srv.stop()


def test_two_servers_on_one_schema_share_history_and_credentials(tmp_path: Path, schema: Backend) -> None:
    one, two = _server(tmp_path, "one", schema.location), _server(tmp_path, "two", schema.location)
    one.start()
    two.start()
    try:
        creds = make_client(one.url, "sts", ALICE).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/Admin", RoleSessionName="shared"
        )["Credentials"]
        temp = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        on_one = make_client(one.url, "glue", ALICE).get_databases()["ResponseMetadata"]["RequestId"]
        on_two = make_client(two.url, "glue", temp).get_databases()["ResponseMetadata"]["RequestId"]
        for srv in (one, two):
            assert {on_one, on_two} <= _request_ids(srv.url, ALICE)
        # a NextToken made by one node pages on the other: the token key is shared too
        first = make_client(one.url, "cloudtrail", ALICE).lookup_events(MaxResults=1)
        rest = make_client(two.url, "cloudtrail", ALICE).lookup_events(
            MaxResults=1, NextToken=first["NextToken"]
        )
        assert rest["Events"][0]["EventId"] != first["Events"][0]["EventId"]
    finally:
        one.stop()
        two.stop()


def test_server_refuses_to_start_when_postgres_is_unreachable_without_echoing_the_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://trail:hunter2@127.0.0.1:{free_port()}/test"
    srv = _server(tmp_path, "data", url)
    with pytest.raises(RuntimeError, match="server exited early") as info:
        srv.start(timeout=20)
    log = srv.log_text()
    assert "cannot open journal postgresql://trail:***@127.0.0.1" in log
    assert "hunter2" not in log
    assert "hunter2" not in str(info.value)
