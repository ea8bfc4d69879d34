"""`python -m bench [engine] [load] [memory]`: run benchmarks, print tables, write
bench/results/<name>.json. Load sizes: BENCH_CALLS (e.g. 100,500,1000), BENCH_SECONDS,
BENCH_IDLE (idle calls for the memory figure)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import engine, load

OUT = Path(__file__).resolve().parent / "results"


BENCH_ROWS = (
    "bare_scan",
    "engine_partial",
    "engine_final",
    "bare_scan_streaming",
    "engine_streaming_partial",
    "engine_streaming_final",
)


def _print_table(results: dict[str, Any]) -> None:
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


def _print_load(results: dict[str, Any]) -> None:
    cols = (
        "calls",
        "messages",
        "lost_alerts",
        "p50_ms",
        "p99_ms",
        "p999_ms",
        "server_cpu_us_per_message",
        "server_cpu_share",
        "server_rss_mb",
        "errors",
    )
    print(f"{'server':<8}" + "".join(f"{c[:14]:>16}" for c in cols))
    for kind, by_calls in results.items():
        for figures in by_calls.values():
            print(f"{kind:<8}" + "".join(f"{figures[c]!s:>16}" for c in cols))


RUNS: dict[str, Callable[[], dict[str, Any]]] = {
    "engine": engine.run,
    "load": lambda: load.run_load(
        [int(n) for n in os.environ.get("BENCH_CALLS", "100,500,1000").split(",")],
        float(os.environ.get("BENCH_SECONDS", "20")),
    ),
    "memory": lambda: load.run_memory(
        [int(n) for n in os.environ.get("BENCH_IDLE", "1000").split(",")]
    ),
}


def main(argv: list[str]) -> int:
    which = argv or ["engine"]
    OUT.mkdir(exist_ok=True)
    for name in which:
        if name not in RUNS:
            print(f"unknown benchmark {name!r}; known: {', '.join(RUNS)}", file=sys.stderr)
            return 2
        results = RUNS[name]()
        record = {
            "benchmark": name,
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"python": platform.python_version(), "processor": platform.machine()},
            "results": results,
        }
        (OUT / f"{name}.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
        if name == "engine":
            _print_table(results)
        elif name == "load":
            _print_load(results)
        else:
            print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
