"""``huashu serve --workers N``: refused where the workers could not share their calls; with
Redis and a database, N worker processes behind one port, each answering."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import postgres_database
from tests.e2e.conftest import ROOT, Server
from tests.redis import REDIS, prefix


def serve(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``huashu serve`` with ``args``, on the environment without HUASHU_* plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUASHU_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "1", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="no-redis"),
        pytest.param({"HUASHU_REDIS_URL": REDIS, "HUASHU_STORE": "memory"}, id="memory-store"),
        pytest.param({"HUASHU_STORE": "memory"}, id="neither"),
    ],
)
def test_several_workers_need_redis_and_a_database(env: dict[str, str], tmp_path: Path) -> None:
    env = {"HUASHU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", **env}
    done = serve(["--workers", "2"], env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "huashu serve: --workers 2 needs HUASHU_REDIS_URL and HUASHU_STORE=database: the "
        "in-process bus and memory store cannot be shared between worker processes."
    ]
    assert not (tmp_path / "h.db").exists()  # refused before anything was opened


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` that run a multiprocessing spawn (not its
    resource tracker): uvicorn's workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone since the listing
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


@pytest.fixture
def database() -> Iterator[str]:
    yield from postgres_database()


def test_two_workers_each_answer_on_one_port(database: str, tmp_path: Path) -> None:
    server = Server(
        tmp_path / "server.log",
        env={
            "HUASHU_REDIS_URL": REDIS,
            "HUASHU_REDIS_PREFIX": prefix(),
            "HUASHU_DATABASE_URL": database,
        },
        args=["--workers", "2"],
    )
    try:
        server.wait_ready()
        workers = children(server.process.pid)
        assert len(workers) == 2, server.log
        # /readyz answered from one worker: the other may still be starting (they migrate and
        # seed in turn).
        deadline = time.monotonic() + 60
        while server.log.count("Application startup complete.") < 2:
            assert time.monotonic() < deadline, server.log
            time.sleep(0.1)
        # Each worker in turn is the only one that can accept: the other is stopped (briefly:
        # uvicorn's parent replaces a worker that does not answer its pings for seconds).
        for stopped, running in (workers, workers[::-1]):
            os.kill(stopped, signal.SIGSTOP)
            try:
                for _ in range(5):  # a new connection each time
                    answer = httpx.get(f"{server.base}/healthz", timeout=2)
                    assert answer.status_code == 200
            finally:
                os.kill(stopped, signal.SIGCONT)
            assert children(server.process.pid) == workers, f"{running} alone did not answer"
    finally:
        server.stop()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "workers outlived serve"
