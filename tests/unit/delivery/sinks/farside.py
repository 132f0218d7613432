"""The far side of the sinks on loopback: moto's server (SNS, SQS, Logs, EventBridge) and a stdlib webhook.

Shared by the sink unit tests and tests/e2e/test_notifications.py. Both servers are real HTTP
servers: moto's in a subprocess, the webhook in a thread of the test process.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from tests.e2e.server import free_port

__all__ = ["MotoServer", "Switch", "Webhook", "WebhookHit", "run_webhook"]


class MotoServer:
    """``python -m moto.server`` on a free port; every resource lives in ``account_id``."""

    def __init__(self, log_dir: Path, account_id: str = "111122223333", port: int | None = None) -> None:
        self.account_id = account_id
        self.port = port or free_port()
        self.log_path = log_dir / f"moto-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        # MOTO_ACCOUNT_ID: moto files every call under this account whatever the access key,
        # so topics and log groups carry the trail account's ARNs.
        env = {**os.environ, "MOTO_ACCOUNT_ID": self.account_id}
        args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto exited: {self.log_path.read_text(errors='replace')}")
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=0.5)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("moto did not start")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def client(self, service: str, region: str = "us-east-1") -> Any:
        session: Any = boto3.session.Session()
        return session.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="AKIAMOTOTEST0000000",
            aws_secret_access_key="moto",
            config=Config(retries={"max_attempts": 1}),
        )

    def queue_for_topic(self, topic_arn: str, name: str) -> str:
        """An SQS queue subscribed to the topic (raw delivery off: the SNS envelope, as SIEMs read it)."""
        sqs, sns = self.client("sqs"), self.client("sns")
        url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        return url

    def queue_for_rule(self, pattern: dict[str, Any], name: str, region: str = "us-east-1") -> str:
        """An SQS queue that an EventBridge rule with ``pattern`` on the default bus targets."""
        sqs, events = self.client("sqs", region), self.client("events", region)
        url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": arn}])
        return url

    def drain_queue(self, url: str, want: int, timeout: float = 10.0, region: str = "us-east-1") -> list[str]:
        """Message bodies, until ``want`` arrived or ``timeout`` passed."""
        sqs = self.client("sqs", region)
        bodies: list[str] = []
        deadline = time.monotonic() + timeout
        while len(bodies) < want and time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in got.get("Messages", []):
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies


@dataclass(frozen=True)
class WebhookHit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request arrived


@dataclass
class Webhook:
    """What the webhook saw, and how it answers (``status``, after ``delay`` seconds)."""

    port: int
    status: int = 200
    delay: float = 0.0
    hits: list[WebhookHit] = field(default_factory=list)
    concurrent: int = 0
    peak_concurrent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[WebhookHit]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.hits) >= count:
                    return list(self.hits)
            time.sleep(0.05)
        with self.lock:
            return list(self.hits)


def _handler(hook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with hook.lock:
                hook.hits.append(WebhookHit(self.path, dict(self.headers.items()), body, time.monotonic()))
                hook.concurrent += 1
                hook.peak_concurrent = max(hook.peak_concurrent, hook.concurrent)
            try:
                time.sleep(hook.delay)
                self.send_response(hook.status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the client gave up (timeout) and closed the connection
            finally:
                with hook.lock:
                    hook.concurrent -= 1

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test asserts on ``hits``."""

    return Handler


@contextmanager
def run_webhook(status: int = 200, delay: float = 0.0) -> Iterator[Webhook]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Webhook(0)))
    hook = Webhook(server.server_address[1], status, delay)
    server.RequestHandlerClass = _handler(hook)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


class Switch:
    """A TCP forwarder on loopback in front of ``target_port``: ``off`` refuses connections (an
    outage, and cuts open ones), ``on`` forwards again."""

    def __init__(self, target_port: int) -> None:
        self.port, self._target = free_port(), target_port
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def off(self) -> None:
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
                return  # switched off
            upstream = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
