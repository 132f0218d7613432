"""Several trailkeeper processes on one PostgreSQL database: a fresh database per test, gateways
(`serve --no-delivery`), delivery workers (`trailkeeper deliver`), and pinned client threads."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions
import psycopg
from boto3.session import Session
from botocore.config import Config
from psycopg import sql

from tests.e2e.conftest import Keys
from tests.e2e.server import TrailkeeperServer

__all__ = ["Answered", "PinnedLoad", "Worker", "fresh_database", "gateway"]

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
_NO_ANSWER = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
              botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError)  # fmt: skip


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database with a random name (its URL); dropped, connections and all, afterwards."""
    name = f"tk_failover_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def gateway(data_dir: Path, config: Path, url: str, name: str) -> TrailkeeperServer:
    """A gateway-only node; every node shares ``data_dir`` (the local bucket) and the database."""
    srv = TrailkeeperServer(data_dir, config=config, extra_args=("--journal", url, "--no-delivery"))
    srv.log_path = data_dir.parent / f"{name}.log"
    return srv


class Worker:
    """`trailkeeper deliver` in a subprocess; ``start`` waits for its ready line."""

    def __init__(self, data_dir: Path, config: Path, url: str, name: str) -> None:
        self.args = [sys.executable, "-m", "trailkeeper.cli", "deliver", "--journal", url,
                     "--data-dir", str(data_dir), "--config", str(config)]  # fmt: skip
        self.log_path = data_dir.parent / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 40.0) -> None:
        with self.log_path.open("ab") as log:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while "delivery worker running" not in self.log_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start: {self.log_text()}")
            time.sleep(0.1)

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Answered:
    """Calls that got an answer (success or an AWS error: both are recorded), by requestID."""

    request_ids: list[str] = field(default_factory=list)
    unanswered: int = 0
    moved: int = 0  # clients that moved to another gateway after theirs died
    lock: threading.Lock = field(default_factory=threading.Lock)


class PinnedLoad:
    """Client threads, each pinned to one gateway (the embedded backends are per process), running
    create/read/delete cycles of their own Glue databases plus reads of both services. A client whose
    gateway stops answering moves to the next one and starts a fresh cycle there."""

    def __init__(self, urls: list[str], keys: Keys, *, per_gateway: int) -> None:
        self.urls, self.keys = urls, keys
        self.answered = Answered()
        self.dead: set[int] = set()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i % len(urls),), daemon=True)
            for i in range(per_gateway * len(urls))
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _clients(self, session: Any, index: int) -> tuple[Any, Any]:
        config = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=20)
        made = [
            session.client(
                service,
                endpoint_url=self.urls[index],
                region_name="us-east-1",
                aws_access_key_id=self.keys.access_key_id,
                aws_secret_access_key=self.keys.secret_access_key,
                config=config,
            )
            for service in ("glue", "emr-serverless")
        ]
        return made[0], made[1]

    def _call(self, fn: Any, **kwargs: Any) -> bool | None:
        """True: answered OK; False: answered with an error; None: no answer (the gateway is gone)."""
        try:
            response = fn(**kwargs)
        except _NO_ANSWER:
            with self.answered.lock:
                self.answered.unanswered += 1
            return None
        except botocore.exceptions.ClientError as err:
            request_id = err.response.get("ResponseMetadata", {}).get("RequestId", "")
            with self.answered.lock:
                self.answered.request_ids.append(request_id)
            return False
        with self.answered.lock:
            self.answered.request_ids.append(response["ResponseMetadata"]["RequestId"])
        return True

    def _run(self, index: int) -> None:
        session: Any = Session()
        glue, emr = self._clients(session, index)
        while not self._stop.is_set():
            name = f"db{uuid.uuid4().hex[:12]}"
            steps: list[tuple[Any, dict[str, Any]]] = [
                (glue.create_database, {"DatabaseInput": {"Name": name}}),
                (glue.get_database, {"Name": name}),
                (emr.list_applications, {"maxResults": 5}),
                (glue.get_tables, {"DatabaseName": name}),
                (glue.delete_database, {"Name": name}),
                (glue.get_databases, {"MaxResults": 5}),
            ]
            for fn, kwargs in steps:
                if self._stop.is_set():
                    return
                if self._call(fn, **kwargs) is None:
                    self.dead.add(index)
                    live = [i for i in range(len(self.urls)) if i not in self.dead]
                    if not live:
                        return
                    index = live[(index + 1) % len(live)]
                    glue, emr = self._clients(session, index)
                    with self.answered.lock:
                        self.answered.moved += 1
                    break  # a fresh cycle on the new gateway: this one's database lives on the old
