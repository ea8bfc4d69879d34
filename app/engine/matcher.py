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
from dataclasses import dataclass, field
from typing import Any, Literal

from app.engine import native, phonetic
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
    #: ``kind:ref``, the target's identity in a segment (set once: it is asked for per hit).
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.kind}:{self.ref}")


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


#: Occurrences of gapped patterns' parts: (gapped index, part index) → [(start, end)].
Parts = dict[tuple[int, int], list[tuple[int, int]]]
#: Where the automata stopped (words, sounds: node numbers; 0 starts afresh), and whether that
#: feed found the last part of a gapped pattern (only then can a new gapped hit be complete).
Scanners = tuple[int, int, bool]
#: Scanners that start afresh.
FRESH: Scanners = (0, 0, False)


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
        for phrase, target in entries:
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

    def scan(self, text: str, start: int = 0) -> list[Hit]:
        """Every hit in ``text[start:]`` (hits may not begin before ``start``)."""
        if len(text) <= start:
            return []
        hits: list[Hit] = []
        parts: Parts = {}
        self.feed(text, start, FRESH, hits, parts)
        if parts:
            hits.extend(self.join_parts(parts))
        return hits

    def feed(
        self, text: str, start: int, scanners: Scanners, hits: list[Hit], parts: Parts
    ) -> Scanners:
        """Scan ``text[start:]``, the automata going on from ``scanners`` (where an earlier call
        stopped at ``start``, so a match begun before ``start`` is found; :data:`FRESH` starts
        at ``start``): append its literal and phonetic hits to ``hits`` and its occurrences of
        gapped patterns' parts to ``parts``, at their places in ``text``. Returns where the
        automata stopped, for the characters that come next."""
        words, sounds, _ = scanners
        completed = False
        if self._words is not None:
            words, found = self._words.scan(text, start, words)
            if found is not None:
                for last, (lit, part) in found:
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
        if self._sounds is not None:
            sounds, found = self._sounds.scan(text, start, sounds)
            if found is not None:
                for last, (label, targets, patterns) in found:
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
        return words, sounds, completed

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
    """A hit located in the current segment: ``occurrence`` counts earlier hits of the same
    target in this segment (the identity of "the same words" across partials)."""

    hit: Hit
    occurrence: int
    #: The hit in the segment's normalized text (``start`` is 0 for a hit begun in the tail).
    start: int
    end: int
    #: The segment's text, for the span (worked out only when asked for: most hits raise nothing).
    norm: Normalized = field(compare=False, repr=False)

    @property
    def span(self) -> tuple[int, int]:
        """The hit's span in the segment's text as sent."""
        return self.norm.span(self.start, self.end)

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
    (:meth:`break_continuity`). Hits are found in tail + the current hypothesis, exactly as a
    fresh scan of that text would find them, without scanning it all again each time:

    - a hypothesis that extends the one scanned last (the usual partial, and the first partial
      after a final of the same speaker: it extends the tail) is fed to the automata's search
      iterators where they stopped, so only the new characters are scanned;
    - a hypothesis that changes earlier characters is scanned again from the first changed one
      less one pattern length; hits wholly before that are kept;
    - the same hypothesis again (a final that repeats the last partial) is not scanned.
    """

    __slots__ = (
        "_index",
        "_keep",
        "tail",
        "_text",
        "_scanners",
        "_hits",
        "_parts",
        "_gapped",
        "_norm",
        "_located",
    )

    def __init__(self, index: PhraseIndex) -> None:
        self._index = index
        self._keep = max(index.max_len - 1, 0)
        self.tail = ""
        self._text = ""  # tail + the current hypothesis, as last scanned
        #: Where the automata stopped at the end of _text (None: nothing was scanned).
        self._scanners: Scanners | None = None
        self._hits: list[Hit] = []  # literal and phonetic hits in _text
        self._parts: Parts = {}  # parts of gapped patterns in _text
        self._gapped: list[Hit] = []  # gapped-pattern hits joined from _parts
        self._norm: Normalized | None = None  # the hypothesis last located, and its hits
        self._located: list[SegmentHit] = []

    def scan_segment(self, norm: Normalized) -> list[SegmentHit]:
        """Hits that end inside the current segment (``norm``), with spans into its text.

        A match that begins in the tail is reported on this segment, its span starting at 0.
        The list returned is the stream's own: do not change it.
        """
        if norm is self._norm:
            return self._located
        base = len(self.tail)
        text = self.tail + norm.text if base else norm.text
        previous = self._text
        if text != previous:
            scanners = self._scanners
            if scanners is not None and text.startswith(previous):
                scanners = self._scanners = self._index.feed(
                    text, len(previous), scanners, self._hits, self._parts
                )
                changed = scanners[2]  # a gapped pattern's last part found: a hit may be complete
            else:
                self._rescan(previous, text)
                changed = True
            if changed:
                self._gapped = self._index.join_parts(self._parts) if self._parts else []
            self._text = text
        self._norm = norm
        located: list[SegmentHit] = []
        self._located = located
        if self._hits or self._gapped:
            seen: dict[str, int] = {}
            for hit in excused(self._hits + self._gapped):
                if hit.end <= base:
                    continue
                key = hit.target.key
                occurrence = seen.get(key, 0)
                seen[key] = occurrence + 1
                located.append(
                    SegmentHit(hit, occurrence, max(hit.start - base, 0), hit.end - base, norm)
                )
        return located

    def _rescan(self, previous: str, text: str) -> None:
        """Scan ``text`` again from the first character that differs from ``previous`` less one
        pattern length (a match that ends after it begins there or later); keep what was found
        wholly before."""
        same = _common_prefix(previous, text) if previous else 0
        rescan = max(same - self._keep, 0)
        if self._hits:
            self._hits = [h for h in self._hits if h.start < rescan]
        if self._parts:
            self._parts = _parts_within(self._parts, 0, rescan)
        self._scanners = self._index.feed(text, rescan, FRESH, self._hits, self._parts)

    def close_segment(self, norm: Normalized) -> None:
        """The segment is final: its text becomes part of the tail. The search goes on from
        where it stopped (if the final was scanned): what was found in the new tail is kept."""
        text = self.tail + norm.text
        tail = text[-self._keep :] if self._keep else ""
        if text == self._text and self._scanners is not None:
            cut = len(text) - len(tail)
            if cut:  # the automata go on: a match still to come holds at most the tail's text
                if self._hits:
                    self._hits = [
                        Hit(h.start - cut, h.end - cut, h.pattern, h.target, h.phonetic)
                        for h in self._hits
                        if h.start >= cut
                    ]
                if self._parts:
                    self._parts = _parts_within(self._parts, cut, len(text), shift=cut)
                    self._gapped = self._index.join_parts(self._parts) if self._parts else []
                else:
                    self._gapped = []
            self._text = tail
            self.tail = tail
            self._norm = None
            self._located = []
        else:
            self._reset()
            self.tail = tail

    def break_continuity(self) -> None:
        if self.tail or self._text or self._scanners is not None or self._norm is not None:
            self._reset()
            self.tail = ""

    def _reset(self) -> None:
        self._text = ""
        self._scanners = None
        self._hits = []
        self._parts = {}
        self._gapped = []
        self._norm = None
        self._located = []


def _parts_within(parts: Parts, low: int, high: int, shift: int = 0) -> Parts:
    """The part occurrences that start in ``[low, high)``, moved back by ``shift``."""
    kept: Parts = {}
    for ref, spans in parts.items():
        inside = [(s - shift, e - shift) for s, e in spans if low <= s < high]
        if inside:
            kept[ref] = inside
    return kept
