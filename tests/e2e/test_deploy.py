"""``deploy/``: the compose file's shape (no Docker engine runs here to start it), and its nginx
configuration for real: ``nginx -t``, then nginx in front of two real Huashu instances, each
call's connections and requests reaching one of them. Needs Debian's nginx (``.ci/run`` installs
it); fails, not skips, without it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.config import Settings
from tests.e2e.client import ANSWERED, START, CallClient
from tests.e2e.conftest import KEY_A, ROOT, Server, _free_port

DEPLOY = ROOT / "deploy"
INSTANCES = ("huashu-a", "huashu-b")
#: Call ids spread over both instances by the hash (fixed: the hash of a fixed id is too).
CALLS = [f"routed-{n}" for n in range(12)]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def env_file(name: str) -> dict[str, str]:
    lines = (DEPLOY / name).read_text().splitlines()
    pairs = (line.partition("=") for line in lines if line and not line.startswith("#"))
    return {key: value for key, _, value in pairs}


def test_compose_runs_two_instances_behind_nginx_with_redis_and_postgresql() -> None:
    services = compose()["services"]
    assert set(services) == {*INSTANCES, "lb", "redis", "postgres"}
    for name in INSTANCES:
        service = services[name]
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["env_file"] == "huashu.env"
        assert service["environment"]["HUASHU_STORE"] == "database"
        assert service["environment"]["HUASHU_REDIS_URL"] == "redis://redis:6379/0"
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert {k: v["condition"] for k, v in service["depends_on"].items()} == {
            "postgres": "service_healthy",
            "redis": "service_healthy",
        }
    lb = services["lb"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
    assert lb["ports"] == ["8000:80"]
    assert set(lb["depends_on"]) == set(INSTANCES)
    # The upstreams nginx names are the instances compose runs, on the port they serve.
    upstreams = re.findall(r"^\s*server\s+(\S+:\d+)", (DEPLOY / "nginx.conf").read_text(), re.M)
    assert upstreams == [f"{name}:8000" for name in INSTANCES]
    assert services["postgres"]["env_file"] == "postgres.env"


def test_the_env_file_examples_are_settings_huashu_accepts() -> None:
    huashu = env_file("huashu.env.example")
    assert set(huashu) == {"HUASHU_API_KEYS", "HUASHU_DATABASE_URL"}
    settings = Settings(
        api_keys=huashu["HUASHU_API_KEYS"], database_url=huashu["HUASHU_DATABASE_URL"]
    )
    assert settings.tenants_by_key and settings.database_url.startswith("postgresql+asyncpg://")
    password = env_file("postgres.env.example")["POSTGRES_PASSWORD"]
    assert f"huashu:{password}@postgres:5432/huashu" in settings.database_url


def healthcheck(port: int) -> list[str]:
    """The instances' health check command, against ``port`` on this machine."""
    command: list[str] = compose()["services"]["huashu-a"]["healthcheck"]["test"]
    assert command[:2] == ["CMD", "python"]
    return [sys.executable, *[part.replace(":8000/", f":{port}/") for part in command[2:]]]


def nginx_conf(tmp_path: Path, port: int, upstreams: list[int]) -> Path:
    """deploy/nginx.conf listening on ``port``, its instances on these local ports."""
    text = (DEPLOY / "nginx.conf").read_text()
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    for name, upstream in zip(INSTANCES, upstreams, strict=True):
        text = text.replace(f"server {name}:8000", f"server 127.0.0.1:{upstream}")
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return path


def nginx(conf: Path, *args: str) -> list[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).is_file(), "nginx is missing: apt-get install nginx-light (.ci/run does)"
    prefix = conf.parent
    return [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), *args]


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    conf = nginx_conf(tmp_path, _free_port(), [_free_port(), _free_port()])
    checked = subprocess.run(
        nginx(conf, "-t", "-g", f"pid {tmp_path / 'nginx.pid'};"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[list[Server]]:
    """Two instances, each with a database of its own: a call one of them has is a call that
    reached it."""
    servers = []
    for name in INSTANCES:
        (tmp_path / name).mkdir()
        servers.append(Server(tmp_path / name / "server.log"))
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_each_calls_connections_and_requests_reach_one_instance(
    instances: list[Server], tmp_path: Path
) -> None:
    port = _free_port()
    conf = nginx_conf(tmp_path, port, [server.port for server in instances])
    log = (tmp_path / "nginx.log").open("wb")
    balancer = subprocess.Popen(
        nginx(conf, "-g", f"daemon off; pid {tmp_path / 'nginx.pid'};"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {KEY_A}"}
    try:
        for _ in range(100):  # nginx is up once it answers
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert balancer.poll() is None, (tmp_path / "nginx.log").read_text()
            time.sleep(0.1)
        for call_id in CALLS:
            # The stream's WebSocket upgrade passes through; then a REST request on the call.
            with CallClient(base, call_id, KEY_A) as client:
                events = client.play(START, ANSWERED)
                assert "phase" in {event["type"] for event in events}, events
            for _ in range(3):
                answer = httpx.get(f"{base}/v1/calls/{call_id}", headers=auth, timeout=5)
                assert answer.status_code == 200, answer.text
        holders: dict[str, list[int]] = {}
        for n, server in enumerate(instances):
            for call_id in CALLS:
                found = httpx.get(f"{server.base}/v1/calls/{call_id}", headers=auth, timeout=5)
                if found.status_code == 200:
                    holders.setdefault(call_id, []).append(n)
        assert all(len(holders.get(call_id, [])) == 1 for call_id in CALLS), holders
        assert {n for held in holders.values() for n in held} == {0, 1}, holders
        # The health check compose gives the instances passes against a ready one.
        assert (
            subprocess.run(healthcheck(instances[0].port), env=_keys(), timeout=30).returncode == 0
        )
    finally:
        balancer.terminate()
        balancer.wait(timeout=10)
        log.close()


def test_the_instances_health_check_fails_where_none_is_ready() -> None:
    done = subprocess.run(healthcheck(_free_port()), env=_keys(), capture_output=True, timeout=30)
    assert done.returncode != 0


def _keys() -> dict[str, str]:
    return {**os.environ, "HUASHU_API_KEYS": f"tenant-a:{KEY_A}"}
