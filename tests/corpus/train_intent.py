"""Train the learned intent model, measure it on whole held-out files, export its weights.

``python -m tests.corpus.train_intent`` (needs the ``train`` extra: scikit-learn):

1. For each fold of :data:`FOLDS`, fits the model on the fold's training files and judges the
   fold's held-out files three ways — the script's cues alone, the model alone, and the two
   together as the engine combines them (:class:`app.engine.intent.IntentModel`) — and prints
   precision and recall of ``complaint`` and ``unclear_purpose`` per file, and how the hard
   negatives (denied, past and settled, about the channel) fared.
2. Fits the model on all our files and writes ``app/engine/models/intent-zh.json``: the weights,
   the features they are for, and their provenance (files and their digests, command, date, the
   held-out figures of step 1).

Same inputs, same weights: lbfgs from zeros on the files in a fixed order is deterministic, and
the weights are rounded to :data:`DIGITS` places and the lightest dropped (what ships is what was measured: the held-out
figures use the rounded weights). The independent sets are never read.

The model: one logistic regression per label over :func:`app.engine.learned.features` (the
character 1–3-grams of the normalized utterance, its beginning and end marked, and its length).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.engine.compiled import CompiledScript
from app.engine.intent import IntentModel
from app.engine.intent_spec import LearnedUse
from app.engine.learned import BEGIN, END, LENGTHS, MAX_N, MODELS, LearnedIntent, features
from app.engine.normalize import normalize_text
from app.scripts.loader import load_library
from tests.corpus.evaluate_intent import LABELS, SETS, IntentFigures, evaluate_intents, read_intents

ROOT = Path(__file__).resolve().parents[2]
#: Our labelled files (never the independent ones), in the order they are fitted.
#: intent_dev7 is not among them: fitted with it, the model cost intent_probe5 (never designed on)
#: an unclear line under its floor (tests/corpus/INTENT.md, ninth round); its fold below measures
#: the model that ships, which has not read it.
OURS = ("ours", "dev", "fresh", "dev2", "probe", "probe2", "dev3", "dev4", "dev5", "dev6")
#: (training files, held-out files): whole files, never lines drawn at random. The first fold
#: trains on what was written before intent_dev2 and tests on what was written after it; the last
#: on what was written before intent_dev3 (the purpose round's set) and tests on it; the sixth
#: round's fold trains on everything written before intent_dev4 and tests on it, the seventh
#: round's on everything written before intent_dev5, the eighth round's on everything written
#: before intent_dev6, the ninth round's on everything written before intent_dev7, the tenth
#: round's on what the shipping model is trained on, tested on intent_dev8, and the eleventh
#: round's the same, tested on intent_dev9. intent_probe4 to intent_probe9 are never trained on
#: (each measured only at its round's ends).
FOLDS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("ours", "dev", "fresh"), ("dev2", "probe", "probe2")),
    (("fresh", "dev2", "probe", "probe2", "dev3"), ("ours", "dev")),
    (("ours", "dev", "dev2", "probe", "probe2", "dev3"), ("fresh",)),
    (("ours", "dev", "fresh", "dev2", "probe", "probe2"), ("dev3",)),
    (("ours", "dev", "fresh", "dev2", "probe", "probe2", "dev3"), ("dev4",)),
    (("ours", "dev", "fresh", "dev2", "probe", "probe2", "dev3", "dev4"), ("dev5",)),
    (("ours", "dev", "fresh", "dev2", "probe", "probe2", "dev3", "dev4", "dev5"), ("dev6",)),
    (
        ("ours", "dev", "fresh", "dev2", "probe", "probe2", "dev3", "dev4", "dev5", "dev6"),
        ("dev7",),
    ),
    # the tenth round's: the model that ships (intent_dev7 left out, as the ninth round chose),
    # measured on intent_dev8, which it has not read
    (OURS, ("dev8",)),
    # the eleventh round's: the model that ships, measured on intent_dev9, which it has not read
    (OURS, ("dev9",)),
)
#: The inverse of the L2 penalty: scikit-learn's default, not tuned on any held-out file.
C = 1.0
#: Decimal places of an exported weight, and the smallest weight kept: the many n-grams seen once
#: or twice weigh next to nothing, and dropping them keeps the file a third of its size.
DIGITS = 3
PRUNE = 0.02
#: The probability at which the model adds a label the cues missed (the scripts'
#: ``intent.learned``): 0.8 is the lowest of 0.5–0.9 at which rules-or-model kept complaint
#: precision at 0.94 when replayed on our batches as each was first measured
#: (``python -m tests.corpus.replay_intent``, tests/corpus/INTENT.md).
THRESHOLD = 0.8
#: The probability at which it leaves the purpose unclear where the script names no topic: 0.7
#: kept precision at 0.99 on intent.tsv held out and lifted intent_dev3 held out (trained on
#: the files before it) from 0.685 to 0.728 (tests/corpus/INTENT.md, fifth round).
PURPOSE_THRESHOLD = 0.7
#: The probability at which it makes a complaint of an utterance that says nothing yet (no topic,
#: no complaint cue that weighs, mostly openers and generic words, an opener): 0.9 lifted
#: intent_dev5 held out (trained on the files before it) from 0.901 to 0.923 and changed no other
#: fold; 0.95 adds one line there, 0.99 costs intent.tsv held out a complaint. 0.9 is the lower of
#: the two that gain: it leaves the model more of the complaints no fold can tell about
#: (tests/corpus/INTENT.md, seventh round).
UNSAID_THRESHOLD = 0.9
#: The least probability of an unclear purpose at which an utterance the purpose words call
#: unsaid is asked its purpose (seventh round, tests/corpus/INTENT.md).
UNSAID_PURPOSE = 0.15
#: The probability at which it makes a complaint of an utterance that says no need at all (no
#: request, question, problem or grievance: the scripts' ``unclear_purpose.needs``): it reads a
#: hard day told at length as a grievance (我一个人在家 有时候都没人说话, 0.96). 0.97: above what
#: it gives intent_dev8's rambling lines, below what it gives the complaints its words miss
#: (tenth round, tests/corpus/INTENT.md).
NEEDLESS_THRESHOLD = 0.97
#: Each label's threshold, as the scripts' ``intent.learned`` sets them.
THRESHOLDS = {"complaint": THRESHOLD, "unclear_purpose": PURPOSE_THRESHOLD}
MODEL = MODELS / "intent-zh.json"
#: The kinds of negative line the cues take back and the model must leave alone.
HARD_NEGATIVES = ("negated", "past", "meta")


def rows_of(names: Sequence[str]) -> list[tuple[str, str, str]]:
    return [row for name in names for row in read_intents(SETS[name])]


def estimators(rows: Sequence[tuple[str, str, str]]) -> tuple[Any, dict[str, Any]]:
    """scikit-learn's vectorizer and one fitted logistic regression per label."""
    import numpy as np
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform([dict.fromkeys(features(normalize_text(t)), 1) for *_, t in rows])
    models = {}
    for label in LABELS:
        y = np.array([row[0] == label for row in rows])
        models[label] = LogisticRegression(C=C, max_iter=5000).fit(x, y)
    return vectorizer, models


def fit(rows: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """The model of ``rows`` as the engine reads it (``labels`` and ``features``)."""
    vectorizer, models = estimators(rows)
    names = vectorizer.get_feature_names_out()
    labels = {}
    for label, model in models.items():
        weights = {
            str(g): round(float(w), DIGITS)
            for g, w in sorted(zip(names, model.coef_[0], strict=True))
            if abs(w) >= PRUNE
        }
        labels[label] = {"bias": round(float(model.intercept_[0]), DIGITS), "weights": weights}
    return {
        "features": {"max_n": MAX_N, "lengths": list(LENGTHS), "marks": [BEGIN, END]},
        "labels": labels,
    }


def alone(model: LearnedIntent, rows: Sequence[tuple[str, str, str]]) -> dict[str, list[int]]:
    """The model without the cues: ``label → [tp, fp, fn]`` at :data:`THRESHOLDS` (a line
    judged a complaint is not also an unclear purpose, as in a call)."""
    counts = {label: [0, 0, 0] for label in LABELS}
    for gold, _, text in rows:
        grams = features(normalize_text(text))
        got = None
        for label in LABELS:
            if model.labels[label].probability(grams) >= THRESHOLDS[label]:
                got = label
                break
        for label in LABELS:
            counts[label][0] += got == label == gold
            counts[label][1] += got == label != gold
            counts[label][2] += gold == label != got
    return counts


def combined(compiled: CompiledScript, model: LearnedIntent) -> CompiledScript:
    """A copy of ``compiled`` whose intent asks ``model`` beside the cues, at THRESHOLDS."""
    spec = compiled.script.intent
    assert spec is not None
    # the fold's weights are not packaged: the use is built without the check that they are
    use = LearnedUse.model_construct(
        model="fold",
        complaint=THRESHOLD,
        unclear_purpose=PURPOSE_THRESHOLD,
        unsaid_complaint=UNSAID_THRESHOLD,
        unsaid_purpose=UNSAID_PURPOSE,
        needless_complaint=NEEDLESS_THRESHOLD,
    )
    with_model = copy.copy(compiled)
    with_model.intent = IntentModel(spec.model_copy(update={"learned": use}), learned=model)
    return with_model


def counts_of(figures: IntentFigures) -> dict[str, list[int]]:
    return {label: [s.tp, s.fp, s.fn] for label, s in figures.scores.items()}


def heldout(compiled: CompiledScript) -> dict[str, dict[str, Any]]:
    """Each fold's held-out files judged by the cues, the model and both: ``set → variant →
    label → [tp, fp, fn]``, and ``set → "hard" → variant → kind → [left alone, lines]``."""
    results: dict[str, dict[str, Any]] = {}
    rules_only = copy.copy(compiled)
    spec = compiled.script.intent
    assert spec is not None
    rules_only.intent = IntentModel(spec.model_copy(update={"learned": None}))
    for train, test in FOLDS:
        model = LearnedIntent.from_json(fit(rows_of(train)))
        both = combined(compiled, model)
        for name in test:
            rules = evaluate_intents(rules_only, SETS[name])
            with_model = evaluate_intents(both, SETS[name])
            results[name] = {
                "trained on": list(train),
                "rules": counts_of(rules),
                "model": alone(model, read_intents(SETS[name])),
                "combined": counts_of(with_model),
                "hard": {
                    variant: {
                        kind: figures.by_kind[("not_complaint", kind)]
                        for kind in HARD_NEGATIVES
                        if ("not_complaint", kind) in figures.by_kind
                    }
                    for variant, figures in (("rules", rules), ("combined", with_model))
                },
            }
    return results


def _pr(tp: int, fp: int, fn: int) -> str:
    precision = f"{tp / (tp + fp):.3f}" if tp + fp else "  —  "
    recall = f"{tp / (tp + fn):.3f}" if tp + fn else "  —  "
    return f"{precision} / {recall} ({tp}/{tp + fp}, {tp}/{tp + fn})"


def report(results: dict[str, dict[str, Any]]) -> str:
    """The held-out figures as printed (and as tests/corpus/INTENT.md quotes them)."""
    at = ", ".join(f"{label} {t}" for label, t in THRESHOLDS.items())
    lines = [f"held-out files, precision / recall at thresholds {at} (C={C}):"]
    for name, result in results.items():
        lines.append(f"  {name} (trained on {' + '.join(result['trained on'])}):")
        for label in LABELS:
            for variant in ("rules", "model", "combined"):
                lines.append(f"    {label:<16}{variant:<9}{_pr(*result[variant][label])}")
        for variant, kinds in result["hard"].items():
            alone_by_kind = ", ".join(f"{k} {a}/{n}" for k, (a, n) in kinds.items())
            if alone_by_kind:
                lines.append(f"    hard negatives left alone, {variant}: {alone_by_kind}")
    return "\n".join(lines)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.corpus.train_intent",
        description="train the learned intent model, measure it on held-out files, export it",
    )
    parser.add_argument("--script", default="cmcc-10086", help="whose cues it is measured with")
    parser.add_argument("--out", type=Path, default=MODEL)
    parser.add_argument("--no-export", action="store_true", help="measure only")
    args = parser.parse_args(argv)
    library = load_library(ROOT / "scripts_data")
    script = library.scripts[args.script]
    compiled = CompiledScript(script, library.lexicon_for(script))
    results = heldout(compiled)
    print(report(results))
    if args.no_export:
        return 0
    exported = fit(rows_of(OURS))
    exported["provenance"] = {
        "trained on": {
            name: {
                "file": str(SETS[name].relative_to(ROOT)),
                "lines": len(read_intents(SETS[name])),
                "sha256": digest(SETS[name]),
            }
            for name in OURS
        },
        "command": "python -m tests.corpus.train_intent",
        "date": datetime.date.today().isoformat(),
        "model": f"logistic regression per label (scikit-learn, lbfgs, L2, C={C})",
        "threshold": THRESHOLDS,
        "held out": results,
    }
    args.out.write_text(
        json.dumps(exported, ensure_ascii=False, indent=0, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    weights = sum(len(m["weights"]) for m in exported["labels"].values())
    print(f"wrote {args.out.relative_to(ROOT)}: {weights} weights")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
