"""Would the learned model have helped when each of our batches was first measured?

``python -m tests.corpus.replay_intent`` (needs git history, a C compiler and the ``train``
extra). The cues of today were tuned on every file we have, so their figures on any of our
files overstate how they carry to new wording. Each batch in :data:`POINTS` was measured once,
before it was tuned on, with the cues as they then were (tests/corpus/INTENT.md). This replays
that moment: the code and ``scripts_data`` of the commit before the batch (its native module
built from that commit's ``_scan.c``) judge the batch's lines; the model is fitted on the labelled
files of that commit only (:func:`tests.corpus.train_intent.fit`); cues or model at 0.5–0.9 is
measured beside each; for the unclear purpose also as the engine now combines them, the model
vetoed where today's script names a business topic (``intent.unclear_purpose.topics``). The old
trees go under ``/tmp/huashu-replay/<commit>``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

from app.engine.cues import Cues
from app.engine.learned import LearnedIntent, features
from app.engine.normalize import normalize_text
from tests.corpus.evaluate_intent import LABELS, read_intents
from tests.corpus.train_intent import fit

ROOT = Path(__file__).resolve().parents[2]
WORK = Path("/tmp/huashu-replay")
#: The commit that added each batch, measured before it was tuned on, and the files it added them
#: to (intent_probe3.tsv and intent_probe4.tsv, added with intent_dev3.tsv and intent_dev4.tsv, are
#: measured at their rounds' ends only and left out).
ALL_FILES = "tests/corpus/*.tsv"
POINTS = (
    ("598688d", "4th batch (intent.tsv)", ALL_FILES),
    ("42b50a2", "5th batch (intent.tsv)", ALL_FILES),
    ("aa1e7c3", "6th batch (intent.tsv)", ALL_FILES),
    ("8f6556c", "7th batch (intent.tsv)", ALL_FILES),
    ("2e333e6", "8th batch (intent.tsv)", ALL_FILES),
    ("c502869", "intent_probe.tsv", ALL_FILES),
    ("6edf5bc", "intent_probe2.tsv", ALL_FILES),
    ("80740a9", "intent_dev3.tsv", "tests/corpus/intent_dev3.tsv"),
    # the sixth round's set (intent_probe4.tsv, added with it, measured at the round's ends only)
    ("ea95108", "intent_dev4.tsv", "tests/corpus/intent_dev4.tsv"),
)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
#: Run inside an old tree: its cues judge the texts on stdin as a call would.
OLD_JUDGE = """
import json, sys
from pathlib import Path
from app.engine.compiled import CompiledScript
from app.scripts.loader import load_library
from tests.corpus.evaluate_intent import judged
library = load_library(Path("scripts_data"))
script = library.scripts["cmcc-10086"]
compiled = CompiledScript(script, library.lexicon_for(script))
print(json.dumps([sorted(judged(compiled, t)) for t in json.load(sys.stdin)]))
"""


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def old_tree(commit: str) -> Path:
    """The engine, scripts and corpus of ``commit``, with its native module built."""
    tree = WORK / commit
    module = tree / "app" / "engine" / f"_scan{sysconfig.get_config_var('EXT_SUFFIX')}"
    if module.exists():
        return tree
    tree.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", commit, "app", "scripts_data", "tests/__init__.py", "tests/corpus"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        ["cc", "-O2", "-shared", "-fPIC", f"-I{include}", str(tree / "app/engine/_scan.c")]
        + ["-o", str(module)],
        check=True,
    )
    return tree


def added_rows(commit: str, files: str = ALL_FILES) -> list[tuple[str, str, str]]:
    """The labelled lines the commit added to the intent files (those matching ``files``)."""
    diff = git("diff", f"{commit}^", commit, "--", files)
    rows = []
    for line in diff.splitlines():
        if not line.startswith("+") or line.startswith("+++"):
            continue
        parts = line[1:].split("\t")
        if len(parts) == 3 and parts[0] != "label" and not line[1:].startswith("#"):
            rows.append((parts[0], parts[1], parts[2]))
    return rows


def topics() -> Cues[bool]:
    """Today's business topics (cmcc-10086), which veto the model's unclear purpose."""
    from app.scripts.loader import load_library

    spec = load_library(ROOT / "scripts_data").scripts["cmcc-10086"].intent
    assert spec is not None and spec.unclear_purpose is not None
    return Cues(((p, True) for p in spec.unclear_purpose.topics), spec.words)


def main() -> int:
    totals: dict[tuple[str, str], list[int]] = {}
    topic = topics()
    for commit, name, files in POINTS:
        parent = git("rev-parse", "--short", f"{commit}^").strip()
        tree = old_tree(parent)
        test = added_rows(commit, files)
        train = [
            row
            for path in sorted((tree / "tests" / "corpus").glob("intent*.tsv"))
            for row in read_intents(path)
        ]
        rules = json.loads(
            subprocess.run(
                [sys.executable, "-c", OLD_JUDGE],
                cwd=tree,
                env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                input=json.dumps([t for *_, t in test]),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        model = LearnedIntent.from_json(fit(train))
        print(f"{name}: {len(test)} lines; cues of {parent}, model fitted on its {len(train)}")
        for label in LABELS:
            gold = [row[0] == label for row in test]
            p = [model.labels[label].probability(features(normalize_text(t))) for *_, t in test]
            cued = [label in got for got in rules]
            variants = {"rules": cued}
            for t in THRESHOLDS:
                variants[f"model@{t}"] = [q >= t for q in p]
                # the old cues say nothing of what they took back: no veto here, as in the
                # engine, so the model may add what the engine would refuse (precision a floor)
                variants[f"combined@{t}"] = [c or q >= t for c, q in zip(cued, p, strict=True)]
                if label == "unclear_purpose":
                    named = [topic.first(normalize_text(t)) is not None for *_, t in test]
                    variants[f"vetoed@{t}"] = [
                        c or (q >= t and not n) for c, q, n in zip(cued, p, named, strict=True)
                    ]
            for variant, predicted in variants.items():
                tp = sum(a and g for a, g in zip(predicted, gold, strict=True))
                counts = [tp, sum(predicted), sum(gold)]
                total = totals.setdefault((label, variant), [0, 0, 0])
                for i in range(3):
                    total[i] += counts[i]
                if variant in ("rules", "model@0.8", "combined@0.8", "vetoed@0.7"):
                    print(f"  {label:<16}{variant:<14}{_pr(*counts)}")
    print("all batches:")
    for (label, variant), counts in totals.items():
        print(f"  {label:<16}{variant:<14}{_pr(*counts)}")
    return 0


def _pr(tp: int, predicted: int, gold: int) -> str:
    precision = f"{tp / predicted:.3f}" if predicted else "  —  "
    return f"{precision} / {tp / gold:.3f} ({tp}/{predicted}, {tp}/{gold})"


if __name__ == "__main__":
    raise SystemExit(main())
