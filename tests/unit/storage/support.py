"""Shared by the storage tests: a moto S3 server in a subprocess, and the accounts the buckets belong to."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.server import free_port
from trailkeeper.config import BucketConfig

__all__ = ["ACCOUNT", "OTHER_ACCOUNT", "MotoS3", "moto_bucket_config"]

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"


class MotoS3:
    """``python -m moto.server`` on a free loopback port: a real S3 endpoint over HTTP."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto exited early: {self._log.read_text(errors='replace')}")
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("moto did not start")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        self._proc = None


def moto_bucket_config(url: str, name: str, account: str = ACCOUNT) -> BucketConfig:
    """A [[bucket]] on the moto endpoint (moto accepts any credentials)."""
    return BucketConfig(
        name=name,
        endpoint_url=url,
        region="us-east-1",
        account=account,
        access_key_id="AKIAMOTO000000000001",
        secret_access_key="motoSecretmotoSecretmotoSecret000001",
    )
