"""Judging a tolerant hit: the best reading of the text a hit spans as the form it was found
for — which characters were heard only by sound, how many were slipped in, and whether what was
slipped in may be (no negation, no modal verb after the form's negation, no verb before it,
nothing emphatic into an allow phrase).

The native kernel (``_scan.c``'s ``Tolerant``) finds the candidates; :func:`align` judges each.
:class:`Step` is a form's item as the alignment walks it, made once per form (:func:`plan`).
"""

from __future__ import annotations

from typing import Final

from app.engine import forms, phonetic
from app.engine.native import Gap


class Step:
    """One step of a form, as :func:`align` walks it: a character (``char``, and the sounds it
    is heard as) or a gap (``char`` empty), with what the form says around the gap."""

    __slots__ = ("char", "sounds", "low", "high", "counts", "after_negation", "before_negation")

    def __init__(
        self,
        char: str,
        sounds: frozenset[int],
        gap: Gap | None,
        after_negation: bool,
        before_negation: bool,
    ) -> None:
        self.char = char
        self.sounds = sounds
        self.low = gap.low if gap is not None else 0
        self.high = gap.high if gap is not None else 0
        self.counts = gap.counts if gap is not None else False
        #: A gap right after the form's negation: no modal verb may open what is slipped in.
        self.after_negation = after_negation
        #: A gap right before the form's negation: no verb may be slipped in.
        self.before_negation = before_negation


#: An alignment's cost that no alignment has.
_NONE: Final = 1 << 20
#: The forms module's limits, as this compiled module's own constants: read in :func:`_cost`
#: once per step and place, where a module attribute would be a dictionary look-up each time.
_INSERT_BUDGET: Final[int] = forms.INSERT_BUDGET
_NEGATIONS: Final[frozenset[str]] = forms.NEGATIONS
_EMPHATIC: Final[frozenset[str]] = forms.EMPHATIC
_MODAL_VERBS: Final[frozenset[str]] = forms.MODAL_VERBS


#: Every sound a character is heard as, by character, as alignments ask: the characters hits
#: span, at most :data:`_HEARD_MAX` of them.
_HEARD: Final[dict[str, frozenset[int]]] = {}
_HEARD_MAX: Final = 20_000


def _heard(char: str) -> frozenset[int]:
    sounds = _HEARD.get(char)
    if sounds is None:
        sounds = frozenset(phonetic.heard(char))
        if len(_HEARD) < _HEARD_MAX:
            _HEARD[char] = sounds
    return sounds


def plan(items: tuple[str | Gap, ...]) -> tuple[Step, ...]:
    """A form's items (``forms.Form.items``) as :func:`align` walks them."""
    steps: list[Step] = []
    for i, item in enumerate(items):
        if isinstance(item, Gap):
            after = i > 0 and items[i - 1] in forms.NEGATIONS
            before = i + 1 < len(items) and items[i + 1] in forms.NEGATIONS
            steps.append(Step("", frozenset(), item, after, before))
        else:
            steps.append(Step(item, _heard(item), None, False, False))
    return tuple(steps)


def align(
    text: str, start: int, end: int, steps: tuple[Step, ...], plain: bool
) -> tuple[int, int] | None:
    """The best reading of ``text[start:end]`` as the form whose :func:`plan` is ``steps``:
    (characters heard only by sound, characters slipped in), fewest sound-alikes first; None
    when there is none that slips in only what may be slipped in. A word slipped in may not say
    the opposite: no negation (不, 没 …), no modal verb right after the form's negation (不 + 要
    挂机 is "do not hang up", not 不挂机), no verb right before it (我 + 听 不清楚 is "I cannot
    hear clearly": :func:`forms.makes_a_complement`); nothing emphatic into an allow phrase
    (``plain``)."""
    width = end - start + 1
    memo = [-1] * ((len(steps) + 1) * width)
    total = _cost(text, steps, plain, 0, start, start, end, memo)
    if total >= _NONE:
        return None
    return total // 64, total % 64


def _cost(
    text: str,
    steps: tuple[Step, ...],
    plain: bool,
    i: int,
    at: int,
    start: int,
    end: int,
    memo: list[int],
) -> int:
    """Sound-alikes × 64 + characters slipped in, reading ``text[at:end]`` as ``steps[i:]``
    (``memo`` holds what was worked out, by step and place)."""
    if i == len(steps):
        return 0 if at == end else _NONE
    key = i * (end - start + 1) + at - start
    remembered = memo[key]
    if remembered >= 0:
        return remembered
    best = _NONE
    step = steps[i]
    if not step.char:
        budget = _INSERT_BUDGET
        for taken in range(step.low, step.high + 1):
            if at + taken > end or (step.counts and taken > budget):
                break
            if taken and step.counts:
                slipped = text[at + taken - 1]
                if slipped in _NEGATIONS or (plain and slipped in _EMPHATIC):
                    break
                if step.after_negation and text[at] in _MODAL_VERBS:
                    break
                if step.before_negation and forms.makes_a_complement(text[at : at + taken]):
                    continue
            rest = _cost(text, steps, plain, i + 1, at + taken, start, end, memo)
            if rest < _NONE:
                cost = rest + taken if step.counts else rest
                if cost < best:
                    best = cost
    elif at < end:
        char = text[at]
        if char == step.char:
            best = _cost(text, steps, plain, i + 1, at + 1, start, end, memo)
        elif not step.sounds.isdisjoint(_heard(char)):
            rest = _cost(text, steps, plain, i + 1, at + 1, start, end, memo)
            if rest < _NONE:
                best = rest + 64
    memo[key] = best
    return best
