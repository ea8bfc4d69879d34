"""``align.align`` (a hit of a form by sound or with words slipped in, judged on what it spans)
against the recursive reading it replaced, kept here as the reference: the same answer for every
form of every lexicon phrase, on texts made from the form with its characters kept, swapped for
a sound-alike or another character, and words (negations, modal verbs, verbs, emphatic adverbs
among them) slipped into its gaps."""

from __future__ import annotations

import random

from app.engine import forms, phonetic
from app.engine.align import align
from app.engine.index import Target, _Ref
from app.engine.native import Gap
from app.scripts.loader import load_library
from tests.corpus.build import ROOT

_NONE = 1 << 20


def reference(text: str, start: int, end: int, ref: _Ref) -> tuple[int, int] | None:
    """The recursive alignment as first written (commit 17c83fe)."""
    steps = ref.form.items
    budget = forms.INSERT_BUDGET
    memo: dict[tuple[int, int], int] = {}

    def cost(i: int, at: int) -> int:
        if i == len(steps):
            return 0 if at == end else _NONE
        remembered = memo.get((i, at))
        if remembered is not None:
            return remembered
        best = _NONE
        step = steps[i]
        if isinstance(step, Gap):
            after_negation = i > 0 and steps[i - 1] in forms.NEGATIONS
            before_negation = i + 1 < len(steps) and steps[i + 1] in forms.NEGATIONS
            for taken in range(step.low, step.high + 1):
                if at + taken > end or (step.counts and taken > budget):
                    break
                if taken and step.counts:
                    slipped = text[at + taken - 1]
                    if slipped in forms.NEGATIONS or (ref.plain and slipped in forms.EMPHATIC):
                        break
                    if after_negation and text[at] in forms.MODAL_VERBS:
                        break
                    if before_negation and forms.makes_a_complement(text[at : at + taken]):
                        continue
                rest = cost(i + 1, at + taken)
                if rest < _NONE:
                    best = min(best, rest + (taken if step.counts else 0))
        elif at < end:
            char = text[at]
            if char == step:
                best = cost(i + 1, at + 1)
            elif not set(phonetic.heard(step)).isdisjoint(phonetic.heard(char)):
                rest = cost(i + 1, at + 1)
                if rest < _NONE:
                    best = rest + 64
        memo[(i, at)] = best
        return best

    total = cost(0, start)
    if total >= _NONE:
        return None
    return total // 64, total % 64


#: What may be slipped in or swapped in: negations, modal verbs, verbs, emphatic adverbs,
#: pronouns, and sound-alikes of the lexicon's commonest characters.
POOL = "不没别要会能想听看说都也就真还又我你您们这那的了是事市试关官管知之道到倒清青挂卦机鸡"


def texts(form: forms.Form, rng: random.Random) -> list[str]:
    out = []
    for n in range(6):
        loose = n % 2  # every other text strays further: more answers of none
        chars: list[str] = []
        for step in form.items:
            if isinstance(step, Gap):
                high = step.high + loose if rng.random() < 0.5 else 0
                chars.extend(rng.choice(POOL) for _ in range(rng.randint(0, high)))
            elif rng.random() < (0.8 if loose else 0.95):
                chars.append(step)
            else:
                chars.append(rng.choice(POOL))
        out.append("".join(chars))
    return out


def test_align_reads_as_the_reference_on_every_lexicon_form() -> None:
    library = load_library(ROOT / "scripts_data")
    rng = random.Random(7)
    target = Target("forbidden", "0", "agent", derive=True)
    allow = Target("allow", "f0", "agent", excuses=target.key, derive=True)
    compared = found = 0
    phrases = sorted(
        {entry.phrase for lexicon in library.lexicons.values() for entry in lexicon.entries}
    )
    for phrase in phrases:
        for full, owner in ((True, target), (False, allow)):
            for form in forms.derive(phrase, True, full):
                insertions, homophones = forms.allowed(form)
                ref = _Ref(form, owner, not form.sound, insertions, homophones, not full)
                for text in texts(form, rng):
                    for start in (0, 1):
                        if start > len(text):
                            continue
                        for end in {len(text), max(start, len(text) - 1)}:
                            expected = reference(text, start, end, ref)
                            assert align(text, start, end, ref.steps(), ref.plain) == expected, (
                                text,
                                form.label,
                            )
                            compared += 1
                            found += expected is not None
    # the texts exercise both answers, and often
    assert compared > 10_000 and found > 1_000, (compared, found)
