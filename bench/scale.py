"""Scale-out benchmarks (issue 12): how many calls two workers carry against one process, and
what the Redis path costs.

- ``workers``: the capacity bench (``bench.load.capacity``: the most calls whose alert p99
  stays under 50 ms with nothing lost) for one process on the in-process bus, then for
  ``--workers 2`` with Redis between them, interleaved run by run; both on PostgreSQL
  (``BENCH_POSTGRES_URL``: two processes writing one SQLite file queue on its one write lock).
- ``redis``: the alert latency of the Redis path. (1) The load bench at ``BENCH_CALLS`` calls on
  one instance with the in-process bus and with the Redis bus (the agent's own connection: its
  alert is handed over in process either way; Redis costs CPU), both on PostgreSQL. (2) Two
  instances sharing PostgreSQL and Redis: each call ingested on A, followed by a listener on A
  (in process) and one on B (through the Redis stream); the same alerts' latency on both. (3)
  The host's cost of waking an idle process (``host_wake``: a Redis PING after 2 ms idle against
  back to back), which the hop across instances pays twice more than the path in one instance.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.client import _start_messages
from bench.load import (
    Server,
    _fresh_database,
    _median,
    _pct,
    _progress,
    _ratio,
    capacity,
    load_once,
)

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/huashu_bench"
)
PHRASE = "这个真不关我的事"


def _redis_env() -> dict[str, str]:
    """Redis settings with keys of the run's own."""
    return {"HUASHU_REDIS_URL": REDIS, "HUASHU_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:"}


def run_workers(
    steps: list[int], seconds: float, procs: int, bisect: int, repeats: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"one": [], "two": []}
    for _ in range(repeats):
        out["one"].append(capacity("huashu", steps, seconds, procs, bisect, store=POSTGRES))
        out["two"].append(
            capacity(
                "huashu", steps, seconds, procs, bisect, store=POSTGRES, workers=2, env=_redis_env()
            )
        )
    one = statistics.median(r["capacity"] for r in out["one"])
    two = statistics.median(r["capacity"] for r in out["two"])
    return {"one_process": one, "two_workers": two, "ratio": _ratio(two, one), "runs": out}


def run_redis(calls: int, seconds: float, repeats: int, procs: int, probe_calls: int) -> Any:
    runs: dict[str, list[dict[str, Any]]] = {"memory_bus": [], "redis_bus": []}
    for _ in range(repeats):
        for name, env in (("memory_bus", {}), ("redis_bus", _redis_env())):
            row = load_once("huashu", calls, seconds, procs, store=POSTGRES, env=env)
            row["bus"] = name
            runs[name].append(row)
            _progress(row)
    own = {name: _median(rows) for name, rows in runs.items()}
    added = [
        r["p99_ms"] - m["p99_ms"]
        for r, m in zip(runs["redis_bus"], runs["memory_bus"], strict=True)
        if r["p99_ms"] is not None and m["p99_ms"] is not None
    ]
    probes = [probe(probe_calls, seconds) for _ in range(repeats)]
    return {
        "host_wake": asyncio.run(wake_cost()),
        "one_instance": {
            name: {k: row[k] for k in ("lost", "p50_ms", "p99_ms", "server_cpu_us_per_msg")}
            for name, row in own.items()
        },
        "one_instance_added_p99_ms": round(statistics.median(added), 2) if added else None,
        "across_instances": {
            "runs": probes,
            **{
                key: round(statistics.median(p[key] for p in probes), 2)
                for key in ("same_p50_ms", "same_p99_ms", "other_p50_ms", "other_p99_ms")
            },
            "added_p50_ms": round(
                statistics.median(p["other_p50_ms"] - p["same_p50_ms"] for p in probes), 2
            ),
            "added_p99_ms": round(
                statistics.median(p["other_p99_ms"] - p["same_p99_ms"] for p in probes), 2
            ),
        },
    }


async def wake_cost(pings: int = 400) -> dict[str, float]:
    """What one more process in an alert's path costs on this host: a Redis ``PING``'s round
    trip from a plain asyncio client, back to back and after 2 ms idle (as the probe's events
    come: Redis and the client have gone to sleep between them). The hop across instances has
    two processes more than the path in one instance (Redis, then the other instance), each
    woken from idle."""
    host, port = REDIS.split("//", 1)[1].split("/", 1)[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    out: dict[str, float] = {}
    for name, gap in (("busy", 0.0), ("after_2ms_idle", 0.002)):
        times = []
        for _ in range(pings):
            started = time.perf_counter()
            writer.write(b"*1\r\n$4\r\nPING\r\n")
            await reader.readuntil(b"\r\n")
            times.append((time.perf_counter() - started) * 1000)
            if gap:
                await asyncio.sleep(gap)
        times.sort()
        out[f"{name}_p50_ms"] = _round(_pct(times, 0.5))
        out[f"{name}_p99_ms"] = _round(_pct(times, 0.99))
    writer.close()
    await writer.wait_closed()
    return out


def probe(calls: int, seconds: float, every_s: float = 0.5) -> dict[str, Any]:
    """Two instances; ``calls`` calls ingested on A, each followed on A and on B."""
    database = _fresh_database(POSTGRES)
    env = {**_redis_env(), "HUASHU_DATABASE_URL": database}
    with Server("app.main:app", env=env) as a, Server("app.main:app", env=env) as b:
        result = asyncio.run(_probe(a.port, b.port, calls, seconds, every_s))
    print(f"  probe: {result}", flush=True)
    return result


async def _probe(a: int, b: int, calls: int, seconds: float, every_s: float) -> dict[str, Any]:
    sent: dict[tuple[int, str], float] = {}
    seen: dict[str, list[float]] = {"same": [], "other": []}
    lost = {"same": 0, "other": 0}
    ingests = [await _ingest(a, n) for n in range(calls)]
    listeners: list[tuple[str, int, ClientConnection]] = []
    for n in range(calls):
        for where, port in (("same", a), ("other", b)):
            ws = await connect(f"ws://127.0.0.1:{port}/v1/calls/probe-{n}/stream", max_size=None)
            await ws.send(orjson.dumps({"type": "resume", "last_event_seq": 0}).decode())
            listeners.append((where, n, ws))

    async def listen(where: str, n: int, ws: ClientConnection) -> None:
        async for raw in ws:
            event = orjson.loads(raw)
            if event.get("type") == "alert":
                started = sent.get((n, event["segment"]))
                if started is not None:
                    seen[where].append((time.perf_counter() - started) * 1000)

    async def drain(ws: ClientConnection) -> None:
        async for _ in ws:
            pass

    readers = [asyncio.create_task(listen(*listener)) for listener in listeners]
    readers += [asyncio.create_task(drain(ws)) for ws in ingests]
    await asyncio.sleep(2.0)  # past the greeting's timers
    rounds = int(seconds / every_s)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for r in range(rounds):
        for n, ws in enumerate(ingests):
            # Each call at its own moment of the round, as calls are: no burst to queue behind.
            due = start + (r + n / calls) * every_s
            await asyncio.sleep(max(due - loop.time(), 0))
            segment = f"s{r}"
            sent[(n, segment)] = time.perf_counter()
            fragment = {
                "type": "fragment",
                "speaker": "agent",
                "segment": segment,
                "text": PHRASE,
                "final": True,
            }
            await ws.send(orjson.dumps(fragment).decode())
    await asyncio.sleep(2.0)
    for where in seen:
        lost[where] = rounds * calls - len(seen[where])
    for task in readers:
        task.cancel()
    for ws in ingests + [ws for _, _, ws in listeners]:
        await ws.close()
    same, other = sorted(seen["same"]), sorted(seen["other"])
    return {
        "calls": calls,
        "alerts": rounds * calls,
        "lost_same": lost["same"],
        "lost_other": lost["other"],
        "same_p50_ms": _round(_pct(same, 0.5)),
        "same_p99_ms": _round(_pct(same, 0.99)),
        "other_p50_ms": _round(_pct(other, 0.5)),
        "other_p99_ms": _round(_pct(other, 0.99)),
    }


async def _ingest(port: int, n: int) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{port}/v1/calls/probe-{n}/stream", max_size=None)
    # As the load bench's calls: answered, greeted, the customer has spoken (the steady state).
    for message in _start_messages(idle=False):
        await ws.send(orjson.dumps(message).decode())
    await ws.send(orjson.dumps({"type": "ping"}).decode())
    async for raw in ws:  # the pong: the call is in the store, where B finds it
        if orjson.loads(raw).get("type") == "pong":
            break
    return ws


def _round(value: float | None) -> float:
    return round(value, 3) if value is not None else float("nan")
