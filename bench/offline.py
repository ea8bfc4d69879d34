"""Offline checking throughput: ``huashu check``'s reading and checking of recorded calls, in
calls a second, over ``BENCH_OFFLINE_WORKERS`` processes (2: the machine's cores).

Each call is one PROTOCOL JSON Lines file, as ``huashu check`` reads them: ``start``, the
answer, 40 fragments — 8 utterances, agent and customer in turn, each 4 growing partials and its
final, words from the compliant corpus (one call in four with a forbidden phrase) — and the
hangup. Measured: discovering the files, reading, checking and handing every result back to the
parent (what ``huashu check`` does before it writes its CSV and page); the CSV and HTML of the
same results are timed apart, as is one process alone.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from app.check.output import render_html, write_csv
from app.check.readers import Options, discover
from app.check.runner import check_all, load_scripts
from bench.engine import compliant_lines

ROOT = Path(__file__).resolve().parents[1]
#: Utterances a call, and partials each (then its final): 8 × 5 = 40 fragments.
UTTERANCES = 8
PARTIALS = 4
FORBIDDEN = "这个真不关我的事"


def write_calls(directory: Path, count: int, seed: int = 5) -> None:
    """``count`` calls of 40 fragments, one JSON Lines file each."""
    rng = random.Random(seed)
    lines = [t for t in compliant_lines() if len(t) >= 8]
    for n in range(count):
        messages: list[dict[str, Any]] = [
            {
                "type": "start",
                "script": "cmcc-10086",
                "call_type": "consult",
                "agent": {"id": f"A{1000 + n % 50}", "work_no": str(1000 + n % 50)},
                "ring_at": "2026-11-22T10:00:00+08:00",
            },
            {"type": "event", "name": "answered", "at": "2026-11-22T10:00:04+08:00"},
        ]
        at = 500
        for u in range(UTTERANCES):
            speaker = "agent" if u % 2 == 0 else "customer"
            text = rng.choice(lines)
            if n % 4 == 0 and u == 4:
                text = FORBIDDEN + text
            took = 220 * len(text)
            for p in range(1, PARTIALS + 2):
                final = p == PARTIALS + 1
                cut = len(text) if final else max(1, len(text) * p // (PARTIALS + 1))
                messages.append(
                    {
                        "type": "fragment",
                        "speaker": speaker,
                        "segment": f"{speaker[0]}{u}",
                        "text": text[:cut],
                        "final": final,
                        "start_ms": at,
                        "end_ms": at + took * cut // len(text),
                    }
                )
            at += took + 400
        messages.append(
            {"type": "event", "name": "hangup", "by": "customer", "at": "2026-11-22T10:01:30+08:00"}
        )
        body = "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)
        (directory / f"call-{n:05d}.jsonl").write_text(body, encoding="utf-8")


def run(calls: int = 4000, workers: int = 2, repeats: int = 3) -> dict[str, Any]:
    load_scripts(ROOT / "scripts_data")
    options = Options()
    with tempfile.TemporaryDirectory(prefix="huashu-bench-") as tmp:
        directory = Path(tmp)
        write_calls(directory, calls)
        rates: list[float] = []
        results = []
        for _ in range(repeats):
            started = time.perf_counter()
            sources = discover([directory])
            results = [r for _, part in check_all(sources, options, workers) for r in part]
            rates.append(len(results) / (time.perf_counter() - started))
        assert len(results) == calls and all(r.error is None for r in results)
        alone_calls = min(calls, 1000)
        started = time.perf_counter()
        sources = discover([directory])[:alone_calls]
        alone = sum(len(part) for _, part in check_all(sources, options, 1))
        alone_rate = alone / (time.perf_counter() - started)
        started = time.perf_counter()
        write_csv(results, directory / "calls.csv")
        render_html(results, "bench", "now")
        outputs_s = time.perf_counter() - started
    fragments = sum(r.fragments for r in results)
    return {
        "calls": calls,
        "fragments_per_call": fragments / len(results),
        "workers": workers,
        "calls_per_s": round(statistics.median(rates)),
        "calls_per_s_by_run": [round(r) for r in rates],
        "one_process_calls_per_s": round(alone_rate),
        "csv_and_html_s": round(outputs_s, 2),
        "findings": sum(len(r.findings) for r in results),
    }
