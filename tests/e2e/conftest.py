"""A real Huashu server (uvicorn in a subprocess, API keys on) for the end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY_A = "key-a-0123456789"
KEY_B = "key-b-0123456789"
#: Start-up loads and compiles the library and warms jieba: seconds, not minutes.
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``huashu serve`` in a subprocess, its output in a log file."""

    def __init__(
        self,
        log_path: Path,
        scripts_dir: Path = ROOT / "scripts_data",
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = {
            **os.environ,
            "HUASHU_API_KEYS": f"tenant-a:{KEY_A},tenant-b:{KEY_B}",
            "HUASHU_SCRIPTS_DIR": str(scripts_dir),
            "HUASHU_DATABASE_URL": f"sqlite+aiosqlite:///{log_path.parent / 'huashu.db'}",
            # Calls replayed on the holidays of years to come (the calendar's tests)
            "HUASHU_TIME_WINDOW_DAYS": "3660",
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port), *(args or [])],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Return once /readyz answers 200; raise with the server's log if it exits or hangs."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ready = httpx.get(
                    f"{self.base}/readyz", headers={"Authorization": f"Bearer {KEY_A}"}, timeout=1
                )
                if ready.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            # A worker whose start-up failed does not stop ``--workers``' parent: it starts
            # another, which fails the same way.
            failed = "Application startup failed" in self.log
            if failed or self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start:\n{self.log}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    running = Server(tmp_path_factory.mktemp("server") / "server.log")
    try:
        running.wait_ready()
        yield running.base
    finally:
        running.stop()


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=10
    ) as client:
        yield client
