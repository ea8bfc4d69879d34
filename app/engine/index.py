"""The phrase index: every phrase the engine listens for, in automata built once per script.

:class:`PhraseIndex` is built once per script (and its lexicon): one Aho–Corasick automaton over
every phrase the engine listens for — forbidden phrases, 催挂 phrases, greeting words, situation
triggers, end signals, call-type signals — each pattern carrying the targets it stands for. A
fragment is scanned once, whatever it is listened for. :func:`excused` says which of the hits
found stand (the allow phrases, one match per target on the same words).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from app.engine import native, phonetic
from app.engine.messages import Speaker
from app.engine.patterns import Pattern, expand

TargetKind = Literal[
    "forbidden",
    "rushing_off",
    "greeting_word",
    "allow",
    "situation",
    "end_signal",
    "call_type",
    "hold_apology",
]


#: The target kinds a partial hypothesis is judged on (an alert the moment the words appear), and
#: the allow phrases that excuse them; the others (situations, hold apologies, call types…) are
#: acted on when the segment is final, so a partial does not locate them.
ON_PARTIAL = frozenset({"forbidden", "rushing_off", "greeting_word", "allow"})


@dataclass(frozen=True, slots=True)
class Target:
    """What a pattern stands for. ``ref`` indexes the script part named by ``kind``."""

    kind: TargetKind
    ref: str
    speaker: Speaker | None = None
    at_end: int | None = None
    #: For ``allow`` targets: the target key whose hits this phrase excuses.
    excuses: str | None = None
    #: Whether a target of a phonetic kind is matched by sound too.
    sound: bool = True
    #: ``kind:ref``, the target's identity in a segment (set once: it is asked for per hit).
    key: str = field(init=False, compare=False, repr=False)
    #: Whether a hit of it is acted on before the segment is final (:data:`ON_PARTIAL`).
    partial: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.kind}:{self.ref}")
        object.__setattr__(self, "partial", self.kind in ON_PARTIAL)


class Hit(NamedTuple):
    """A match of ``pattern`` (its label) at normalized ``[start, end)``.

    ``phonetic``: found on the sound-alike key, not on the characters. A named tuple, not a
    frozen dataclass: one is made per match, and a frozen dataclass sets each field through
    ``object.__setattr__``, which a tuple does not need.
    """

    start: int
    end: int
    pattern: str
    target: Target
    phonetic: bool = False


#: Occurrences of gapped patterns' parts: (gapped index, part index) → [(start, end)].
Parts = dict[tuple[int, int], list[tuple[int, int]]]
#: What a cursor's feed found: (index of the last character, value) by character, by sound.
Found = tuple[list[tuple[int, Any]] | None, list[tuple[int, Any]] | None]


@dataclass(frozen=True, slots=True)
class _Gapped:
    """A pattern with gaps, matched as parts joined when close enough."""

    pattern: Pattern
    target: Target
    label: str


class PhraseIndex:
    """Two automata, built once, each scanning a text once: one over the phonetic keys of the
    patterns also matched by sound, one over the other patterns and the parts of gapped
    patterns (a word's value says which it is; it may be both).

    A pattern matched by sound is not in the second automaton: where its characters are, its key
    is, so the key's hit checks the characters too (one look-up). With a lexicon of thousands of
    forbidden phrases, the second automaton keeps only the script's few short phrases.

    Both are :mod:`app.engine.native` automata: the sound one reads each character through the
    phonetic table as it walks, so no key string is made.

    ``phonetic_kinds``: the target kinds also matched by sound (``phonetic_min`` characters or
    more; a shorter sound-alike is too often an ordinary word).
    """

    def __init__(
        self,
        entries: Iterable[tuple[str, Target]],
        *,
        phonetic_kinds: frozenset[str] = frozenset(),
        phonetic_min: int = 4,
    ) -> None:
        literal: dict[str, list[Target]] = {}
        sounds: dict[str, tuple[str, list[Target]]] = {}
        self._gapped: list[_Gapped] = []
        #: part → [(gapped index, part index, whether it is the pattern's last part)]
        parts: dict[str, list[tuple[int, int, bool]]] = {}
        max_len = 1
        #: Every target, and its number (a kept hit names its target by number: see ``Kept``).
        self.targets: list[Target] = []
        self.target_numbers: dict[Target, int] = {}
        for phrase, target in entries:
            if target not in self.target_numbers:
                self.target_numbers[target] = len(self.targets)
                self.targets.append(target)
            for pattern in expand(phrase):
                max_len = max(max_len, pattern.max_len)
                if not pattern.literal:
                    index = len(self._gapped)
                    self._gapped.append(_Gapped(pattern, target, pattern.label))
                    for i, part in enumerate(pattern.parts):
                        parts.setdefault(part, []).append((index, i, i == len(pattern.parts) - 1))
                    continue
                text = pattern.parts[0]
                targets = literal.setdefault(text, [])
                if target not in targets:
                    targets.append(target)
                if target.kind in phonetic_kinds and target.sound and len(text) >= phonetic_min:
                    label, sound_targets = sounds.setdefault(phonetic.key(text), (text, []))
                    if target not in sound_targets:
                        sound_targets.append(target)
        self.max_len = max_len
        self.patterns = len(literal) + len(self._gapped)
        #: word → (literal: (pattern, targets) | None, part: (length, refs) | None)
        words: dict[str, list[Any]] = {}
        #: key → the patterns with that key found by it, and all their targets
        by_key: dict[str, list[tuple[str, tuple[Target, ...]]]] = {}
        for text, targets in literal.items():
            key = phonetic.key(text) if len(text) >= phonetic_min else None
            if key is not None and key in sounds and any(t in sounds[key][1] for t in targets):
                by_key.setdefault(key, []).append((text, tuple(targets)))
            else:
                words.setdefault(text, [None, None])[0] = (text, tuple(targets))
        for part, refs in parts.items():
            words.setdefault(part, [None, None])[1] = (len(part), tuple(refs))
        self._words = (
            native.automaton({word: tuple(value) for word, value in words.items()})
            if words
            else None
        )
        self._sounds = (
            native.automaton(
                {
                    sound: (label, tuple(targets), tuple(by_key.get(sound, ())))
                    for sound, (label, targets) in sounds.items()
                },
                phonetic.symbols(),
            )
            if sounds
            else None
        )

    def cursor(self) -> native.Cursor:
        """A place in this index's automata, for one speaker's stream."""
        return native.Cursor(self._words, self._sounds)

    def scan(self, text: str, start: int = 0) -> list[Hit]:
        """Every hit in ``text[start:]`` (hits may not begin before ``start``)."""
        if len(text) <= start:
            return []
        hits: list[Hit] = []
        found = self.cursor().feed(text, start)
        if found is not None:
            parts: Parts = {}
            self.take(found, text, hits, parts)
            if parts:
                hits.extend(self.join_parts(parts))
        return hits

    def take(self, found: Found, text: str, hits: list[Hit], parts: Parts) -> bool:
        """What a cursor found in ``text`` (its feed's answer): append the literal and phonetic
        hits to ``hits`` and the occurrences of gapped patterns' parts to ``parts``. Returns
        whether a gapped pattern's last part was found (only then can a gapped hit be new)."""
        words, sounds = found
        completed = False
        if words is not None:
            for last, (lit, part) in words:
                end = last + 1
                if lit is not None:
                    pattern, targets = lit
                    begin = end - len(pattern)
                    for target in targets:
                        hits.append(Hit(begin, end, pattern, target))
                if part is not None:
                    length, refs = part
                    for index, i, last_part in refs:
                        # A part after the first is of use only after an occurrence of the
                        # first, which ends before it begins: found earlier in this scan.
                        if i == 0 or (index, 0) in parts:
                            parts.setdefault((index, i), []).append((end - length, end))
                            completed = completed or last_part
        if sounds is not None:
            for last, (label, targets, patterns) in sounds:
                end = last + 1
                begin = end - len(label)
                if patterns:  # the characters themselves, in the order a scan finds them
                    said = text[begin:end]
                    for pattern, pattern_targets in patterns:
                        if pattern == said:
                            for target in pattern_targets:
                                hits.append(Hit(begin, end, pattern, target))
                            break
                for target in targets:
                    hits.append(Hit(begin, end, label, target, phonetic=True))
        return completed

    def join_parts(self, found: Parts) -> list[Hit]:
        """Gapped-pattern hits from the parts found: (gapped index, part index) → spans."""
        hits = []
        for index in sorted({ref[0] for ref in found if ref[1] == 0}):
            gapped = self._gapped[index]
            chains = found[(index, 0)]
            for i, (low, high) in enumerate(gapped.pattern.gaps, start=1):
                nexts = found.get((index, i), [])
                chains = [(s, e2) for s, e in chains for s2, e2 in nexts if low <= s2 - e <= high]
                if not chains:
                    break
            label = gapped.label
            last_end = -1
            for s, e in sorted(set(chains), key=lambda c: (c[0], c[0] - c[1])):
                if s >= last_end:  # the shortest start, the longest reach; no overlaps
                    hits.append(Hit(s, e, label, gapped.target))
                    last_end = e
        return hits


def excused(hits: list[Hit]) -> list[Hit]:
    """Drop hits inside an ``allow`` phrase that excuses their target, and hits of a target that
    overlap a longer or earlier hit of the same target (one phrase and its variant on the same
    words are one match)."""
    if len(hits) < 2:  # nothing to overlap or excuse (but an allow hit itself goes)
        return [h for h in hits if h.target.kind != "allow"] if hits else hits
    allows = [h for h in hits if h.target.kind == "allow"]
    if not allows and len({h.target.key for h in hits}) == len(hits):
        # no two of one target, nothing excused: all stand, in the order the loop keeps them
        return sorted(hits, key=lambda h: (h.end, h.start, h.start - h.end, h.phonetic))
    kept: list[Hit] = []
    last_end: dict[str, int] = {}
    for hit in sorted(hits, key=lambda h: (h.start, h.start - h.end, h.phonetic)):
        if hit.target.kind == "allow":
            continue
        key = hit.target.key
        if hit.start < last_end.get(key, -1):
            continue
        if allows and any(
            a.target.excuses == key and a.start <= hit.start and hit.end <= a.end for a in allows
        ):
            continue
        kept.append(hit)
        last_end[key] = hit.end
    kept.sort(key=_end)
    return kept


def _end(hit: Hit) -> int:
    return hit.end
