"""Helpers for the delivery end-to-end tests: moto's S3 server, an on/off TCP proxy, reading log archives."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.e2e.conftest import ACCOUNT_A, ACCOUNT_B, CONFIG
from tests.e2e.server import free_port

__all__ = [
    "ORG_ID",
    "Archive",
    "MotoS3",
    "TcpProxy",
    "delivery_config",
    "key_pattern",
    "request_ids",
    "wait_for",
]

ORG_ID = "o-exampleorgid"
_T = TypeVar("_T")


def delivery_config(
    directory: Path, *, remote_url: str | None = None, max_file_bytes: int | None = None
) -> Path:
    """The shared test accounts plus 1 s delivery, a local bucket B may write to, and an organization."""
    text = CONFIG + (
        f"\n[delivery]\ninterval_seconds = 1\n"
        f'\n[[bucket]]\nname = "audit-logs"\naccount = "{ACCOUNT_A}"\nwriters = ["{ACCOUNT_B}"]\n'
        f'\n[organization]\nid = "{ORG_ID}"\nmanagement_account = "{ACCOUNT_A}"\nmembers = ["{ACCOUNT_B}"]\n'
    )
    if max_file_bytes is not None:
        text = text.replace(
            "interval_seconds = 1\n", f"interval_seconds = 1\nmax_file_bytes = {max_file_bytes}\n"
        )
    if remote_url is not None:
        text += (
            f'\n[[bucket]]\nname = "remote-logs"\nendpoint_url = "{remote_url}"\nregion = "us-east-1"\n'
            f'account = "{ACCOUNT_A}"\naccess_key_id = "testing"\nsecret_access_key = "testing"\n'
        )
    path = directory / "trailkeeper.toml"
    path.write_text(text)
    return path


def key_pattern(prefix: str, *, org: bool = False) -> re.Pattern[str]:
    """AWS's log file key: date folders and name stamp agree, the name repeats account and region."""
    head = f"{re.escape(prefix)}/AWSLogs/" + (f"{ORG_ID}/" if org else "")
    name = r"(?P=acct)_CloudTrail_(?P=region)_(?P=y)(?P=m)(?P=d)T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz"
    return re.compile(
        rf"{head}(?P<acct>\d{{12}})/CloudTrail/(?P<region>[a-z0-9-]+)/(?P<y>\d{{4}})/(?P<m>\d\d)/(?P<d>\d\d)/{name}"
    )


class Archive:
    """A trail's log files under ``prefix``, read like any outside S3 reader would; each key fetched once.

    A delivered key never changes content (a replayed batch rewrites the same bytes), so new keys
    are all a later look needs to fetch.
    """

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3, self._bucket, self._prefix = s3, bucket, prefix
        self.files: dict[str, list[dict[str, Any]]] = {}

    def refresh(self) -> dict[str, list[dict[str, Any]]]:
        """key -> its records, for every file delivered so far."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=f"{self._prefix}/"
        )
        for obj in (obj for page in pages for obj in page.get("Contents", [])):
            if obj["Key"] not in self.files:
                body = self._s3.get_object(Bucket=self._bucket, Key=obj["Key"])["Body"].read()
                self.files[obj["Key"]] = json.loads(gzip.decompress(body))["Records"]
        return self.files


def request_ids(files: dict[str, list[dict[str, Any]]]) -> Counter[str]:
    """How many times each requestID occurs across all files (1 = delivered exactly once)."""
    return Counter(record["requestID"] for records in files.values() for record in records)


def wait_for(probe: Callable[[], _T | None], timeout: float = 20.0, every: float = 0.25) -> _T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if result := probe():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(every)


class MotoS3:
    """moto's server in a subprocess: a real S3 HTTP endpoint on loopback."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self._log_path.open("ab")
        args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=30, every=0.1)

    def _ready(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"moto exited: {self._log_path.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/moto-api/", timeout=1.0).status_code < 500
        return False

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=15)
            self._proc = None


class TcpProxy:
    """Forwards a loopback port to another; ``stop`` refuses connections (an outage), ``start`` heals."""

    def __init__(self, target_port: int) -> None:
        self.port, self._target = free_port(), target_port
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            upstream = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
