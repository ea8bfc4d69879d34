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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

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
    frozen dataclass: one is made per match, and ``object.__setattr__`` per field costs three
    times as much.
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
#: A segment's hits when it has none (shared: nobody changes a stream's hits).
NO_HITS: tuple[SegmentHit, ...] = ()
#: A hit a stream keeps in its tail after a final, as plain values: (start, end, pattern,
#: target number in ``PhraseIndex.targets``, phonetic). CPython's collector untracks an exact
#: tuple of such values — never a named tuple, nor a tuple holding a ``Target`` — so what a call
#: keeps between fragments gives young collections nothing to promote and middle ones nothing
#: to walk (BENCHMARKS.md, long windows).
Kept = tuple[int, int, str, int, bool]


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


def judged(hits: list[Hit], base: int, final: bool) -> tuple[list[Hit], bool]:
    """What a hypothesis is judged on, from the hits in tail + hypothesis (the hypothesis
    begins at ``base``): those :func:`excused` keeps that end in the hypothesis — of every kind
    on a final, of the kinds judged on partials (``ON_PARTIAL``) otherwise — and whether that
    left out nothing a final would judge. The same as ``[h for h in excused(hits) if h.end >
    base and (final or h.target.partial)]`` (tested), without excusing what cannot matter: what
    ``excused`` does to a target's hits depends only on that target's hits and the allow
    phrases that excuse it, so only the hits of the targets judged are given to it."""
    live = [h for h in hits if h.end > base]
    complete = True
    if not final:
        partial = [h for h in live if h.target.partial]
        complete = len(partial) == len(live)
        live = partial
    if not live:  # only hits in the tail (the last segment's words), or none to judge yet
        return [], complete
    if len(live) < len(hits):
        targets = {h.target.key for h in live}
        hits = [h for h in hits if h.target.key in targets or h.target.excuses in targets]
    return [h for h in excused(hits) if h.end > base], complete


class SegmentHit(NamedTuple):
    """A hit located in the current segment: ``occurrence`` counts earlier hits of the same
    target in this segment (the identity of "the same words" across partials)."""

    hit: Hit
    occurrence: int
    #: The hit in the segment's normalized text (``start`` is 0 for a hit begun in the tail).
    start: int
    end: int
    #: The segment's text, for the span (worked out only when asked for: most hits raise nothing).
    norm: Normalized

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
      after a final of the same speaker: it extends the tail) is fed to the automata where they
      stopped (the stream's native cursor), so only the new characters are scanned;
    - a hypothesis that changes earlier characters is scanned again from the first changed one
      less one pattern length; hits wholly before that are kept;
    - the same hypothesis again (a final that repeats the last partial) is not scanned.
    """

    __slots__ = (
        "_index",
        "_keep",
        "tail",
        "_text",
        "_cursor",
        "_scanned",
        "_hits",
        "_kept",
        "_parts",
        "_gapped",
        "_norm",
        "_located",
        "_all",
    )

    def __init__(self, index: PhraseIndex) -> None:
        self._index = index
        self._keep = max(index.max_len - 1, 0)
        self.tail = ""
        self._text = ""  # tail + the current hypothesis, as last scanned
        #: Where the automata stopped: at the end of _text when _scanned (else nothing was).
        self._cursor = index.cursor()
        self._scanned = False
        #: Literal and phonetic hits in _text: those in the tail kept from earlier segments
        #: (plain values, ``Kept``), then those found since (one list, emptied, never replaced).
        self._kept: tuple[Kept, ...] = ()
        self._hits: list[Hit] = []
        self._parts: Parts = {}  # parts of gapped patterns in _text
        self._gapped: list[Hit] = []  # gapped-pattern hits joined from _parts
        self._norm: Normalized | None = None  # the hypothesis last located, and its hits
        self._located: Sequence[SegmentHit] = NO_HITS
        self._all = True  # whether _located holds the hits of every kind (see scan_segment)

    def scan_segment(self, norm: Normalized, final: bool = True) -> Sequence[SegmentHit]:
        """Hits that end inside the current segment (``norm``), with spans into its text: on a
        partial (``final`` false), only those of the kinds judged on partials (``ON_PARTIAL``).

        A match that begins in the tail is reported on this segment, its span starting at 0.
        The sequence returned is the stream's own: do not change it.
        """
        if norm is self._norm:
            if self._all or not final:
                return self._located
            return self._locate(norm, final)
        tail = self.tail
        text = tail + norm.text if tail else norm.text
        previous = self._text
        if text != previous:
            if self._scanned and text.startswith(previous):
                found = self._cursor.feed(text, len(previous))
                # a gapped pattern's last part found: a gapped hit may be complete
                if found is not None and self._index.take(found, text, self._hits, self._parts):
                    self._gapped = self._index.join_parts(self._parts)
            else:
                self._rescan(previous, text)
                self._gapped = self._index.join_parts(self._parts) if self._parts else []
            self._text = text
        self._norm = norm
        if not (self._hits or self._gapped):  # the common case, in line
            self._all = True
            self._located = NO_HITS
            return NO_HITS
        return self._locate(norm, final)

    def _locate(self, norm: Normalized, final: bool) -> Sequence[SegmentHit]:
        """The hits of the text scanned last that end in the segment ``norm`` (of every kind,
        or on a partial of the kinds judged on partials), located in it."""
        base = len(self.tail)
        hits = self._hits + self._gapped if self._gapped else self._hits
        if self._kept:
            targets = self._index.targets
            hits = [Hit(s, e, p, targets[t], ph) for s, e, p, t, ph in self._kept] + hits
        judged_hits, self._all = judged(hits, base, final)
        if not judged_hits:
            self._located = NO_HITS
            return NO_HITS
        located: list[SegmentHit] = []
        seen: dict[str, int] = {}
        for hit in judged_hits:
            key = hit.target.key
            occurrence = seen.get(key, 0)
            seen[key] = occurrence + 1
            located.append(
                SegmentHit(hit, occurrence, max(hit.start - base, 0), hit.end - base, norm)
            )
        self._located = located if located else NO_HITS
        return self._located

    def _rescan(self, previous: str, text: str) -> None:
        """Scan ``text`` again from the first character that differs from ``previous`` less one
        pattern length (a match that ends after it begins there or later); keep what was found
        wholly before."""
        same = _common_prefix(previous, text) if previous else 0
        rescan = max(same - self._keep, 0)
        if self._kept:
            self._kept = tuple(k for k in self._kept if k[0] < rescan)
        if self._hits:
            self._hits[:] = [h for h in self._hits if h.start < rescan]
        if self._parts:
            self._parts = _parts_within(self._parts, 0, rescan)
        self._cursor.reset()
        found = self._cursor.feed(text, rescan)
        if found is not None:
            self._index.take(found, text, self._hits, self._parts)
        self._scanned = True

    def close_segment(self, norm: Normalized) -> None:
        """The segment is final: its text becomes part of the tail. The search goes on from
        where it stopped (if the final was scanned): what was found in the new tail is kept."""
        text = self.tail + norm.text
        tail = text[-self._keep :] if self._keep else ""
        if text == self._text and self._scanned:
            cut = len(text) - len(tail)
            if self._hits:  # kept as plain values (``Kept``), in the tail's places
                numbers = self._index.target_numbers
                self._kept += tuple(
                    (h.start, h.end, h.pattern, numbers[h.target], h.phonetic) for h in self._hits
                )
                self._hits.clear()
            if cut:  # the automata go on: a match still to come holds at most the tail's text
                if self._kept:
                    self._kept = tuple(
                        (s - cut, e - cut, p, t, ph) for s, e, p, t, ph in self._kept if s >= cut
                    )
                if self._parts:
                    self._parts = _parts_within(self._parts, cut, len(text), shift=cut)
                    # the chains left are some of those there were: none if there were none
                    if self._gapped:
                        self._gapped = self._index.join_parts(self._parts) if self._parts else []
            self._text = tail
            self.tail = tail
            self._norm = None
            self._located = NO_HITS
        else:
            self._reset()
            self.tail = tail

    def break_continuity(self) -> None:
        if self.tail or self._text or self._scanned or self._norm is not None:
            self._reset()
            self.tail = ""

    def _reset(self) -> None:
        """Back to nothing scanned (the hit list is emptied in place, the maps made anew only
        if they hold something: most segments find nothing)."""
        self._text = ""
        self._scanned = False
        self._kept = ()
        if self._hits:
            self._hits.clear()
        if self._parts:
            self._parts = {}
        if self._gapped:
            self._gapped = []
        self._norm = None
        self._located = NO_HITS


def _parts_within(parts: Parts, low: int, high: int, shift: int = 0) -> Parts:
    """The part occurrences that start in ``[low, high)``, moved back by ``shift``."""
    kept: Parts = {}
    for ref, spans in parts.items():
        inside = [(s - shift, e - shift) for s, e in spans if low <= s < high]
        if inside:
            kept[ref] = inside
    return kept
