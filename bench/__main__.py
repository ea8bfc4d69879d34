"""`python -m bench [engine] [load] [capacity] [memory] [offline] [store] [longcall] [soak]
[workers] [redis] [sessionmem]`
(`make bench` runs the first five): run the benchmarks, print tables, write
bench/results/<name>.json.

Environment (defaults in brackets):
- BENCH_CALLS [1000]: concurrent calls for ``load`` (comma-separated sizes);
- BENCH_SECONDS [10]: length of each load window;
- BENCH_REPEATS [3]: runs per size for ``load`` and ``memory`` (medians are reported);
- BENCH_STEPS [250,500,1000,1500,2000,2500,3000,4000,5000,6000,8000]: ``capacity`` steps,
  then bisection (BENCH_BISECT [2] times); BENCH_CAPACITY_REPEATS [1];
- BENCH_IDLE [1000,10000]: idle calls for ``memory``;
- BENCH_CLIENTS [2]: client processes (more are used when calls exceed ~9,000: file descriptors);
- BENCH_WS: a uvicorn WebSocket implementation instead of Huashu's own (`app.ops.websocket`);
- BENCH_LOOP [uvloop]: uvicorn's event loop for the servers (``asyncio``: the pure-Python loop,
  whose iterations a profiler can time);
- ``soak``: BENCH_CALLS [2000] connections, 5 % stuck listeners and 5 % malformed senders,
  BENCH_SECONDS [60]; BENCH_RSS_CEILING_MB [1024] is the ceiling it checks; BENCH_RATE [0.5]:
  fragments a second of each well-behaved call;
- BENCH_FRAGMENTS [20000]: the length of the one call of ``longcall`` (RSS as it goes on);
- BENCH_STORE [memory]: the store of the Huashu server for ``load``, ``capacity`` and ``memory``
  (``memory``, ``sqlite`` or a PostgreSQL URL); ``store`` compares memory, SQLite and
  PostgreSQL (BENCH_POSTGRES_URL [postgresql+asyncpg://postgres@127.0.0.1:5432/huashu_bench]);
- ``workers``: capacity of one process (in-process bus) against ``--workers 2`` (Redis between
  them), both on PostgreSQL; BENCH_STEPS, BENCH_BISECT, BENCH_CAPACITY_REPEATS as ``capacity``;
- ``redis``: alert latency with the Redis bus against the in-process one at BENCH_CALLS[0]
  calls on one instance, then a listener on another instance against one on the same
  (BENCH_PROBE_CALLS [200] calls; PostgreSQL at BENCH_POSTGRES_URL, Redis at BENCH_REDIS_URL
  [redis://127.0.0.1:6379/0]);
- BENCH_OFFLINE_CALLS [4000], BENCH_OFFLINE_WORKERS [2]: ``offline``'s 40-fragment calls and
  processes (its runs: BENCH_REPEATS);
- BENCH_SESSIONS [2000]: ``sessionmem``'s idle call sessions per script (the engine alone, no
  server: tracemalloc bytes per session, deterministic).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "results"


BENCH_ROWS = (
    "bare_scan",
    "engine_partial",
    "engine_final",
    "bare_scan_streaming",
    "engine_streaming_partial",
    "engine_streaming_final",
)


def _module(name: str) -> Any:
    """A benchmark's module, imported when it runs: one benchmark's imports do not stop
    another from running."""
    return import_module(f"bench.{name}")


def _ints(name: str, default: str) -> list[int]:
    return [int(n) for n in os.environ.get(name, default).split(",") if n.strip()]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _print_engine(results: dict[str, Any]) -> None:
    print(f"{'lexicon':<18}{'measure':<26}{'p50 µs':>9}{'p99 µs':>9}{'p50 ×':>8}{'p99 ×':>8}")
    for lexicon, figures in results.items():
        for key in BENCH_ROWS:
            if key not in figures:
                continue
            f = figures[key]
            print(
                f"{lexicon:<18}{key:<26}{f['p50_us']:>9}{f['p99_us']:>9}"
                f"{f.get('p50_ratio', ''):>8}{f.get('p99_ratio', ''):>8}"
            )


LOAD_COLS = (
    ("server", 8),
    ("calls", 7),
    ("msgs_per_s", 11),
    ("lost", 6),
    ("p50_ms", 8),
    ("p99_ms", 8),
    ("p999_ms", 9),
    ("server_cpu_us_per_msg", 12),
    ("server_cpu_share", 11),
    ("server_rss_mb", 9),
    ("client_cpu_share", 11),
    ("client_send_lag_p99_ms", 11),
    ("runs", 5),
)
HEADS = {
    "server_cpu_us_per_msg": "srv µs/msg",
    "server_cpu_share": "srv cpu",
    "server_rss_mb": "rss MB",
    "client_cpu_share": "client cpu",
    "client_send_lag_p99_ms": "lag p99 ms",
    "msgs_per_s": "msgs/s",
}


def _print_load(results: dict[str, Any]) -> None:
    print("".join(f"{HEADS.get(c, c):>{w}}" for c, w in LOAD_COLS))
    for figures in results.values():
        for kind in ("echo", "huashu"):
            row = figures[kind]
            print("".join(f"{row.get(c)!s:>{w}}" for c, w in LOAD_COLS))
        print(
            f"{'huashu/echo':>15}  p50 ×{figures['p50_ratio']}  p99 ×{figures['p99_ratio']}"
            f"  cpu/msg ×{figures['cpu_ratio']}"
        )
        print(
            f"{'':>15}  p99 × by run {figures['p99_ratio_by_run']}"
            f" (median ×{figures['p99_ratio_median_of_runs']})"
        )
        for n, gc in enumerate(figures["huashu"].get("server_gc") or [], start=1):
            if gc:
                full = gc.get("gen2", {})
                print(
                    f"{'':>15}  huashu run {n}: {full.get('collections')} full collections,"
                    f" {full.get('seconds')} s, {full.get('over_10ms')} over 10 ms;"
                    f" all pauses over 10 ms: {sum(g['over_10ms'] for g in gc.values())}"
                )


def _print_capacity(results: dict[str, Any]) -> None:
    print(f"capacity (largest N with p99 < {results['limit_p99_ms']} ms, no lost alert)")
    for kind in ("echo", "huashu"):
        for run in results["runs"][kind]:
            steps = ", ".join(_step(r) for r in run["steps"])
            print(f"  {kind:<7} {run['capacity']:>6}   p99 by N: {steps}")
    print(
        f"  echo {results['echo_capacity']}  huashu {results['huashu_capacity']}"
        f"  ratio {results['ratio']}"
    )


def _step(row: dict[str, Any]) -> str:
    """One capacity step: its p99 and lost alerts, or that its calls were not all started."""
    if "setup_failed" in row:
        return f"{row['calls']}:not started"
    return f"{row['calls']}:{row['p99_ms']}ms" + (f"/{row['lost']}lost" if row["lost"] else "")


def _print_memory(results: dict[str, Any]) -> None:
    print(f"{'idle calls':>10}{'echo KB/call':>14}{'huashu KB/call':>16}")
    for n, figures in results.items():
        print(f"{n:>10}{figures['echo_kb_per_call']:>14}{figures['huashu_kb_per_call']:>16}")


def _print_store(results: dict[str, Any]) -> None:
    print(
        f"{'store':<12}{'lost':>6}{'p50 ms':>8}{'p99 ms':>8}{'p99.9':>8}{'µs/msg':>8}"
        f"{'rss MB':>8}{'+p99 ms':>9}  by run"
    )
    for name, f in results.items():
        print(
            f"{name:<12}{f['lost']!s:>6}{f['p50_ms']!s:>8}{f['p99_ms']!s:>8}{f['p999_ms']!s:>8}"
            f"{f['server_cpu_us_per_msg']!s:>8}{f['server_rss_mb']!s:>8}{f['added_p99_ms']!s:>9}"
            f"  {f['added_p99_ms_by_run']}"
        )


def _print_longcall(results: dict[str, Any]) -> None:
    for name, f in results.items():
        points = ", ".join(f"{n}: {mb} MB" for n, mb in f["rss_mb_by_fragments"])
        print(f"{name:<12} {points}")
        growth = f["kb_per_1000_fragments_after_the_first_checkpoint"]
        print(f"{'':<12} +{growth} KB per 1,000 fragments")


def _print_offline(results: dict[str, Any]) -> None:
    print(
        f"{results['calls']} calls of {results['fragments_per_call']:.0f} fragments, "
        f"{results['workers']} processes: {results['calls_per_s']} calls/s "
        f"(runs {results['calls_per_s_by_run']}); one process: "
        f"{results['one_process_calls_per_s']} calls/s; CSV and HTML of them all: "
        f"{results['csv_and_html_s']} s"
    )


def _print_sessionmem(results: dict[str, Any]) -> None:
    print(f"{results['sessions']} idle sessions per script, engine {results['engine']}")
    for name, f in results.items():
        if not isinstance(f, dict):
            continue
        print(f"  {name:<12} {f['bytes_per_session']:>8} bytes/session (tracemalloc)")
        for site in f["by_line"][:6]:
            print(
                f"    {site['bytes_per_session']:>8}  {site['blocks_per_session']:>6} blocks"
                f"  {site['site']}"
            )
        print(f"    by field ({f['by_field_total']} bytes, sys.getsizeof):")
        for path, size in list(f["by_field"].items())[:12]:
            print(f"    {size:>8}  {path}")


def _print_soak(results: dict[str, Any]) -> None:
    print(
        f"{results['well_behaved_calls']} well-behaved calls, {results['stuck_listeners']} stuck "
        f"listeners, {results['malformed_senders']} malformed senders, {results['seconds']} s, "
        f"{results['fragments_per_s_per_call']} fragments/s a call"
    )
    for name in ("alone", "beside_bad_clients"):
        print(f"  {name:<20} {results[name]}")
    print(
        f"  p99 ×{results['p99_ratio']} (goal ≤ ×2); RSS under {results['rss_ceiling_mb']} MB: "
        f"{results['rss_under_ceiling']}"
    )


def _procs() -> int:
    return int(_env("BENCH_CLIENTS", "2"))


def _print_json(results: dict[str, Any]) -> None:
    """The figures without the run-by-run detail (that is in the JSON file)."""
    brief = {k: v for k, v in results.items() if k != "runs"}
    if "across_instances" in brief:
        brief["across_instances"] = {
            k: v for k, v in brief["across_instances"].items() if k != "runs"
        }
    print(json.dumps(brief, indent=2, ensure_ascii=False))


RUNS: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]]] = {
    "engine": (lambda: _module("engine").run(), _print_engine),
    "load": (
        lambda: _module("load").run_load(
            _ints("BENCH_CALLS", "1000"),
            float(_env("BENCH_SECONDS", "10")),
            int(_env("BENCH_REPEATS", "3")),
            _procs(),
        ),
        _print_load,
    ),
    "capacity": (
        lambda: _module("load").run_capacity(
            _ints("BENCH_STEPS", "250,500,1000,1500,2000,2500,3000,4000,5000,6000,8000"),
            float(_env("BENCH_SECONDS", "10")),
            _procs(),
            int(_env("BENCH_BISECT", "2")),
            int(_env("BENCH_CAPACITY_REPEATS", "1")),
        ),
        _print_capacity,
    ),
    "store": (
        lambda: _module("load").run_store(
            int(_env("BENCH_CALLS", "1000")),
            float(_env("BENCH_SECONDS", "10")),
            int(_env("BENCH_REPEATS", "3")),
            _procs(),
        ),
        _print_store,
    ),
    "longcall": (
        lambda: _module("longcall").run_longcall(int(_env("BENCH_FRAGMENTS", "20000"))),
        _print_longcall,
    ),
    "memory": (
        lambda: _module("load").run_memory(
            _ints("BENCH_IDLE", "1000,10000"), _procs(), int(_env("BENCH_REPEATS", "3"))
        ),
        _print_memory,
    ),
    "soak": (
        lambda: _module("soak").run_soak(
            int(_env("BENCH_CALLS", "2000")),
            float(_env("BENCH_SECONDS", "60")),
            _procs(),
            float(_env("BENCH_RSS_CEILING_MB", "1024")),
            float(_env("BENCH_RATE", "0.5")),
        ),
        _print_soak,
    ),
    "workers": (
        lambda: _module("scale").run_workers(
            _ints("BENCH_STEPS", "250,500,1000,1500,2000,2500,3000,4000,5000,6000,8000"),
            float(_env("BENCH_SECONDS", "10")),
            _procs(),
            int(_env("BENCH_BISECT", "2")),
            int(_env("BENCH_CAPACITY_REPEATS", "1")),
        ),
        _print_json,
    ),
    "redis": (
        lambda: _module("scale").run_redis(
            _ints("BENCH_CALLS", "1000")[0],
            float(_env("BENCH_SECONDS", "10")),
            int(_env("BENCH_REPEATS", "3")),
            _procs(),
            int(_env("BENCH_PROBE_CALLS", "200")),
        ),
        _print_json,
    ),
    "offline": (
        lambda: _module("offline").run(
            int(_env("BENCH_OFFLINE_CALLS", "4000")),
            int(_env("BENCH_OFFLINE_WORKERS", "2")),
            int(_env("BENCH_REPEATS", "3")),
        ),
        _print_offline,
    ),
    "sessionmem": (
        lambda: _module("sessionmem").run(int(_env("BENCH_SESSIONS", "2000"))),
        _print_sessionmem,
    ),
}


def main(argv: list[str]) -> int:
    which = argv or ["engine"]
    OUT.mkdir(exist_ok=True)
    for name in which:
        if name not in RUNS:
            print(f"unknown benchmark {name!r}; known: {', '.join(RUNS)}", file=sys.stderr)
            return 2
    for name in which:
        run, show = RUNS[name]
        print(f"== {name}", file=sys.stderr, flush=True)
        results = run()
        record = {
            "benchmark": name,
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {
                "python": platform.python_version(),
                "processor": platform.machine(),
                "cpus": os.cpu_count(),
            },
            "results": results,
        }
        (OUT / f"{name}.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
        print(f"\n{name}:")
        show(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
