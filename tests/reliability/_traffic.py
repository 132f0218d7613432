"""Mixed Glue / EMR Serverless traffic from concurrent boto3 clients: a server URL in, a Tally of answers out.

Each client repeats one cycle of reads and writes whose state stays bounded (it deletes what it
creates), so the same traffic serves a crash loop and a 30-minute soak. Every answer is filed by
requestID: acknowledged successes, answered errors (code, status), and calls that got no answer.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
from boto3.session import Session
from botocore.config import Config

from tests.e2e.conftest import Keys

__all__ = ["Answer", "Tally", "Traffic", "percentile"]

# A call the server never answered (killed, refused connection, reset) is not an answer.
_NO_ANSWER = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectTimeoutError,
)
_EMR_RELEASE = "emr-6.6.0"


@dataclass(frozen=True, slots=True)
class Answer:
    operation: str
    request_id: str
    status: int
    code: str  # "" for a success
    subject: str  # the resource name a create named ("" otherwise)


@dataclass
class Tally:
    """Everything the clients saw; thread-safe appends."""

    answers: list[Answer] = field(default_factory=list)
    unanswered: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, answered calls only
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self) -> list[Answer]:
        return [a for a in self.answers if not a.code]

    def errors(self) -> list[Answer]:
        return [a for a in self.answers if a.code]


def _idle(minutes: int) -> dict[str, Any]:
    return {"autoStopConfiguration": {"enabled": True, "idleTimeoutMinutes": minutes}}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _client(session: Any, url: str, service: str, keys: Keys) -> Any:
    # One Session for all clients: it loads each service model once (a new Session per client
    # would parse the models again, ~0.3 s per client). Clients are then used from one thread each.
    return session.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=20),
    )


class _Client:
    """One simulated user: its own clients, one database at a time, a shared EMR application."""

    def __init__(self, session: Any, url: str, keys: Keys, app_id: str, tally: Tally) -> None:
        self.glue = _client(session, url, "glue", keys)
        self.emr = _client(session, url, "emr-serverless", keys)
        self.app_id, self.tally = app_id, tally

    def call(self, fn: Callable[..., Any], subject: str = "", **kwargs: Any) -> bool:
        started = time.perf_counter()
        try:
            response = fn(**kwargs)
        except _NO_ANSWER:
            with self.tally.lock:
                self.tally.unanswered += 1
            return False
        except botocore.exceptions.ClientError as err:
            meta = err.response.get("ResponseMetadata", {})
            code = err.response.get("Error", {}).get("Code", "?")
            answer = Answer(
                fn.__name__, meta.get("RequestId", ""), meta.get("HTTPStatusCode", 0), code, subject
            )
            self._file(answer, started)
            return False
        meta = response["ResponseMetadata"]
        self._file(Answer(fn.__name__, meta["RequestId"], meta["HTTPStatusCode"], "", subject), started)
        return True

    def _file(self, answer: Answer, started: float) -> None:
        elapsed = time.perf_counter() - started
        with self.tally.lock:
            self.tally.answers.append(answer)
            self.tally.latencies.append(elapsed)

    def cycle(self, pace: Callable[[], bool]) -> None:
        """Eleven calls, 6 writes and 5 reads; ``pace`` waits for the next slot, False = stop."""
        name = f"db{uuid.uuid4().hex[:12]}"
        steps: list[tuple[Callable[..., Any], str, dict[str, Any]]] = [
            (self.glue.create_database, name, {"DatabaseInput": {"Name": name}}),
            (self.glue.get_database, "", {"Name": name}),
            (self.emr.get_application, "", {"applicationId": self.app_id}),
            (self.glue.create_table, "", {"DatabaseName": name, "TableInput": {"Name": "t1"}}),
            (self.emr.update_application, "", {"applicationId": self.app_id, **_idle(15)}),
            (self.glue.get_tables, "", {"DatabaseName": name}),
            (self.emr.update_application, "", {"applicationId": self.app_id, **_idle(30)}),
            (self.glue.delete_table, "", {"DatabaseName": name, "Name": "t1"}),
            (self.emr.list_applications, "", {"maxResults": 5}),
            (self.glue.delete_database, "", {"Name": name}),
            (self.glue.get_databases, "", {"MaxResults": 5}),
        ]
        for fn, subject, kwargs in steps:
            if not pace():
                return
            created = self.call(fn, subject, **kwargs)
            if subject and not created:
                return  # the database does not exist: the rest of the cycle has nothing to act on


class Traffic:
    """``clients`` threads running cycles until stopped, each at ``rate / clients`` calls per second.

    Build it once (boto3 clients are slow to build: they are built here, in one thread, and
    reused), then per run: ``prepare`` (the EMR application, new after a restart), ``start``,
    ``stop``; ``tally`` holds the current run's answers.
    """

    def __init__(self, url: str, keys: Keys, *, clients: int, rate: float | None = None) -> None:
        self.url, self.keys, self.clients, self.rate = url, keys, clients, rate
        self.tally = Tally()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        session: Any = Session()  # Any: any service name, not the stubs' Literal overloads
        self._emr = _client(session, url, "emr-serverless", keys)
        self._clients = [_Client(session, url, keys, "", self.tally) for _ in range(clients)]

    def prepare(self) -> None:
        """A new tally and the EMR application every client updates (moto starts it STARTED; updates
        need it STOPPED); each client makes a first call, so the run measures warm clients."""
        self.tally = Tally()
        name = f"app{uuid.uuid4().hex[:6]}"
        app_id = self._emr.create_application(name=name, releaseLabel=_EMR_RELEASE, type="SPARK")[
            "applicationId"
        ]
        self._emr.stop_application(applicationId=app_id)
        for client in self._clients:
            client.app_id, client.tally = app_id, self.tally
            client.call(client.glue.get_databases, MaxResults=1)

    def start(self) -> None:
        self._stop.clear()
        for index in range(self.clients):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _run(self, index: int) -> None:
        client = self._clients[index]
        interval = self.clients / self.rate if self.rate else 0.0
        # Clients start spread over one interval, so the aggregate rate is steady, not bursty.
        next_at = time.monotonic() + interval * index / max(1, self.clients)

        def pace() -> bool:
            nonlocal next_at
            if self._stop.is_set():
                return False
            if interval:
                delay = next_at - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return False
                next_at = max(next_at + interval, time.monotonic() - interval)
            return True

        while not self._stop.is_set():
            client.cycle(pace)
