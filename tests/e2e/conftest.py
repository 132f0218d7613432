"""Fixtures: one real server per test session (two accounts, every identity type) and real clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.e2e.server import TrailkeeperServer

ACCOUNT_A = "111122223333"
ACCOUNT_B = "444455556666"


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


ROOT_A = Keys("AKIAROOTA00000000001", "rootAsecretrootAsecretrootAsecret0001")
ALICE = Keys("AKIAALICE0000000001X", "aliceSecretaliceSecretaliceSecret00001")
BOB = Keys("AKIABOB0000000000001", "bobSecretbobSecretbobSecretbobSecret001")

CONFIG = f"""
[server]
retention_days = 90

[[account]]
id = "{ACCOUNT_A}"
root = {{ access_key_id = "{ROOT_A.access_key_id}", secret_access_key = "{ROOT_A.secret_access_key}" }}

[[account.user]]
name = "alice"
access_keys = [{{ access_key_id = "{ALICE.access_key_id}", secret_access_key = "{ALICE.secret_access_key}" }}]

[[account.role]]
name = "Admin"
trusted = ["arn:aws:iam::{ACCOUNT_A}:user/alice"]

[[account]]
id = "{ACCOUNT_B}"

[[account.user]]
name = "bob"
access_keys = [{{ access_key_id = "{BOB.access_key_id}", secret_access_key = "{BOB.secret_access_key}" }}]
"""


def write_config(directory: Path) -> Path:
    path = directory / "trailkeeper.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrailkeeperServer]:
    root = tmp_path_factory.mktemp("tk")
    srv = TrailkeeperServer(root / "data", config=write_config(root))
    srv.start()
    yield srv
    srv.stop()


ClientFactory = Callable[..., Any]


def make_client(url: str, service: str, keys: Keys, region: str = "us-east-1") -> Any:
    session: Any = boto3.session.Session()  # any service name, so not the stubs' Literal overloads
    return session.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


@pytest.fixture
def client(server: TrailkeeperServer) -> ClientFactory:
    def factory(service: str, keys: Keys = ALICE, region: str = "us-east-1") -> Any:
        return make_client(server.url, service, keys, region)

    return factory


def lookup_all(ct: Any, **kwargs: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in ct.get_paginator("lookup_events").paginate(**kwargs):
        events.extend(page["Events"])
    return events


def find_event(ct: Any, request_id: str, event_name: str, timeout: float = 1.0) -> dict[str, Any]:
    """The record of one call, found by EventName and matched on requestID (visible within 1 s)."""
    deadline = time.monotonic() + timeout
    while True:
        for ev in lookup_all(
            ct, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}]
        ):
            record: dict[str, Any] = json.loads(ev["CloudTrailEvent"])
            if record["requestID"] == request_id:
                return record
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event_name} record with requestID {request_id}")
        time.sleep(0.05)


def aws_cli(url: str, keys: Keys, *args: str, region: str = "us-east-1") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    if keys.session_token:
        env["AWS_SESSION_TOKEN"] = keys.session_token
    cli = [sys.executable, "-m", "awscli", "--endpoint-url", url, "--output", "json", *args]
    return subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60, check=False)
