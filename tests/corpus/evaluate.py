"""How well the matching does: recall on labelled forbidden utterances, false alarms on compliant
ones, and false alarms on real call-centre text by others (read in place, never copied).

``make evaluate`` (``python -m tests.corpus.evaluate``) prints the figures;
``tests/test_evaluation.py`` holds them at the targets. Development tooling: it reads the
repository's corpus and ``../shared``, so it lives beside the corpus, not in the service.

The labelled corpus lives in ``tests/corpus/``:

- ``positives.tsv``: ``category<TAB>form<TAB>text`` — an agent utterance that must raise
  ``forbidden.<category>``; ``form`` is ``exact`` (the phrase as the norm writes it), ``noisy``
  (as ASR hands it over: homophones, fillers, stutters, spaces, traditional characters, spoken
  digits) or ``reworded`` (the same idea with a word more or less);
- ``compliant.tsv``: ``category<TAB>text`` — an agent utterance that must raise nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.engine.compiled import CompiledScript
from app.engine.normalize import normalize_text
from app.engine.offline import check_segments, check_utterance
from app.lexicon_check import seretod_agent_turns, stc3_helpdesk_turns

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
REAL = ROOT.parent / "shared" / "data" / "real"
#: The frozen evaluation set written from the norms by someone who never saw the matcher
#: (its README). Read in place; only aggregate figures are ever printed from it: its sentences
#: are not to be read while the matching is designed, so no report shows one.
INDEPENDENT = ROOT / "tests" / "independent"
#: Its kinds that count towards the recall target (free paraphrase does not).
INDEPENDENT_TARGET_KINDS = (
    "exact",
    "unpunctuated",
    "inserted",
    "dropped",
    "reordered",
    "homophone",
    "traditional",
    "filler",
    "split",
)


def alerts_on_words(compiled: CompiledScript, text: str) -> list[dict[str, Any]]:
    """Alerts an agent's screen would show for these words: forbidden phrases and 催挂/bare 什么
    (not the script's timing or greeting rules, which depend on the moment, not the words)."""
    return [
        a
        for a in check_utterance(compiled, text).alerts
        if a["category"] in ("forbidden", "behaviour")
    ]


def read_tsv(path: Path, columns: int) -> list[tuple[str, ...]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = tuple(line.split("\t"))
        if len(parts) != columns:
            raise ValueError(f"{path}:{number}: expected {columns} tab-separated columns")
        rows.append(parts)
    return rows


@dataclass
class Rate:
    hits: int = 0
    total: int = 0

    def add(self, hit: bool) -> None:
        self.hits += hit
        self.total += 1

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.value:.4f} ({self.hits}/{self.total})"


@dataclass
class Figures:
    recall: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    recall_by_category: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    missed: list[tuple[str, str, str]] = field(default_factory=list)
    false_alarms: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    alerted: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    match_kinds: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "recall": {k: round(v.value, 4) for k, v in self.recall.items()},
            "recall_by_category": {
                k: round(v.value, 4) for k, v in self.recall_by_category.items()
            },
            "false_alarms": {k: round(v.value, 4) for k, v in self.false_alarms.items()},
            "counts": {
                **{f"recall.{k}": v.total for k, v in self.recall.items()},
                **{f"false_alarms.{k}": v.total for k, v in self.false_alarms.items()},
            },
            "match_kinds": dict(self.match_kinds),
        }


def evaluate_corpus(compiled: CompiledScript, corpus: Path = CORPUS) -> Figures:
    figures = Figures()
    for category, form, text in read_tsv(corpus / "positives.tsv", 3):
        rules = {a["rule"] for a in alerts_on_words(compiled, text)}
        hit = f"forbidden.{category}" in rules
        figures.recall[form].add(hit)
        figures.recall_by_category[category].add(hit)
        if not hit:
            figures.missed.append((category, form, text))
    noisy = Rate()
    for form in ("noisy", "reworded"):
        noisy.hits += figures.recall[form].hits
        noisy.total += figures.recall[form].total
    figures.recall["noisy_and_reworded"] = noisy
    for category, text in read_tsv(corpus / "compliant.tsv", 2):
        alerts = alerts_on_words(compiled, text)
        figures.false_alarms["compliant"].add(bool(alerts))
        figures.false_alarms[f"compliant.{category}"].add(bool(alerts))
        for alert in alerts:
            figures.match_kinds[alert["match"]] += 1
            figures.alerted["compliant"].append((text, alert["rule"]))
    return figures


#: The real text by others, read by the same readers as ``huashu lexicon check``.
REAL_SETS = {"seretod_agent": seretod_agent_turns, "stc3_helpdesk": stc3_helpdesk_turns}


def evaluate_real(
    compiled: CompiledScript, real: Path = REAL, figures: Figures | None = None
) -> Figures:
    """False alarms on real text by others; raises FileNotFoundError when the data is absent."""
    figures = figures or Figures()
    for name, turns in REAL_SETS.items():
        for text in turns(real):
            alerts = alerts_on_words(compiled, text)
            figures.false_alarms[name].add(bool(alerts))
            for alert in alerts:
                figures.alerted[name].append((text, alert["rule"]))
    return figures


def read_tsv_with_header(path: Path, columns: int) -> list[tuple[str, ...]]:
    """A TSV whose first line names its columns (the independent set's files)."""
    rows = read_tsv(path, columns)
    return rows[1:]


@dataclass
class IndependentFigures:
    """Aggregates only (see :data:`INDEPENDENT`)."""

    #: By kind, and ``target`` (every kind but paraphrase): the utterance raised a forbidden alert.
    recall: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    #: The same, counting only an alert of the row's own phrase.
    own_phrase: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    #: By kind and ``all``: compliant utterances that raised a forbidden alert.
    false_alarms: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    #: The forbidden utterances said by the customer that raised an alert (must be none).
    customer: Rate = field(default_factory=Rate)
    #: Forbidden utterances that raised more than one forbidden alert.
    several: Rate = field(default_factory=Rate)

    def to_json(self) -> dict[str, Any]:
        return {
            "recall": {k: round(v.value, 4) for k, v in sorted(self.recall.items())},
            "own_phrase": {k: round(v.value, 4) for k, v in sorted(self.own_phrase.items())},
            "false_alarms": {k: round(v.value, 4) for k, v in sorted(self.false_alarms.items())},
            "customer": round(self.customer.value, 4),
        }


def _forbidden_alerts(compiled: CompiledScript, text: str, speaker: str = "agent") -> list[Any]:
    segments = text.split("|")
    alerts = check_segments(compiled, segments, speaker)  # type: ignore[arg-type]
    return [a for a in alerts if a["category"] == "forbidden"]


def evaluate_independent(compiled: CompiledScript, root: Path = INDEPENDENT) -> IndependentFigures:
    """Recall by kind and false alarms on the independent set; a ``split`` row is two
    consecutive agent segments (``first|second``). Alerts of the forbidden category only (its
    README: 催挂 on prescribed harassment phrases is a behaviour rule, not a 禁语)."""
    figures = IndependentFigures()
    for kind, _norm, phrase, text in read_tsv_with_header(root / "forbidden.tsv", 4):
        alerts = _forbidden_alerts(compiled, text)
        own = normalize_text(phrase)
        hit = bool(alerts)
        own_hit = any(normalize_text(a["phrase"]) == own for a in alerts)
        figures.recall[kind].add(hit)
        figures.own_phrase[kind].add(own_hit)
        figures.several.add(len(alerts) > 1)
        if kind in INDEPENDENT_TARGET_KINDS:
            figures.recall["target"].add(hit)
            figures.own_phrase["target"].add(own_hit)
        figures.customer.add(bool(_forbidden_alerts(compiled, text, "customer")))
    for kind, text in read_tsv_with_header(root / "compliant.tsv", 2):
        alerted = bool(_forbidden_alerts(compiled, text))
        figures.false_alarms[kind].add(alerted)
        figures.false_alarms["all"].add(alerted)
    return figures


def report_independent(figures: IndependentFigures) -> str:
    lines = ["independent set (tests/independent; aggregates only):"]
    lines.append("  recall by kind (any forbidden alert / an alert of the row's own phrase):")
    for kind, rate in sorted(figures.recall.items()):
        lines.append(f"    {kind:<20}{rate}   own phrase {figures.own_phrase[kind]}")
    lines.append("  false alarms on its compliant utterances (a forbidden alert):")
    for kind, rate in sorted(figures.false_alarms.items()):
        lines.append(f"    {kind:<20}{rate}")
    lines.append(f"  forbidden utterances said by the customer that alerted: {figures.customer}")
    lines.append(f"  forbidden utterances with more than one alert: {figures.several}")
    return "\n".join(lines)


def report(figures: Figures, show: int = 40) -> str:
    lines = ["recall (positives must raise forbidden.<category>):"]
    for form, rate in sorted(figures.recall.items()):
        lines.append(f"  {form:<22}{rate}")
    lines.append("recall by category:")
    for category, rate in sorted(figures.recall_by_category.items()):
        lines.append(f"  {category:<22}{rate}")
    lines.append("false alarms (share of utterances that raised any alert on their words):")
    for name, rate in sorted(figures.false_alarms.items()):
        lines.append(f"  {name:<22}{rate}")
    if figures.missed:
        lines.append(f"missed positives ({len(figures.missed)}):")
        lines.extend(f"  {c}\t{f}\t{t}" for c, f, t in figures.missed[:show])
    for name, items in sorted(figures.alerted.items()):
        lines.append(f"alerted in {name} ({len(items)}):")
        lines.extend(f"  {rule}\t{text[:80]}" for text, rule in items[:show])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from app.config import Settings
    from app.scripts.loader import load_library

    parser = argparse.ArgumentParser(
        prog="python -m tests.corpus.evaluate",
        description="recall and false alarms on the corpus and on real text",
    )
    parser.add_argument("--script", default="cmcc-10086")
    parser.add_argument("--real", help="folder of real text (default ../shared/data/real)")
    parser.add_argument("--show", type=int, default=40, help="utterances to list per section")
    args = parser.parse_args(argv)
    library = load_library(Settings().scripts_dir)
    script = library.scripts[args.script]
    compiled = CompiledScript(script, library.lexicon_for(script))
    figures = evaluate_corpus(compiled)
    real = Path(args.real) if args.real else REAL
    if real.is_dir():
        evaluate_real(compiled, real, figures)
    else:
        print(f"(no real data at {real}: real-text figures left out)", file=sys.stderr)
    print(report(figures, show=args.show))
    if INDEPENDENT.is_dir():
        print(report_independent(evaluate_independent(compiled)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
