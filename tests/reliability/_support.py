"""Shared pieces of the reliability suite: run size (CI or full), a server with an environment, figures.

``TRAILKEEPER_FULL=1`` selects the full variant of every property; without it each module runs its
short CI variant. Figures a test measures go to the ``figures`` fixture: they are printed at the end
of the run and, with ``TRAILKEEPER_FIGURES=path.json``, written out for docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.e2e.conftest import CONFIG, Keys, lookup_all
from tests.e2e.server import TrailkeeperServer
from tests.reliability._traffic import Answer

__all__ = [
    "FULL",
    "MIB",
    "NO_RETRY",
    "PAGE_CACHES",
    "Figures",
    "ReliabilityServer",
    "RssSampler",
    "build_erofs_shim",
    "check_recorded",
    "config_file",
    "make_client",
    "records",
    "scaled",
]

FULL = os.environ.get("TRAILKEEPER_FULL", "") == "1"
FIGURES_PATH = os.environ.get("TRAILKEEPER_FIGURES", "")
_HERE = Path(__file__).resolve().parent


def scaled(ci: float, full: float) -> float:
    """The CI figure, or the full one under TRAILKEEPER_FULL=1."""
    return full if FULL else ci


@dataclass
class Figures:
    """What each property measured: {property: {figure: value}}, in the order they were recorded."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, prop: str, **figures: Any) -> None:
        self.values.setdefault(prop, {}).update(figures)

    def lines(self) -> list[str]:
        variant = "full" if FULL else "ci"
        return [f"[{variant}] {prop}: {json.dumps(figs)}" for prop, figs in self.values.items()]

    def write(self) -> None:
        """Merged into the file at TRAILKEEPER_FIGURES, so modules run one by one add up."""
        if not FIGURES_PATH:
            return
        path = Path(FIGURES_PATH)
        merged: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        variant = merged.setdefault("full" if FULL else "ci", {})
        for prop, figs in self.values.items():
            variant[prop] = figs
        path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


def config_file(directory: Path, *, server: str = "", extra: str = "") -> Path:
    """The e2e accounts (A: root, alice, role Admin; B: bob) plus ``[server]`` lines and more sections."""
    text = CONFIG.replace("retention_days = 90", f"retention_days = 90\n{server}") + extra
    path = directory / "trailkeeper.toml"
    path.write_text(text)
    return path


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


class ReliabilityServer(TrailkeeperServer):
    """The e2e server, started with extra environment variables (a preloaded fault shim) and a pid."""

    def __init__(
        self,
        data_dir: Path,
        *,
        config: Path,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        super().__init__(data_dir, config=config, extra_args=extra_args)
        self.env = dict(env or {})
        if log is not None:  # off the data disk, when a test fills it or turns it read-only
            self.log_path = log

    def start(self, timeout: float = 30.0) -> None:
        # The server copies os.environ when it spawns; the pytest process itself is unaffected.
        with _environ(self.env):
            super().start(timeout)

    @property
    def pid(self) -> int:
        proc = self._proc
        if proc is None:
            raise RuntimeError("server not running")
        return proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def rss_bytes(self) -> int:
        """Resident memory of the server process, from /proc (VmRSS is in kB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


# botocore's legacy "max_attempts" counts retries: 1 means a 5xx is sent twice. Every call here is
# made exactly once, so each answer the client sees belongs to the one request it made.
NO_RETRY = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)


def make_client(url: str, service: str, keys: Keys, region: str = "us-east-1") -> Any:
    """tests/e2e's make_client, without botocore's retry of 5xx answers and dropped connections."""
    session: Any = boto3.session.Session()  # any service name, not the stubs' Literal overloads
    return session.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        config=NO_RETRY,
    )


# The journal's SQLite page caches: the writer and two readers keep up to 64 MiB each (PRAGMA
# cache_size = -65536 in journal/_sqlite_schema.py). They fill as the journal grows, so a server's
# resident memory may rise by this much under any load that writes faster than a few MB a minute.
PAGE_CACHES = 3 * 64 * 1024 * 1024
MIB = 1024 * 1024


class RssSampler:
    """Samples a server's VmRSS every ``every`` seconds in a thread: (seconds since start, bytes)."""

    def __init__(self, srv: ReliabilityServer, every: float = 2.0) -> None:
        self.srv, self.every = srv, every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        self.samples.append((0.0, self.srv.rss_bytes()))
        while not self._stop.wait(self.every):
            self.samples.append((time.monotonic() - started, self.srv.rss_bytes()))

    def growth(self, after: float) -> int:
        """RSS growth from the first sample at or after ``after`` seconds to the last sample."""
        return self.samples[-1][1] - next(rss for t, rss in self.samples if t >= after)

    def series_mib(self, points: int = 10) -> list[float]:
        return [round(r / MIB, 1) for _, r in self.samples[:: max(1, len(self.samples) // points)]]


def check_recorded(answers: Iterable[Answer], stored: list[dict[str, Any]]) -> None:
    """Every answer is stored exactly once and as answered (a success without errorCode, an error with it)."""
    answers = list(answers)
    by_request = Counter(r["requestID"] for r in stored)
    lost = [a for a in answers if by_request[a.request_id] == 0]
    assert not lost, f"{len(lost)} answered calls not in LookupEvents, e.g. {lost[:3]}"
    duplicated = [a for a in answers if by_request[a.request_id] > 1]
    assert not duplicated, f"{len(duplicated)} calls recorded more than once, e.g. {duplicated[:3]}"
    recorded = {r["requestID"]: r.get("errorCode", "") for r in stored}
    wrong = [(a, recorded[a.request_id]) for a in answers if recorded[a.request_id] != a.code]
    assert not wrong, f"recorded with another outcome than the client saw: {wrong[:3]}"


def records(ct: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every LookupEvents event of the caller's account and region, CloudTrailEvent parsed."""
    out = []
    for event in lookup_all(ct, **kwargs):
        record: dict[str, Any] = json.loads(event["CloudTrailEvent"])
        out.append(record)
    return out


def build_erofs_shim(directory: Path) -> Path | None:
    """Compile erofs_shim.c into a preloadable library; None when no C compiler is installed."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    out = directory / "erofs_shim.so"
    done = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(out), str(_HERE / "erofs_shim.c"), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot build the EROFS shim: {done.stderr}")
    return out
