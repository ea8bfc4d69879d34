"""What the intent check costs per customer final: ``python -m tests.corpus.time_intent``.

Judges 1,000 utterances (our first two sets' lines, in turn; then intent_dev2's, whose text is
spaced as an ASR without punctuation writes it; then intent_dev4's, short openings most of which
leave the purpose unclear; then intent_dev5's, openings, rambling and topics said indirectly) with the script's compiled intent model,
as the service does on each customer final: the text is normalized once beforehand (the
service normalizes every final anyway), then :meth:`IntentModel.judge` runs on it. Prints the
best of five rounds in microseconds per utterance.
"""

from __future__ import annotations

import itertools
import timeit

from app.engine.compiled import CompiledScript
from app.engine.normalize import Normalized, normalize
from app.scripts.loader import load_library
from tests.corpus.build import ROOT
from tests.corpus.evaluate_intent import DEV, DEV2, DEV4, DEV5, OURS, read_intents

UTTERANCES = 1000


def main() -> int:
    library = load_library(ROOT / "scripts_data")
    script = library.scripts["cmcc-10086"]
    model = CompiledScript(script, library.lexicon_for(script)).intent
    for name, paths in (
        ("intent.tsv + intent_dev.tsv", (OURS, DEV)),
        ("intent_dev2.tsv", (DEV2,)),
        ("intent_dev4.tsv", (DEV4,)),
        ("intent_dev5.tsv", (DEV5,)),
    ):
        texts = [text for path in paths for _, _, text in read_intents(path)]
        norms = [normalize(t) for t in itertools.islice(itertools.cycle(texts), UTTERANCES)]

        def run(norms: list[Normalized] = norms) -> None:
            for norm in norms:
                model.judge(norm.raw, norm)

        run()  # warm up (lazy tables, jieba's dictionary if used)
        best = min(timeit.repeat(run, number=1, repeat=5))
        print(
            f"intent judge, {name}: {best / UTTERANCES * 1e6:.1f} µs per utterance "
            f"({UTTERANCES} utterances)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
