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
from typing import Literal

import ahocorasick

from app.engine.messages import Speaker
from app.engine.normalize import Normalized, normalize_text

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

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}"


@dataclass(frozen=True, slots=True)
class Hit:
    """A match of ``pattern`` at normalized ``[start, end)``."""

    start: int
    end: int
    pattern: str
    target: Target


class PhraseIndex:
    """An automaton over normalized patterns, built once; :meth:`scan` finds every hit."""

    def __init__(self, entries: Iterable[tuple[str, Target]]) -> None:
        by_pattern: dict[str, list[Target]] = {}
        for phrase, target in entries:
            pattern = normalize_text(phrase)
            if not pattern:
                raise ValueError(f"phrase {phrase!r} is empty once normalized")
            targets = by_pattern.setdefault(pattern, [])
            if target not in targets:
                targets.append(target)
        self._automaton = ahocorasick.Automaton()
        for pattern, targets in by_pattern.items():
            self._automaton.add_word(pattern, (pattern, tuple(targets)))
        self.max_len = max((len(p) for p in by_pattern), default=1)
        self.patterns = len(by_pattern)
        if by_pattern:
            self._automaton.make_automaton()

    def scan(self, text: str, start: int = 0) -> list[Hit]:
        """Every hit in ``text[start:]`` (hits may not begin before ``start``), by end position."""
        if not self.patterns or not text:
            return []
        hits = []
        for last, (pattern, targets) in self._automaton.iter(text, start):
            begin = last + 1 - len(pattern)
            for target in targets:
                hits.append(Hit(begin, last + 1, pattern, target))
        return hits


def excused(hits: list[Hit]) -> list[Hit]:
    """Drop hits inside an ``allow`` phrase that excuses their target, and hits of a target that
    overlap a longer or earlier hit of the same target (one phrase and its variant on the same
    words are one match)."""
    allows = [h for h in hits if h.target.kind == "allow"]
    kept: list[Hit] = []
    last_end: dict[str, int] = {}
    for hit in sorted(hits, key=lambda h: (h.start, h.start - h.end)):
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
            located.append(SegmentHit(hit, span, occurrence))
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
