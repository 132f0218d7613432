"""Fixtures for the storage tests: one moto S3 server per session, a boto3 client on it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.unit.storage.support import MotoS3


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    server = MotoS3(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_client(moto_s3: MotoS3) -> Any:
    session: Any = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=moto_s3.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAMOTO000000000001",
        aws_secret_access_key="motoSecretmotoSecretmotoSecret000001",
    )
