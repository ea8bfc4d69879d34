"""Multi-pattern matching over normalized text, streaming per speaker.

:class:`PhraseIndex` is built once per script (and its lexicon): one Aho–Corasick automaton over
every phrase the engine listens for — forbidden phrases, 催挂 phrases, greeting words, situation
triggers, end signals, call-type signals — each pattern carrying the targets it stands for. A
fragment is scanned once, whatever it is listened for.

:class:`SpeakerStream` keeps one speaker's continuous speech: the normalized tail of the previous
consecutive segments, so a phrase split over two segments still matches (and is reported on the
later one), and the current segment's hypothesis.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import ahocorasick

from app.engine import phonetic
from app.engine.messages import Speaker
from app.engine.normalize import Normalized
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

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}"


@dataclass(frozen=True, slots=True)
class Hit:
    """A match of ``pattern`` (its label) at normalized ``[start, end)``.

    ``phonetic``: found on the sound-alike key, not on the characters.
    """

    start: int
    end: int
    pattern: str
    target: Target
    phonetic: bool = False


@dataclass(frozen=True, slots=True)
class _Gapped:
    """A pattern with gaps, matched as parts joined when close enough."""

    pattern: Pattern
    target: Target
    label: str


class PhraseIndex:
    """Automata over normalized patterns (and their phonetic keys), built once.

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
        parts: dict[str, list[tuple[int, int]]] = {}  # part → [(gapped index, part index)]
        max_len = 1
        for phrase, target in entries:
            for pattern in expand(phrase):
                max_len = max(max_len, pattern.max_len)
                if not pattern.literal:
                    index = len(self._gapped)
                    self._gapped.append(_Gapped(pattern, target, pattern.label))
                    for i, part in enumerate(pattern.parts):
                        parts.setdefault(part, []).append((index, i))
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
        self._literal = _automaton(
            {text: (text, tuple(targets)) for text, targets in literal.items()}
        )
        self._parts = _automaton({part: (part, tuple(refs)) for part, refs in parts.items()})
        self._sounds = _automaton(
            {sound: (label, tuple(targets)) for sound, (label, targets) in sounds.items()}
        )

    def scan(self, text: str, start: int = 0) -> list[Hit]:
        """Every hit in ``text[start:]`` (hits may not begin before ``start``)."""
        if not text:
            return []
        hits = []
        if self._literal is not None:
            for last, (pattern, targets) in self._literal.iter(text, start):
                begin = last + 1 - len(pattern)
                for target in targets:
                    hits.append(Hit(begin, last + 1, pattern, target))
        if self._sounds is not None:
            for last, (label, targets) in self._sounds.iter(phonetic.key(text), start):
                begin = last + 1 - len(label)
                for target in targets:
                    hits.append(Hit(begin, last + 1, label, target, phonetic=True))
        if self._parts is not None:
            hits.extend(self._join_parts(text, start))
        return hits

    def _join_parts(self, text: str, start: int) -> list[Hit]:
        assert self._parts is not None
        found: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for last, (part, refs) in self._parts.iter(text, start):
            for ref in refs:
                found.setdefault(ref, []).append((last + 1 - len(part), last + 1))
        hits = []
        for index in {ref[0] for ref in found if ref[1] == 0}:
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


def _automaton(words: dict[str, tuple[str, tuple[Any, ...]]]) -> Any:
    if not words:
        return None
    automaton = ahocorasick.Automaton()
    for word, value in words.items():
        automaton.add_word(word, value)
    automaton.make_automaton()
    return automaton


def excused(hits: list[Hit]) -> list[Hit]:
    """Drop hits inside an ``allow`` phrase that excuses their target, and hits of a target that
    overlap a longer or earlier hit of the same target (one phrase and its variant on the same
    words are one match)."""
    if not hits:
        return hits
    allows = [h for h in hits if h.target.kind == "allow"]
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
    kept.sort(key=lambda h: h.end)
    return kept


@dataclass(frozen=True, slots=True)
class SegmentHit:
    """A hit located in the current segment: ``span`` in the text as sent, ``occurrence`` counts
    earlier hits of the same target in this segment (the identity of "the same words"
    across partials)."""

    hit: Hit
    span: tuple[int, int]
    occurrence: int
    #: The hit in the segment's normalized text (``start`` is 0 for a hit begun in the tail).
    start: int
    end: int

    @property
    def identity(self) -> tuple[str, int]:
        return (self.hit.target.key, self.occurrence)


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix of ``a`` and ``b`` (string compares in C, log n of them)."""
    if b.startswith(a):
        return len(a)
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


class SpeakerStream:
    """One speaker's continuous speech, for matching across partials and segments.

    The tail holds the last ``max_len - 1`` normalized characters of this speaker's previous
    consecutive final segments; a final segment of the other speaker breaks the continuity
    (:meth:`break_continuity`).

    Partials are matched incrementally: a new hypothesis usually extends the previous one, so
    only the text from the first changed character (less one pattern length) is scanned again;
    hits wholly before it are kept from the previous scan.
    """

    def __init__(self, index: PhraseIndex) -> None:
        self._index = index
        self._keep = max(index.max_len - 1, 0)
        self.tail = ""
        self._text = ""  # tail + the current hypothesis, as last scanned
        self._raw: list[Hit] = []  # every hit in _text, before excusing

    def scan_segment(self, norm: Normalized) -> list[SegmentHit]:
        """Hits that end inside the current segment (``norm``), with spans into its text.

        A match that begins in the tail is reported on this segment, its span starting at 0.
        """
        base = len(self.tail)
        text = self.tail + norm.text
        same = _common_prefix(self._text, text)
        rescan = max(same - self._keep, 0)
        kept = [h for h in self._raw if h.start < rescan]
        self._raw = kept + self._index.scan(text, rescan)
        self._text = text
        located: list[SegmentHit] = []
        seen: dict[str, int] = {}
        for hit in excused(self._raw):
            if hit.end <= base:
                continue
            start = max(hit.start - base, 0)
            span = norm.span(start, hit.end - base)
            key = hit.target.key
            occurrence = seen.get(key, 0)
            seen[key] = occurrence + 1
            located.append(SegmentHit(hit, span, occurrence, start, hit.end - base))
        return located

    def close_segment(self, norm: Normalized) -> None:
        """The segment is final: its text becomes part of the tail."""
        self.tail = (self.tail + norm.text)[-self._keep :] if self._keep else ""
        self._text = ""
        self._raw = []

    def break_continuity(self) -> None:
        self.tail = ""
        self._text = ""
        self._raw = []
