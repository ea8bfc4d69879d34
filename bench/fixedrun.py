"""A fixed, small run of the engine bench's inputs, for counting instructions (callgrind).

``python -m bench.fixedrun KIND COUNT``: KIND is ``fragments`` (the engine bench's 10-character
agent fragments, each a partial then its final, in one call under way), ``streaming`` (its whole
utterances as growing partials, then the final) or ``sessions`` (idle calls started and
answered, as ``bench sessionmem`` makes them); COUNT how many. Nothing is timed: run it under
``valgrind --tool=callgrind`` with COUNT 0 and COUNT N, and the difference of the two totals over
N inputs is the instructions one input costs (start-up, loading and warming cancel out). Set
PYTHONHASHSEED for the same count every run.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from app.engine import normalize, phonetic, prompts
from app.engine.compiled import CompiledScript
from app.engine.messages import Fragment
from app.scripts.loader import load_library
from bench.engine import START, call_under_way, fragments, utterances
from bench.sessionmem import start_call

ROOT = Path(__file__).resolve().parents[1]


def main(kind: str, count: int) -> int:
    """The number of inputs given (fragments, or sessions started)."""
    normalize.warm_up()
    phonetic.warm_up()
    prompts.warm_up()
    library = load_library(ROOT / "scripts_data")
    script = library.scripts["cmcc-10086"]
    compiled = CompiledScript(script, library.lexicon_for(script))
    session = call_under_way(compiled)
    start_call(compiled, "warm")
    given = 0
    if kind == "fragments":
        texts = fragments(count)
        ids = [f"a-{n}" for n in range(count)]
        for n, text in enumerate(texts):
            wall = START + n * 250
            session.handle(Fragment("agent", ids[n], text, False), wall)
            session.handle(Fragment("agent", ids[n], text, True), wall + 100)
            given += 2
    elif kind == "streaming":
        rng = random.Random(4)
        wall = START
        for n, text in enumerate(utterances(count)):
            segment = f"s-{n}"
            cut = 0
            while cut < len(text):
                cut = min(cut + rng.randint(2, 3), len(text))
                wall += 100
                session.handle(Fragment("agent", segment, text[:cut], cut == len(text)), wall)
                given += 1
    elif kind == "sessions":
        kept = [start_call(compiled, f"c-{n}") for n in range(count)]
        given = len(kept)
    else:
        raise SystemExit(f"unknown kind {kind!r}: fragments, streaming or sessions")
    return given


if __name__ == "__main__":
    print(main(sys.argv[1], int(sys.argv[2])))
