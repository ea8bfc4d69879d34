"""Per-fragment cost of the pure engine next to a bare pyahocorasick scan of the same text.

The figure is the ratio: both are measured in the same run, interleaved, on the same fragments,
so the machine's noise touches both alike. Each measured call is the full
``CallSession.handle(Fragment(...))``, the Fragment's construction included (its fields, as the
wire gives them, are made before).

- ``engine_partial`` / ``engine_final``: 10 characters of agent speech (cut from the compliant
  corpus) in a call under way: a partial of a new segment, then the same text as its final —
  every fragment a new segment, the engine's dearest case.
- ``engine_streaming_partial`` / ``engine_streaming_final``: whole agent utterances as an ASR
  streams them: partials that each extend the last by 2–3 characters, then the final. The bare
  scan next to them (``bare_scan_streaming``) scans each fragment's whole text, as a fragment
  carries it.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick

from app.engine import normalize, phonetic, prompts
from app.engine.compiled import CompiledScript
from app.engine.lexicon import Lexicon, LexiconEntry
from app.engine.messages import CallEvent, CallSetup, Fragment
from app.engine.phases import CallType
from app.engine.session import CallSession
from app.scripts.loader import load_library

ROOT = Path(__file__).resolve().parents[1]
#: Characters of ordinary service talk, for synthetic phrases and fragments.
TALK = (
    "您好请问有什么可以帮您的话费套餐流量查询一下这个月扣费是多少元我帮您看看宽带故障报修"
    "工程师上门时间明天上午下午可以吗业务办理取消开通短信验证码密码营业厅身份证实名认证好的"
    "没问题稍等马上为您处理感谢来电祝生活愉快再见不客气对不起让久等了能听清楚声音大一点"
)


def synthetic_lexicon(base: Lexicon, size: int, seed: int = 1) -> Lexicon:
    """``base`` plus random 4–8 character phrases up to ``size`` entries."""
    rng = random.Random(seed)
    entries = list(base.entries)
    seen = {e.phrase for e in entries}
    while len(entries) < size:
        phrase = "".join(rng.choice(TALK) for _ in range(rng.randint(4, 8)))
        if phrase not in seen:
            seen.add(phrase)
            entries.append(
                LexiconEntry(phrase=phrase, category=base.entries[0].category, source="synthetic")
            )
    return base.model_copy(update={"entries": tuple(entries)})


def compliant_lines() -> list[str]:
    """The agent utterances of the compliant corpus: ordinary talk, few hits."""
    return [
        line.split("\t")[1]
        for line in (ROOT / "tests" / "corpus" / "compliant.tsv").read_text("utf-8").splitlines()
        if line.strip()
    ]


def fragments(count: int, seed: int = 2) -> list[str]:
    """10-character pieces of agent speech (the compliant corpus: ordinary talk, few hits)."""
    rng = random.Random(seed)
    lines = compliant_lines()
    long_enough = [t for t in lines if len(t) >= 10]
    out = []
    while len(out) < count:
        text = rng.choice(long_enough)
        start = rng.randrange(len(text) - 9)
        out.append(text[start : start + 10])
    return out


@dataclass
class Figures:
    p50_us: float
    p99_us: float

    @classmethod
    def of(cls, samples: list[float]) -> Figures:
        samples = sorted(samples)
        return cls(
            round(statistics.median(samples) * 1e6, 2),
            round(samples[int(len(samples) * 0.99)] * 1e6, 2),
        )


def _bare_automaton(lexicon: Lexicon) -> Any:
    automaton = ahocorasick.Automaton()
    for entry in lexicon.entries:
        automaton.add_word(entry.phrase, entry.phrase)
    automaton.make_automaton()
    return automaton


#: The measured calls' answer time (epoch ms).
START = 1_795_312_980_000


def call_under_way(compiled: CompiledScript) -> CallSession:
    """A call answered at ``START``, greeted, the customer has spoken; the agent is answering."""
    session = CallSession(
        compiled,
        CallSetup(call_id="bench", script_id=compiled.script.id, call_type=CallType.CONSULT),
    )
    session.handle(CallEvent("answered", START), START)
    session.handle(Fragment("agent", "greeting", "上午好,中国移动,很高兴为您服务", True), START)
    session.handle(Fragment("customer", "c-0", "我想查一下话费", True), START)
    return session


def measure(compiled: CompiledScript, texts: list[str]) -> dict[str, Figures]:
    assert compiled.lexicon is not None
    bare = _bare_automaton(compiled.lexicon)
    start = START
    session = call_under_way(compiled)
    clock = time.perf_counter
    partial: list[float] = []
    final: list[float] = []
    baseline: list[float] = []
    ids = [f"a-{n}" for n in range(len(texts))]  # as the wire gives them: made already
    for n, text in enumerate(texts):
        wall = start + n * 250
        segment = ids[n]
        t0 = clock()
        list(bare.iter(text))
        t1 = clock()
        session.handle(Fragment("agent", segment, text, False), wall)
        t2 = clock()
        session.handle(Fragment("agent", segment, text, True), wall + 100)
        t3 = clock()
        baseline.append(t1 - t0)
        partial.append(t2 - t1)
        final.append(t3 - t2)
    return {
        "bare_scan": Figures.of(baseline),
        "engine_partial": Figures.of(partial),
        "engine_final": Figures.of(final),
    }


def utterances(count: int, seed: int = 3) -> list[str]:
    """Whole agent utterances (the compliant corpus) of 6 characters or more."""
    rng = random.Random(seed)
    lines = compliant_lines()
    long_enough = [t for t in lines if len(t) >= 6]
    return [rng.choice(long_enough) for _ in range(count)]


def measure_streaming(compiled: CompiledScript, texts: list[str]) -> dict[str, Figures]:
    """Each utterance as partials growing by 2–3 characters, then its final."""
    assert compiled.lexicon is not None
    bare = _bare_automaton(compiled.lexicon)
    start = START
    session = call_under_way(compiled)
    rng = random.Random(4)
    clock = time.perf_counter
    partial: list[float] = []
    final: list[float] = []
    baseline: list[float] = []
    wall = start
    for n, text in enumerate(texts):
        segment = f"s-{n}"
        cut = 0
        while True:
            cut = min(cut + rng.randint(2, 3), len(text))
            piece = text[:cut]
            last = cut == len(text)
            wall += 100
            t0 = clock()
            list(bare.iter(piece))
            t1 = clock()
            session.handle(Fragment("agent", segment, piece, last), wall)
            t2 = clock()
            baseline.append(t1 - t0)
            (final if last else partial).append(t2 - t1)
            if last:
                break
    return {
        "bare_scan_streaming": Figures.of(baseline),
        "engine_streaming_partial": Figures.of(partial),
        "engine_streaming_final": Figures.of(final),
    }


def run(repeats: int = 5, count: int = 20_000) -> dict[str, Any]:
    normalize.warm_up()
    phonetic.warm_up()
    prompts.warm_up()
    library = load_library(ROOT / "scripts_data")
    script = library.scripts["cmcc-10086"]
    full = library.lexicon_for(script)
    assert full is not None
    lexicons = {"full": full, "synthetic_10000": synthetic_lexicon(full, 10_000)}
    results: dict[str, Any] = {}
    texts = fragments(count)
    spoken = utterances(count // 10)
    for name, lexicon in lexicons.items():
        compiled = CompiledScript(script, lexicon)
        runs = [
            measure(compiled, texts) | measure_streaming(compiled, spoken) for _ in range(repeats)
        ]
        merged: dict[str, Any] = {}
        for key in runs[0]:
            merged[key] = {
                "p50_us": statistics.median(r[key].p50_us for r in runs),
                "p99_us": statistics.median(r[key].p99_us for r in runs),
            }
        for key, bare in (
            ("engine_partial", "bare_scan"),
            ("engine_final", "bare_scan"),
            ("engine_streaming_partial", "bare_scan_streaming"),
            ("engine_streaming_final", "bare_scan_streaming"),
        ):
            merged[key]["p50_ratio"] = round(merged[key]["p50_us"] / merged[bare]["p50_us"], 2)
            merged[key]["p99_ratio"] = round(merged[key]["p99_us"] / merged[bare]["p99_us"], 2)
        merged["phrases"] = len(lexicon.entries)
        results[name] = merged
    return results
