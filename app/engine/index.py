"""The phrase index: every phrase the engine listens for, in automata built once per script.

:class:`PhraseIndex` is built once per script (and its lexicon): every phrase the engine listens
for — forbidden phrases, 催挂 phrases, greeting words, situation triggers, end signals, call-type
signals — each pattern carrying the targets it stands for. A fragment is scanned once, whatever
it is listened for. :func:`excused` says which of the hits found stand (the allow phrases, one
match per target on the same words).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

from app.engine import align, forms, native, phonetic
from app.engine.messages import Speaker
from app.engine.native import Gap
from app.engine.patterns import expand

TargetKind = Literal[
    "forbidden",
    "rushing_off",
    "greeting_word",
    "allow",
    "soften",
    "situation",
    "end_signal",
    "call_type",
    "hold_apology",
]


#: The target kinds a partial hypothesis is judged on (an alert the moment the words appear), and
#: the allow and softening phrases that qualify them; the others (situations, hold apologies,
#: call types…) are acted on when the segment is final, so a partial does not locate them.
ON_PARTIAL: Final = frozenset({"forbidden", "rushing_off", "greeting_word", "allow", "soften"})
#: The kinds of the phrases that qualify a hit of another target (``excuses``): never judged on
#: their own.
QUALIFIERS: Final = frozenset({"allow", "soften"})


@dataclass(frozen=True, slots=True)
class Target:
    """What a pattern stands for. ``ref`` indexes the script part named by ``kind``."""

    kind: TargetKind
    ref: str
    speaker: Speaker | None = None
    at_end: int | None = None
    #: For ``allow`` and ``soften`` targets: the target key whose hits this phrase excuses or
    #: softens.
    excuses: str | None = None
    #: Whether a target of a phonetic kind is matched by sound too.
    sound: bool = True
    #: Whether its phrases are also matched in the forms derived from their words
    #: (:mod:`app.engine.forms`): a word slipped in, left out, contracted, reordered.
    derive: bool = False
    #: ``kind:ref``, the target's identity in a segment (set once: it is asked for per hit).
    key: str = field(init=False, compare=False, repr=False)
    #: Whether a hit of it is acted on before the segment is final (:data:`ON_PARTIAL`).
    partial: bool = field(init=False, compare=False, repr=False)
    #: Its hash, the one the dataclass would work out from the fields it compares, worked out
    #: once: a stream looks each hit it keeps up by its target (``target_numbers``), and the
    #: dataclass's own ``__hash__`` is Python code making a tuple of seven fields each time.
    #: (String hashes differ between processes: a target is never pickled, workers fork.)
    _hash: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.kind}:{self.ref}")
        object.__setattr__(self, "partial", self.kind in ON_PARTIAL)
        object.__setattr__(
            self,
            "_hash",
            hash(
                (
                    self.kind,
                    self.ref,
                    self.speaker,
                    self.at_end,
                    self.excuses,
                    self.sound,
                    self.derive,
                )
            ),
        )

    def __hash__(self) -> int:
        return self._hash


class Hit(NamedTuple):
    """A match of ``pattern`` (its label) at normalized ``[start, end)``.

    ``phonetic``: found by sound, the characters differ. ``derived``: found in a form derived
    from the phrase (:mod:`app.engine.forms`), or with words slipped in. A named tuple, not a
    frozen dataclass: one is made per match, and a frozen dataclass sets each field through
    ``object.__setattr__``, which a tuple does not need.
    """

    start: int
    end: int
    pattern: str
    target: Target
    phonetic: bool = False
    derived: bool = False


#: What a cursor's feed found: (index of the last character, value) by character; (index of
#: the last character, value, index of the first) by sound.
Found = tuple[list[tuple[int, Any]] | None, list[tuple[int, Any, int]] | None]


@dataclass(slots=True)
class _Ref:
    """A form in the sound automaton, for one target: how a hit of it is judged."""

    form: forms.Form
    target: Target
    #: Matched on characters only: a hit whose characters are not the form's is no hit.
    chars_only: bool
    #: The most characters slipped in and the most characters heard only by sound that a hit
    #: of it may have (:func:`forms.allowed`).
    insertions: int
    homophones: int
    #: An allow phrase: no emphatic word may be slipped into it (:data:`forms.EMPHATIC`).
    plain: bool
    #: The form's steps as :func:`align.align` walks them, made the first time a hit of it
    #: is aligned (most forms never are).
    plan: tuple[align.Step, ...] | None = None

    def steps(self) -> tuple[align.Step, ...]:
        if self.plan is None:
            self.plan = align.plan(self.form.items)
        return self.plan


class PhraseIndex:
    """Two automata, built once, each scanning a text once (``native.Cursor``):

    - by character (Aho–Corasick): the literal patterns of the targets not matched by sound —
      greeting words, situation triggers, signals, hold apologies;
    - by sound (``native.Tolerant``): every pattern of the targets matched by sound
      (``phonetic_kinds``, ``phonetic_min`` characters or more), every gapped pattern, and
      every form derived from the phrases of targets that ``derive``; a hit is judged on what
      it spans (:func:`align.align`: what was slipped in, how much by sound) and a form that must be
      matched on its characters is checked on them (hits are rare).

    Allow and softening phrases are a third index, scanned only beside a hit they qualify
    (:meth:`qualifiers`).

    ``phonetic_kinds``: the target kinds also matched by sound (a shorter sound-alike is too
    often an ordinary word). A deriving target is matched by sound from :data:`forms.SOUND_MIN`
    characters.
    """

    def __init__(
        self,
        entries: Iterable[tuple[str, Target]],
        *,
        phonetic_kinds: frozenset[str] = frozenset(),
        phonetic_min: int = 4,
        qualifiers_apart: bool = True,
    ) -> None:
        """``qualifiers_apart`` false: the allow and softening phrases are indexed with the
        others (the index that holds them apart)."""
        literal: dict[str, list[Target]] = {}
        sequences: dict[tuple[int | Gap, ...], list[_Ref]] = {}
        max_len: int = 1
        #: Every target, and its number (a kept hit names its target by number: see ``Kept``).
        self.targets: list[Target] = []
        self.target_numbers: dict[Target, int] = {}
        entries = list(entries)
        qualifying = [(p, t) for p, t in entries if t.kind in QUALIFIERS and qualifiers_apart]
        #: The allow and softening phrases, in an index of their own: scanned only when a hit of
        #: a target they qualify is there (:meth:`qualifiers`). Offers to help (我帮您查一下) are
        #: the commonest words of ordinary agent talk; scanning for them on every fragment
        #: would be work for nothing.
        self._qualifiers = (
            PhraseIndex(
                qualifying,
                phonetic_kinds=phonetic_kinds,
                phonetic_min=phonetic_min,
                qualifiers_apart=False,
            )
            if qualifying
            else None
        )
        #: The keys of the targets that allow or softening phrases qualify.
        self.qualified = frozenset(t.excuses for _, t in qualifying if t.excuses is not None)
        if self._qualifiers is not None:
            max_len = self._qualifiers.max_len
            for target in self._qualifiers.targets:
                self.target_numbers[target] = len(self.targets)
                self.targets.append(target)
        for phrase, target in entries:
            if target.kind in QUALIFIERS and qualifiers_apart:
                continue
            if target not in self.target_numbers:
                self.target_numbers[target] = len(self.targets)
                self.targets.append(target)
            sound = target.sound and (target.kind in phonetic_kinds or target.derive)
            if target.derive:
                # what qualifies a phrase (allow, soften) is never said shorter than written
                full = target.kind not in ("allow", "soften")
                found = forms.derive(phrase, sound, full)
            else:
                found = []
                for pattern in expand(phrase):
                    text = "".join(pattern.parts)
                    if pattern.literal and not (sound and len(text) >= phonetic_min):
                        targets = literal.setdefault(text, [])
                        if target not in targets:
                            targets.append(target)
                        max_len = max(max_len, len(text))
                        continue
                    found.append(forms.pattern_form(pattern, sound and len(text) >= phonetic_min))
            for form in found:
                max_len = max(max_len, form.length)
                items = form.items
                key = tuple(
                    step if isinstance(step, Gap) else symbol
                    for step, symbol in zip(items, _symbols(form, items), strict=True)
                )
                refs = sequences.setdefault(key, [])
                same = [r for r in refs if r.target == target]
                if same and (form.derived or not same[0].form.derived):
                    continue  # one form per target on these sounds: as written, if one is
                refs[:] = [r for r in refs if r.target != target]
                insertions, homophones = forms.allowed(form)
                refs.append(
                    _Ref(
                        form,
                        target,
                        not form.sound,
                        insertions,
                        homophones,
                        target.kind == "allow",
                    )
                )
        #: The longest a match can be (a phrase, its gaps, what may be slipped in).
        self.max_len: int = max_len
        self.patterns = len(literal) + len(sequences)
        self._words = (
            native.automaton({word: (word, tuple(targets)) for word, targets in literal.items()})
            if literal
            else None
        )
        self._sounds = (
            native.tolerant(
                {key: tuple(refs) for key, refs in sequences.items()},
                phonetic.readings(),
                forms.INSERT_BUDGET,
                {key: _own(refs) for key, refs in sequences.items()},
                {key: _limits(refs) for key, refs in sequences.items()},
            )
            if sequences
            else None
        )

    def cursor(self) -> native.Cursor:
        """A place in this index's automata, for one speaker's stream."""
        return native.Cursor(self._words, self._sounds)

    def scan(self, text: str, start: int = 0) -> list[Hit]:
        """Every hit in ``text[start:]`` (hits may not begin before ``start``), allow and
        softening phrases' too."""
        if len(text) <= start:
            return []
        hits: list[Hit] = []
        found = self.cursor().feed(text, start)
        if found is not None:
            self.take(found, text, hits)
        if self._qualifiers is not None:
            hits.extend(self._qualifiers.scan(text, start))
        return hits

    def qualifiers(self, text: str) -> list[Hit]:
        """The allow and softening phrases in ``text`` (what a cursor does not look for)."""
        return self._qualifiers.scan(text) if self._qualifiers is not None else []

    def take(self, found: Found, text: str, hits: list[Hit]) -> None:
        """What a cursor found in ``text`` (its feed's answer): append its hits to ``hits``."""
        words, sounds = found
        if words is not None:
            for last, (pattern, targets) in words:
                end = last + 1
                begin = end - len(pattern)
                for target in targets:
                    hits.append(Hit(begin, end, pattern, target))
        if sounds is not None:
            for last, refs, first in sounds:
                end = last + 1
                for ref in refs:
                    form = ref.form
                    if end - first == len(form.text) and text[first:end] == form.text:
                        hits.append(Hit(first, end, form.label, ref.target, False, form.derived))
                        continue
                    if ref.chars_only and end - first == len(form.text):
                        continue
                    judged = align.align(text, first, end, ref.steps(), ref.plain)
                    if judged is None:
                        continue
                    homophones, inserted = judged
                    if inserted > ref.insertions or (ref.chars_only and homophones):
                        continue
                    # the phrase as written, said whole, may be misheard anywhere (as before
                    # words could be slipped in); reworded or with words slipped in, barely
                    plain = not inserted and not form.derived and len(form.text) > forms.SOUND_MIN
                    if homophones > (len(form.text) if plain else ref.homophones):
                        continue
                    if homophones and inserted and len(form.text) < forms.LOOSE_MIN:
                        continue  # a sound-alike with words slipped in: too loose when short
                    derived = form.derived or inserted > 0
                    hits.append(Hit(first, end, form.label, ref.target, homophones > 0, derived))


def _own(refs: list[_Ref]) -> str:
    """The characters a sequence's forms share: where they differ (two forms that sound
    alike), none (``\\x00``): a character there is matched as neither's own."""
    texts = {ref.form.text for ref in refs}
    if len(texts) == 1:
        return texts.pop()
    return "".join(
        chars[0] if len(set(chars)) == 1 else "\x00" for chars in zip(*texts, strict=True)
    )


def _limits(refs: list[_Ref]) -> native.Limits:
    """What the automaton may report for a sequence: the loosest of its forms' limits
    (``PhraseIndex.take`` holds each hit to its own form's)."""
    span = 0
    whole = 0
    loose = 0
    for ref in refs:
        form = ref.form
        length = len(form.text)
        free = any(isinstance(s, Gap) and not s.counts for s in form.items)
        span = max(span, native.ANY if free else length + ref.insertions)
        if ref.chars_only:
            continue
        plain = not form.derived and length > forms.SOUND_MIN
        whole = max(whole, native.ANY if free else length if plain else ref.homophones)
        loose = max(loose, native.ANY if free else ref.homophones)
    return native.Limits(span, whole, loose)


def _symbols(form: forms.Form, items: tuple[str | Gap, ...]) -> list[int]:
    """The sound symbols of a form's steps (a gap's place holds 0)."""
    said = phonetic.sequence(form.text)
    out: list[int] = []
    at = 0
    for step in items:
        if isinstance(step, Gap):
            out.append(0)
        else:
            out.append(said[at])
            at += 1
    return out


#: Whether a clause ends inside normalized ``[start, end)`` (punctuation, a pause between
#: segments): an allow phrase said across one is two clauses, and excuses nothing.
Broken = Callable[[int, int], bool]


def named_length(pattern: str) -> int:
    """How many characters a hit's pattern (its label) names: its words, not its gaps
    (``{0,3}``) nor the marks between a derived form's words (``…``)."""
    count = 0
    depth = 0
    for char in pattern:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif not depth and char != "…":
            count += 1
    return count


def excused(hits: list[Hit], broken: Broken | None = None) -> list[Hit]:
    """Drop hits inside an ``allow`` phrase that excuses their target (said in one clause, if
    ``broken`` says where clauses end: 我不知道您是否方便 excuses, 我不知道，您去营业厅问吧 does
    not), and hits of a target that overlap a longer or earlier hit of the same target (one
    phrase and its variant on the same words are one match: the one on the characters before
    one by sound, as written before derived). ``soften`` hits are kept (the alert judges
    them)."""
    if len(hits) < 2:  # nothing to overlap or excuse (but an allow hit itself goes)
        return [h for h in hits if h.target.kind != "allow"] if hits else hits
    allows = [h for h in hits if h.target.kind == "allow"]
    if not allows and len({h.target.key for h in hits}) == len(hits):
        # no two of one target, nothing excused: all stand, in the order the loop keeps them
        return sorted(hits, key=lambda h: (h.end, h.start, h.start - h.end, h.phonetic, h.derived))
    kept: list[Hit] = []
    last_end: dict[str, int] = {}
    for hit in sorted(hits, key=lambda h: (h.start, h.start - h.end, h.phonetic, h.derived)):
        if hit.target.kind == "allow":
            continue
        key = hit.target.key
        if hit.start < last_end.get(key, -1):
            continue
        if allows and any(
            a.target.excuses == key
            and a.start <= hit.start
            and hit.end <= a.end
            and (broken is None or not broken(a.start, a.end))
            for a in allows
        ):
            continue
        kept.append(hit)
        last_end[key] = hit.end
    kept.sort(key=_end)
    return kept


def _end(hit: Hit) -> int:
    return hit.end
