"""The process: start-up refuses a bad script library, shutdown closes sockets with 1012, and the
``huashu check-scripts`` command."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from websockets.exceptions import ConnectionClosed

from tests.e2e.client import CallClient
from tests.e2e.conftest import KEY_A, ROOT, Server


def _broken_library(tmp_path: Path) -> Path:
    """A copy of the library whose cmcc-10086 has a ring limit that is not a number."""
    library = tmp_path / "scripts_data"
    shutil.copytree(ROOT / "scripts_data", library)
    path = library / "scripts" / "cmcc-10086.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["timing"]["ring_limit_s"] = "soon"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return library


def test_a_bad_script_stops_start_up_with_file_field_and_reason(tmp_path: Path) -> None:
    server = Server(tmp_path / "server.log", scripts_dir=_broken_library(tmp_path))
    try:
        code = server.wait_exit()
    finally:
        server.stop()
    assert code != 0
    assert "cmcc-10086.yaml: timing.ring_limit_s: " in server.log, server.log


def test_shutdown_closes_streams_with_1012(tmp_path: Path) -> None:
    server = Server(tmp_path / "server.log")
    try:
        server.wait_ready()
        with CallClient(server.base, "going-away", KEY_A) as client:
            client.play({"type": "start", "script": "ct-10000"})
            server.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as info:
                client.recv(timeout=10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1012
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.wait_exit(timeout=10) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in server.log, server.log
    finally:
        server.stop()


def test_shutdown_waits_for_open_requests_up_to_its_timeout(tmp_path: Path) -> None:
    """HUASHU_SHUTDOWN_TIMEOUT_S reaches uvicorn: a request whose body never finishes holds
    shutdown that long, then is cancelled, and the process exits."""
    server = Server(tmp_path / "server.log", env={"HUASHU_SHUTDOWN_TIMEOUT_S": "2"})
    try:
        server.wait_ready()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.sendall(
                b"POST /v1/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {KEY_A}\r\nContent-Length: 1000\r\n\r\n".encode()
                + b'{"script":'
            )
            time.sleep(0.5)  # the request is being served: its body is awaited
            began = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            code = server.wait_exit(timeout=30)
            took = time.monotonic() - began
        assert code in (0, -signal.SIGTERM), server.log
        assert "timeout graceful shutdown exceeded" in server.log, server.log
        assert 2 <= took < 15, took
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("env", "logged"),
    [({}, True), ({"HUASHU_LOG_LEVEL": "warning", "HUASHU_ACCESS_LOG": "false"}, False)],
    ids=["default", "quiet"],
)
def test_log_level_and_access_log(tmp_path: Path, env: dict[str, str], logged: bool) -> None:
    """By default uvicorn logs each request and each WebSocket opening; ops can turn that off."""
    server = Server(tmp_path / "server.log", env=env)
    try:
        server.wait_ready()
        with CallClient(server.base, "logged", KEY_A) as client:
            client.play({"type": "start", "script": "ct-10000"})
            client.sync()
    finally:
        server.stop()
    log = server.log
    assert ("GET /readyz" in log) is logged, log
    assert ("connection open" in log) is logged, log


def test_a_bad_setting_stops_serve_with_its_name(tmp_path: Path) -> None:
    server = Server(tmp_path / "server.log", env={"HUASHU_LOG_LEVEL": "loud"})
    try:
        code = server.wait_exit()
    finally:
        server.stop()
    assert code == 2
    assert "log_level" in server.log and "Traceback" not in server.log, server.log


def _check_scripts(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "check-scripts", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_scripts(tmp_path: Path) -> None:
    ok = _check_scripts(str(ROOT / "scripts_data"))
    assert ok.returncode == 0 and ok.stdout.startswith("ok: 3 scripts"), ok
    bad = _check_scripts(str(_broken_library(tmp_path)))
    assert bad.returncode == 1 and "cmcc-10086.yaml: timing.ring_limit_s: " in bad.stderr, bad
