"""`python -m bench [engine]`: run the benchmarks, print a table, write bench/results/*.json."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from bench import engine

OUT = Path(__file__).resolve().parent / "results"


def main(argv: list[str]) -> int:
    which = argv or ["engine"]
    OUT.mkdir(exist_ok=True)
    for name in which:
        if name != "engine":
            print(f"unknown benchmark {name!r}; known: engine", file=sys.stderr)
            return 2
        results = engine.run()
        record = {
            "benchmark": name,
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"python": platform.python_version(), "processor": platform.machine()},
            "results": results,
        }
        (OUT / f"{name}.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
        print(f"{'lexicon':<18}{'measure':<16}{'p50 µs':>9}{'p99 µs':>9}{'p50 ×':>8}{'p99 ×':>8}")
        for lexicon, figures in results.items():
            for key in ("bare_scan", "engine_partial", "engine_final"):
                f = figures[key]
                print(
                    f"{lexicon:<18}{key:<16}{f['p50_us']:>9}{f['p99_us']:>9}"
                    f"{f.get('p50_ratio', ''):>8}{f.get('p99_ratio', ''):>8}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
