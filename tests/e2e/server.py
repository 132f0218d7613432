"""A real trailkeeper server in a subprocess on a loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["TrailkeeperServer", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TrailkeeperServer:
    def __init__(
        self,
        data_dir: Path,
        *,
        config: Path | None = None,
        extra_args: tuple[str, ...] = (),
        tls_ca: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.tls_ca = tls_ca  # with --tls-cert: the certificate clients trust
        self.config = config
        self.extra_args = extra_args
        self.port = free_port()
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_ca else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        args = [
            sys.executable,
            "-m",
            "trailkeeper.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self.config is not None:
            args += ["--config", str(self.config)]
        args += list(self.extra_args)
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"server exited early: {self.log_path.read_text(errors='replace')}")
            try:
                if (
                    httpx.get(
                        f"{self.url}/_trailkeeper/health", timeout=1.0, verify=self._verify()
                    ).status_code
                    == 200
                ):
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text(errors='replace')}")

    def _verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.tls_ca)) if self.tls_ca else True

    def stop(self, *, kill: bool = False) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
