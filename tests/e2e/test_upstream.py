"""`--upstream glue=URL` forwards Glue to another AWS-compatible endpoint; calls are still recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from tests.e2e.conftest import ALICE, find_event, make_client, write_config
from tests.e2e.moto_server import MotoServer
from tests.e2e.server import TrailkeeperServer


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_upstream_receives_the_call_and_it_is_recorded(tmp_path: Path, moto: MotoServer) -> None:
    srv = TrailkeeperServer(
        tmp_path / "data", config=write_config(tmp_path), extra_args=("--upstream", f"glue={moto.url}")
    )
    srv.start()
    try:
        glue = make_client(srv.url, "glue", ALICE)
        created = glue.create_database(DatabaseInput={"Name": "forwarded"})
        direct = boto3.session.Session().client(
            "glue",
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id="AKIAANYTHING00000000",
            aws_secret_access_key="x",
            config=Config(retries={"max_attempts": 1}),
        )
        names = [d["Name"] for d in direct.get_databases()["DatabaseList"]]
        assert "forwarded" in names  # the upstream executed the call, not the embedded backend
        record = find_event(
            make_client(srv.url, "cloudtrail", ALICE),
            created["ResponseMetadata"]["RequestId"],
            "CreateDatabase",
        )
        assert record["requestParameters"] == {"databaseInput": {"name": "forwarded"}}
        with pytest.raises(botocore.exceptions.ClientError) as info:
            glue.get_database(Name="absent")
        assert info.value.response["Error"]["Code"] == "EntityNotFoundException"
        moto.stop()
        with pytest.raises(botocore.exceptions.ClientError) as down:
            glue.get_databases()
        assert down.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        failed = find_event(
            make_client(srv.url, "cloudtrail", ALICE),
            down.value.response["ResponseMetadata"]["RequestId"],
            "GetDatabases",
        )
        assert failed["errorCode"] == "ServiceUnavailableException"
    finally:
        srv.stop()
