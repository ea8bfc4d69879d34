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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = log_path.open("wb")
    env = {
        **os.environ,
        "HUASHU_API_KEYS": f"tenant-a:{KEY_A},tenant-b:{KEY_B}",
        "HUASHU_SCRIPTS_DIR": str(ROOT / "scripts_data"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            ready = httpx.get(
                f"{base}/readyz", headers={"Authorization": f"Bearer {KEY_A}"}, timeout=1
            )
            if ready.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.close()
            raise RuntimeError(f"the server did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=10
    ) as client:
        yield client
