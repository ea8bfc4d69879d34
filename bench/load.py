"""Service benchmarks: a load generator of real WebSocket calls, against Huashu and against a bare
Starlette echo on the same uvicorn (the ceiling), in the same run.

Every figure is measured with the server in its own process, started here on loopback, and the
clients in this process on uvloop. Latency is fragment-to-alert: from just before a fragment that
carries a forbidden phrase is sent to the moment its ``alert`` arrives. For the echo, it is the
round trip of the same message.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import websockets

ROOT = Path(__file__).resolve().parents[1]
PHRASE = "这个真不关我的事"  # a 禁语 of 002: every call says it at the known rate
FILLER = "您好请问有什么可以帮您的我帮您查询一下这个月的话费套餐流量"


def _text(message: dict[str, Any]) -> str:
    """JSON as a text frame (the protocol refuses binary frames)."""
    return orjson.dumps(message).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server process on loopback: Huashu (``app.main:app``) or the echo (``bench.echo:app``)."""

    app: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {**os.environ, "HUASHU_API_KEYS": ""}
        env.pop("HUASHU_API_KEYS")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                self.app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--ws",
                _ws_impl(),
                "--log-level",
                "warning",
                "--ws-max-size",
                "65536",
                "--backlog",
                "16384",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    time.sleep(0.5)  # lifespan: scripts load and dictionaries warm up
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.app} did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_bytes(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


def _ws_impl() -> str:
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
    except ImportError:
        return "websockets"
    return "websockets-sansio"


@dataclass
class LoadResult:
    calls: int
    seconds: float
    sent: int = 0
    expected_alerts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    server_cpu_s: float = 0.0
    server_rss_mb: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(len(lat) * p))], 2) if lat else None

        return {
            "calls": self.calls,
            "seconds": round(self.seconds, 1),
            "messages": self.sent,
            "expected_alerts": self.expected_alerts,
            "lost_alerts": self.expected_alerts - len(lat),
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
            "p999_ms": pct(0.999),
            "errors": self.errors,
            "server_cpu_us_per_message": round(self.server_cpu_s / max(self.sent, 1) * 1e6, 1),
            "server_cpu_share": round(self.server_cpu_s / self.seconds, 3),
            "server_rss_mb": round(self.server_rss_mb, 1),
        }


async def _huashu_call(
    url: str,
    n: int,
    seconds: float,
    rate: float,
    alert_every: int,
    result: LoadResult,
    start_gate: asyncio.Event,
) -> None:
    rng = random.Random(n)
    call_id = f"load-{n}-{rng.randrange(1 << 30)}"
    pending: dict[str, float] = {}
    async with websockets.connect(f"{url}/v1/calls/{call_id}/stream", max_size=None) as ws:
        await ws.send(
            _text(
                {
                    "type": "start",
                    "script": "cmcc-10086",
                    "call_type": "consult",
                    "agent": {"id": "A1", "work_no": "1001"},
                }
            )
        )
        await ws.send(_text({"type": "event", "name": "answered"}))
        await ws.send(
            _text(
                {
                    "type": "fragment",
                    "speaker": "customer",
                    "segment": "c-0",
                    "text": "你好",
                    "final": True,
                }
            )
        )

        async def receive() -> None:
            async for raw in ws:
                event = orjson.loads(raw)
                if event["type"] == "alert" and event.get("segment") in pending:
                    result.latencies_ms.append(
                        (time.perf_counter() - pending.pop(event["segment"])) * 1000
                    )
                elif event["type"] == "error":
                    result.errors += 1

        reader = asyncio.create_task(receive())
        await start_gate.wait()
        await asyncio.sleep(rng.random() / rate)  # spread the calls over the period
        end = time.perf_counter() + seconds
        k = 0
        while time.perf_counter() < end:
            k += 1
            segment = f"a-{k}"
            if k % alert_every == 0:
                text = PHRASE
                pending[segment] = time.perf_counter()
                result.expected_alerts += 1
            else:
                start = rng.randrange(len(FILLER) - 10)
                text = FILLER[start : start + 10]
            await ws.send(
                _text(
                    {
                        "type": "fragment",
                        "speaker": "agent",
                        "segment": segment,
                        "text": text,
                        "final": True,
                    }
                )
            )
            result.sent += 1
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(1.0)  # let the last alerts arrive
        reader.cancel()


async def _echo_call(
    url: str,
    n: int,
    seconds: float,
    rate: float,
    result: LoadResult,
    start_gate: asyncio.Event,
) -> None:
    rng = random.Random(n)
    async with websockets.connect(f"{url}/echo", max_size=None) as ws:
        pending: dict[int, float] = {}

        async def receive() -> None:
            async for raw in ws:
                k = orjson.loads(raw)["k"]
                if k in pending:
                    result.latencies_ms.append((time.perf_counter() - pending.pop(k)) * 1000)

        reader = asyncio.create_task(receive())
        await start_gate.wait()
        await asyncio.sleep(rng.random() / rate)
        end = time.perf_counter() + seconds
        k = 0
        while time.perf_counter() < end:
            k += 1
            pending[k] = time.perf_counter()
            result.expected_alerts += 1
            start = rng.randrange(len(FILLER) - 10)
            await ws.send(
                _text(
                    {
                        "type": "fragment",
                        "k": k,
                        "speaker": "agent",
                        "segment": f"a-{k}",
                        "text": FILLER[start : start + 10],
                        "final": True,
                    }
                )
            )
            result.sent += 1
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(1.0)
        reader.cancel()


async def drive(
    server: Server, kind: str, calls: int, seconds: float, rate: float = 4.0, alert_every: int = 4
) -> LoadResult:
    """``calls`` concurrent connections, each sending ``rate`` messages a second."""
    url = f"ws://127.0.0.1:{server.port}"
    result = LoadResult(calls, seconds)
    gate = asyncio.Event()
    tasks = []
    for n in range(calls):
        if kind == "huashu":
            coro = _huashu_call(url, n, seconds, rate, alert_every, result, gate)
        else:
            coro = _echo_call(url, n, seconds, rate, result, gate)
        tasks.append(asyncio.create_task(coro))
        if n % 100 == 99:
            await asyncio.sleep(0.05)  # don't overrun the accept backlog
    await asyncio.sleep(1.0)
    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    gate.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    result.seconds = time.perf_counter() - t0 - 1.0
    result.server_cpu_s = server.cpu_seconds() - cpu0
    result.server_rss_mb = server.rss_bytes() / 2**20
    result.errors += sum(1 for d in done if isinstance(d, BaseException))
    return result


async def idle_rss(server: Server, calls: int) -> dict[str, Any]:
    """RSS per idle connected call: ``calls`` calls started and left open, nothing said."""
    url = f"ws://127.0.0.1:{server.port}"
    before = server.rss_bytes()
    sockets = []
    for n in range(calls):
        ws = await websockets.connect(f"{url}/v1/calls/idle-{n}/stream", max_size=None)
        await ws.send(
            _text(
                {
                    "type": "start",
                    "script": "cmcc-10086",
                    "call_type": "consult",
                    "agent": {"id": "A1", "work_no": "1001"},
                }
            )
        )
        await ws.send(_text({"type": "event", "name": "answered"}))
        sockets.append(ws)
        if n % 200 == 199:
            await asyncio.sleep(0.05)
    for ws in sockets[-50:]:
        await ws.send(_text({"type": "ping"}))
        while orjson.loads(await ws.recv())["type"] != "pong":
            pass
    await asyncio.sleep(1.0)
    after = server.rss_bytes()
    for ws in sockets:
        await ws.close()
    return {
        "calls": calls,
        "rss_before_mb": round(before / 2**20, 1),
        "rss_after_mb": round(after / 2**20, 1),
        "kb_per_call": round((after - before) / calls / 1024, 1),
    }


def run_load(calls: list[int], seconds: float) -> dict[str, Any]:
    import uvloop

    out: dict[str, Any] = {"huashu": {}, "echo": {}}
    for kind, app in (("echo", "bench.echo:app"), ("huashu", "app.main:app")):
        for n in calls:
            with Server(app) as server:
                result = uvloop.run(drive(server, kind, n, seconds))
                out[kind][n] = result.summary()
    return out


def run_memory(calls: list[int]) -> dict[str, Any]:
    import uvloop

    out = {}
    for n in calls:
        with Server("app.main:app") as server:
            out[n] = uvloop.run(idle_rss(server, n))
    return out


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None
