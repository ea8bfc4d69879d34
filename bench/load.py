"""Service benchmarks: real WebSocket calls against Huashu and against a bare Starlette echo on
the same uvicorn (the ceiling), in the same run, with the same clients and the same load shape.

The server runs in its own process on loopback; the clients run in one or more *other* processes
(``bench.client``: raw RFC 6455 on uvloop, one protocol object per call, no task per call), so
the figures say what the server does, and each client reports its CPU and how late its sends ran
(``send lag``): a client near a full core or with a lag of milliseconds is a saturated client,
and the row says so.

Latency is fragment-to-alert: from just before a fragment carrying a forbidden phrase is written
to the socket to the moment its ``alert`` is read. For the echo it is the round trip of every
message. Server CPU is the server process's user+system time over the load window.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
APPS = {"huashu": "app.main:app", "echo": "bench.echo:app"}
#: A run's p99 above this is over capacity (issue 5).
P99_LIMIT_MS = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_database(store: str) -> str:
    """A database URL with no calls in it, for one server run: ``sqlite`` is a new file; a
    PostgreSQL URL names a database of the benchmark's own, dropped and made again."""
    if store == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="huashu-bench-"))
        return f"sqlite+aiosqlite:///{folder / 'huashu.db'}"
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(store)
    name = url.database
    admin = url.set(database="postgres")

    async def remake() -> None:
        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()

    asyncio.run(remake())
    return store


@dataclass
class Server:
    """A server process on loopback: Huashu (``app.main:app``) or the echo (``bench.echo:app``),
    on the uvicorn options ``huashu serve`` uses."""

    app: str
    #: The store of a Huashu server (see ``__enter__``); None: ``BENCH_STORE``.
    store: str | None = None
    #: uvicorn worker processes (more than one: Huashu needs ``HUASHU_REDIS_URL`` in ``env``).
    workers: int = 1
    #: Settings of the server's own, over the benchmark's environment.
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {**os.environ, **self.env}
        env.pop("HUASHU_API_KEYS", None)
        # The store under test: memory (default), sqlite (a fresh file) or a PostgreSQL URL
        # (a database of the benchmark's own, made afresh).
        store = self.store or os.environ.get("BENCH_STORE", "memory")
        if "HUASHU_DATABASE_URL" in self.env:  # a database another server made: shared
            env["HUASHU_STORE"] = "database"
        elif store == "memory":
            env["HUASHU_STORE"] = "memory"
        else:
            env["HUASHU_STORE"] = "database"
            env["HUASHU_DATABASE_URL"] = _fresh_database(store)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", self.app, str(self.port), str(self.workers)],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 60
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
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pids(self) -> list[int]:
        """The server's processes: uvicorn's, and its workers when it has several."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [self.pid, *(int(child) for child in children)]

    def cpu_seconds(self) -> float:
        return sum(_cpu_of(pid) for pid in self.pids())

    def rss_bytes(self) -> int:
        return sum(_rss_of(pid) for pid in self.pids())


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Clients:
    """``procs`` client processes sharing ``calls`` connections to ``server``."""

    def __init__(
        self, server: Server, kind: str, calls: int, procs: int, tag: str, **job: Any
    ) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        procs = max(1, min(procs, calls))
        share, extra = divmod(calls, procs)
        first = 0
        for i in range(procs):
            count = share + (1 if i < extra else 0)
            spec = {
                "kind": kind,
                "host": "127.0.0.1",
                "port": server.port,
                "first": first,
                "count": count,
                "tag": tag,
                **job,
            }
            first += count
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.client", orjson.dumps(spec).decode()],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
            )

    def _read(self, key: str) -> list[Any]:
        out = []
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"a client process exited (code {proc.wait()})")
            out.append(orjson.loads(line)[key])
        return out

    def _say(self, word: str) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(word.encode() + b"\n")
            proc.stdin.flush()

    def ready(self) -> list[dict[str, Any]]:
        return self._read("ready")

    def go(self) -> None:
        self._say("go")

    def results(self) -> list[dict[str, Any]]:
        return self._read("result")

    def cpu_seconds(self) -> list[float]:
        return [_cpu_of(p.pid) for p in self.procs]

    def close(self) -> None:
        try:
            self._say("close")
            self._read("closed")
        except (OSError, RuntimeError, ValueError):
            pass
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pct(values: list[float], p: float) -> float | None:
    return round(values[min(len(values) - 1, int(len(values) * p))], 2) if values else None


def _gc_pauses(server: Server) -> dict[str, list[float]] | None:
    """Huashu's collector pauses so far, from ``/metrics``: generation → [count, seconds,
    pauses over 10 ms]; None for a server without them (the echo)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    found: dict[str, list[float]] = {}
    for line in text.splitlines():
        if not line.startswith("huashu_gc_pause_seconds"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        generation = name_labels.split('generation="')[1].split('"')[0]
        row = found.setdefault(generation, [0.0, 0.0, 0.0])
        if name_labels.startswith("huashu_gc_pause_seconds_count"):
            row[0] = float(value)
            row[2] += float(value)
        elif name_labels.startswith("huashu_gc_pause_seconds_sum"):
            row[1] = float(value)
        elif 'le="0.01"' in name_labels:
            row[2] -= float(value)
    return found or None


def _gc_window(
    before: dict[str, list[float]] | None, after: dict[str, list[float]] | None
) -> dict[str, dict[str, float]] | None:
    """The pauses between two readings of :func:`_gc_pauses`."""
    if before is None or after is None:
        return None
    return {
        f"gen{g}": {
            "collections": int(after[g][0] - before[g][0]),
            "seconds": round(after[g][1] - before[g][1], 3),
            "over_10ms": int(after[g][2] - before[g][2]),
        }
        for g in sorted(after)
    }


def load_once(
    kind: str,
    calls: int,
    seconds: float,
    procs: int,
    rate: float = 4.0,
    store: str | None = None,
    hostile: dict[str, Any] | None = None,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One run: a fresh server of ``kind``, ``calls`` calls at ``rate`` fragments/s each; with
    ``hostile``, bad clients alongside them for the window (``bench.soak``); ``workers`` and
    ``env``: the server's processes and settings of its own."""
    with (
        Server(APPS[kind], store, workers, env or {}) as server,
        Clients(server, kind, calls, procs, "load", seconds=seconds, rate=rate) as clients,
    ):
        ready = clients.ready()
        bad = None
        if hostile is not None:
            spec = {**hostile, "port": server.port, "seconds": seconds + 2}
            bad = subprocess.Popen(
                [sys.executable, "-m", "bench.soak", orjson.dumps(spec).decode()],
                cwd=ROOT,
                stdout=subprocess.PIPE,
            )
            assert bad.stdout is not None
            bad.stdout.readline()  # its clients are connected
        time.sleep(1.0)  # the start-up fragments and timers settle
        gc_before = _gc_pauses(server) if kind == "huashu" else None
        cpu0, t0 = server.cpu_seconds(), time.perf_counter()
        clients.go()
        results = clients.results()
        if bad is not None:
            bad.wait(timeout=seconds + 60)
        window = time.perf_counter() - t0
        server_cpu = server.cpu_seconds() - cpu0
        rss = server.rss_bytes()
        gc_after = _gc_pauses(server) if kind == "huashu" else None
    latencies = sorted(x for r in results for x in r["latencies_ms"])
    sent = sum(r["sent"] for r in results)
    expected = sum(r["expected"] for r in results)
    return {
        "server": kind,
        "calls": sum(r["calls"] for r in ready),
        "failed_connects": sum(r["failed"] for r in ready),
        "messages": sent,
        "msgs_per_s": round(sent / seconds),
        "expected": expected,
        "lost": expected - len(latencies),
        "p50_ms": _pct(latencies, 0.5),
        "p99_ms": _pct(latencies, 0.99),
        "p999_ms": _pct(latencies, 0.999),
        "errors": sum(r["errors"] for r in results),
        "server_cpu_us_per_msg": round(server_cpu / max(sent, 1) * 1e6, 1),
        "server_cpu_share": round(server_cpu / window, 3),
        "server_rss_mb": round(rss / 2**20, 1),
        "client_cpu_share": [round(r["cpu_s"] / r["window_s"], 3) for r in results],
        "client_send_lag_p99_ms": max(r["send_lag_p99_ms"] for r in results),
        # the collector's pauses in the window (Huashu's /metrics), for reading p99.9
        "server_gc": _gc_window(gc_before, gc_after),
    }


MEDIAN_KEYS = (
    "lost",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "server_cpu_us_per_msg",
    "server_cpu_share",
    "server_rss_mb",
    "client_send_lag_p99_ms",
)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(runs[0])
    for key in MEDIAN_KEYS:
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key] = round(statistics.median(values), 2) if values else None
    out["lost"] = max(r["lost"] for r in runs)  # the worst run: a lost alert is never noise
    out["client_cpu_share"] = max(max(r["client_cpu_share"]) for r in runs)
    out["server_gc"] = [r.get("server_gc") for r in runs]  # run by run
    out["runs"] = len(runs)
    return out


def run_load(calls: list[int], seconds: float, repeats: int, procs: int) -> dict[str, Any]:
    """Huashu and the echo at each size, interleaved run by run; medians and ratios."""
    out: dict[str, Any] = {}
    for n in calls:
        runs: dict[str, list[dict[str, Any]]] = {"echo": [], "huashu": []}
        for _ in range(repeats):
            for kind in ("echo", "huashu"):
                runs[kind].append(load_once(kind, n, seconds, procs))
                _progress(runs[kind][-1])
        echo, huashu = _median(runs["echo"]), _median(runs["huashu"])
        # Each run's ratio against the echo run just before it (the same minute's noise).
        paired = [
            _ratio(h["p99_ms"], e["p99_ms"])
            for e, h in zip(runs["echo"], runs["huashu"], strict=True)
        ]
        out[str(n)] = {
            "echo": echo,
            "huashu": huashu,
            "all_runs": runs,
            "p99_ratio_by_run": paired,
            "p99_ratio_median_of_runs": _median_of([r for r in paired if r is not None]),
            "p99_ratio": _ratio(huashu["p99_ms"], echo["p99_ms"]),
            "p50_ratio": _ratio(huashu["p50_ms"], echo["p50_ms"]),
            "cpu_ratio": _ratio(huashu["server_cpu_us_per_msg"], echo["server_cpu_us_per_msg"]),
        }
    return out


def _median_of(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _progress(row: dict[str, Any]) -> None:
    keys = ("server", "calls", "lost", "p50_ms", "p99_ms", "server_cpu_share")
    print("  " + "  ".join(f"{k}={row[k]}" for k in keys), file=sys.stderr, flush=True)


def _passes(row: dict[str, Any]) -> bool:
    return row["lost"] == 0 and row["p99_ms"] is not None and row["p99_ms"] < P99_LIMIT_MS


def capacity(
    kind: str, steps: list[int], seconds: float, procs: int, bisect: int, **server: Any
) -> dict[str, Any]:
    """The largest N whose p99 stays under 50 ms with no lost alert: step up until a step fails,
    then bisect ``bisect`` times between the last pass and the first failure. ``server``:
    ``load_once``'s options for the server (store, workers, env)."""
    rows = []

    def passes(n: int) -> bool:
        try:
            row = load_once(kind, n, seconds, procs, **server)
        except RuntimeError as exc:  # a client could not start its calls in time: failed
            rows.append({"server": kind, "calls": n, "setup_failed": str(exc)})
            print(f"  server={kind}  calls={n}  calls not started: {exc}", flush=True)
            return False
        _progress(row)
        rows.append(row)
        return _passes(row)

    good, bad = 0, None
    for n in steps:
        if not passes(n):
            bad = n
            break
        good = n
    for _ in range(bisect if bad is not None else 0):
        assert bad is not None
        mid = (good + bad) // 2
        if bad - mid < max(50, bad // 20):
            break
        if passes(mid):
            good = mid
        else:
            bad = mid
    return {"capacity": good, "first_failing": bad, "steps": rows}


def run_capacity(
    steps: list[int], seconds: float, procs: int, bisect: int, repeats: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"echo": [], "huashu": []}
    for _ in range(repeats):
        for kind in ("echo", "huashu"):
            out[kind].append(capacity(kind, steps, seconds, procs, bisect))
    echo = statistics.median(r["capacity"] for r in out["echo"])
    huashu = statistics.median(r["capacity"] for r in out["huashu"])
    return {
        "echo_capacity": echo,
        "huashu_capacity": huashu,
        "ratio": _ratio(huashu, echo),
        "limit_p99_ms": P99_LIMIT_MS,
        "runs": out,
    }


def idle_once(kind: str, calls: int, procs: int, warm: int = 100) -> dict[str, Any]:
    """RSS per idle connected call: ``warm`` calls first (one-off caches and arenas), then
    ``calls`` more, started (Huashu: ``start``, ``answered``, a ping answered) and left open.
    Per call = (RSS after − RSS after the warm-up) / calls."""
    with Server(APPS[kind]) as server:
        base = server.rss_bytes()
        with Clients(server, kind, warm, 1, "warm", idle=True) as w:
            w.ready()
            time.sleep(1.0)
            before = server.rss_bytes()
            with Clients(server, kind, calls, procs, "idle", idle=True) as clients:
                ready = clients.ready()
                time.sleep(2.0)
                after = server.rss_bytes()
    connected = sum(r["calls"] for r in ready)
    return {
        "server": kind,
        "calls": connected,
        "failed_connects": sum(r["failed"] for r in ready),
        "rss_start_mb": round(base / 2**20, 1),
        "rss_before_mb": round(before / 2**20, 1),
        "rss_after_mb": round(after / 2**20, 1),
        "kb_per_call": round((after - before) / max(connected, 1) / 1024, 1),
    }


def run_memory(calls: list[int], procs: int, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in calls:
        runs: dict[str, list[dict[str, Any]]] = {"echo": [], "huashu": []}
        for _ in range(repeats):
            for kind in ("echo", "huashu"):
                row = idle_once(kind, n, max(procs, (n + 8999) // 9000))
                print(f"  {row}", file=sys.stderr, flush=True)
                runs[kind].append(row)
        med = {kind: statistics.median(r["kb_per_call"] for r in rs) for kind, rs in runs.items()}
        out[str(n)] = {
            "echo_kb_per_call": med["echo"],
            "huashu_kb_per_call": med["huashu"],
            "runs": runs,
        }
    return out


#: ``python -m bench store``: the stores compared, by name → BENCH_STORE value.
STORES = {
    "memory": "memory",
    "sqlite": "sqlite",
    "postgresql": os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/huashu_bench"
    ),
}


def run_store(calls: int, seconds: float, repeats: int, procs: int) -> dict[str, Any]:
    """Alert latency with the store off (memory) and on (SQLite, PostgreSQL), interleaved run
    by run; medians, and each store's p50/p99 against memory's in the same run."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in STORES}
    for _ in range(repeats):
        for name, store in STORES.items():
            row = load_once("huashu", calls, seconds, procs, store=store)
            row["store"] = name
            runs[name].append(row)
            _progress(row)
    out: dict[str, Any] = {}
    for name in STORES:
        median = _median(runs[name])
        added_p99 = [
            None if r["p99_ms"] is None or m["p99_ms"] is None else r["p99_ms"] - m["p99_ms"]
            for r, m in zip(runs[name], runs["memory"], strict=True)
        ]
        out[name] = {
            **{k: median[k] for k in ("lost", "p50_ms", "p99_ms", "p999_ms")},
            "server_cpu_us_per_msg": median["server_cpu_us_per_msg"],
            "server_rss_mb": median["server_rss_mb"],
            "added_p99_ms_by_run": [None if a is None else round(a, 2) for a in added_p99],
            "added_p99_ms": _median_of([a for a in added_p99 if a is not None]),
        }
    return out
