"""Streaming matching per speaker, over the phrase index (:mod:`app.engine.index`).

:class:`SpeakerStream` keeps one speaker's continuous speech: the normalized tail of the previous
consecutive segments, so a phrase split over two segments still matches (and is reported on the
later one), and the current segment's hypothesis. Where a segment begins by repeating the last
one or two characters of the one before (我也没 | 没办法, 你问我 | 我问谁), the repeat is a
stutter across the join and is read once, as normalization reads it inside one segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from app.engine.index import QUALIFIERS, Broken, Hit, PhraseIndex, excused
from app.engine.native import Cursor
from app.engine.normalize import Normalized
from app.engine.patterns import CLAUSE_MARKS

#: A segment's hits when it has none (shared: nobody changes a stream's hits).
NO_HITS: Final[tuple[SegmentHit, ...]] = ()
#: A hit a stream keeps in its tail after a final, as plain values: (start, end, pattern,
#: target number in ``PhraseIndex.targets``, phonetic, derived). CPython's collector untracks an
#: exact tuple of such values — never a named tuple, nor a tuple holding a ``Target`` — so what a
#: call keeps between fragments gives young collections nothing to promote and middle ones
#: nothing to walk (BENCHMARKS.md, long windows).
Kept = tuple[int, int, str, int, bool, bool]


def judged(
    hits: list[Hit], base: int, final: bool, broken: Broken | None = None
) -> tuple[list[Hit], bool]:
    """What a hypothesis is judged on, from the hits in tail + hypothesis (the hypothesis
    begins at ``base``): those :func:`excused` keeps that end in the hypothesis — of every kind
    on a final, of the kinds judged on partials (``ON_PARTIAL``) otherwise — and whether that
    left out nothing a final would judge. The same as ``[h for h in excused(hits) if h.end >
    base and (final or h.target.partial)]`` (tested), without excusing what cannot matter: what
    ``excused`` does to a target's hits depends only on that target's hits and the allow
    phrases that excuse it, so only the hits of the targets judged are given to it. Allow and
    softening phrases are never judged on their own: a softening hit is kept only beside a hit
    of the target it softens."""
    live = [h for h in hits if h.end > base and h.target.kind not in QUALIFIERS]
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
    return [h for h in excused(hits, broken) if h.end > base], complete


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


class _Clauses:
    """Where clauses end in the text a stream scanned last, whose segment ``norm`` begins at
    ``base``. Handed over as a bound method, not a closure: compiled by mypyc, a closure and
    the environment it captures refer to each other, garbage only the collector frees, made
    for every located fragment (``tests/engine/test_garbage.py``)."""

    __slots__ = ("norm", "base", "skip")

    def __init__(self, norm: Normalized, base: int, skip: int) -> None:
        self.norm = norm
        self.base = base
        self.skip = skip

    def broken(self, start: int, end: int) -> bool:
        """A clause ends inside ``[start, end)`` of the text scanned: the join with the segment
        before, or a clause mark in the text as sent (offsets are worked out only here, for an
        allow phrase around a hit)."""
        base = self.base
        if start < base:
            return True
        norm = self.norm
        offsets = norm.offsets
        first = offsets[start - base + self.skip]
        last = offsets[end - base + self.skip - 1]
        return any(c in CLAUSE_MARKS for c in norm.raw[first:last])


class SpeakerStream:
    """One speaker's continuous speech, for matching across partials and segments.

    The tail holds the last ``max_len - 1`` normalized characters of this speaker's previous
    consecutive final segments; a final segment of the other speaker breaks the continuity
    (:meth:`break_continuity`). Hits are found in tail + the current hypothesis (less a stutter
    at the join: :func:`joined`), exactly as a fresh scan of that text would find them, without
    scanning it all again each time:

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
        "_skip",
        "_text",
        "_cursor",
        "_scanned",
        "_hits",
        "_kept",
        "_norm",
        "_located",
        "_all",
    )

    def __init__(self, index: PhraseIndex) -> None:
        self._index = index
        self._keep = max(index.max_len - 1, 0)
        self.tail = ""
        #: Characters of the current hypothesis left out of _text: a stutter across the join.
        self._skip = 0
        self._text = ""  # tail + the current hypothesis, as last scanned
        #: Where the automata stopped: at the end of _text when _scanned (else nothing was).
        #: Made by the first scan (a stream that never scans, an idle call's, needs none).
        self._cursor: Cursor | None = None
        self._scanned = False
        #: Hits in _text: those in the tail kept from earlier segments (plain values, ``Kept``),
        #: then those found since (one list, made with the first hit, emptied, never replaced).
        self._kept: tuple[Kept, ...] = ()
        self._hits: list[Hit] | None = None
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
        if tail:
            skip = joined(tail, norm.text)
            text = tail + norm.text[skip:] if skip else tail + norm.text
        else:
            skip = 0
            text = norm.text
        self._skip = skip
        previous = self._text
        if text != previous:
            cursor = self._cursor
            if self._scanned and cursor is not None and text.startswith(previous):
                found = cursor.feed(text, len(previous))
                if found is not None:
                    self._index.take(found, text, self._hit_list())
            else:
                self._rescan(previous, text)
            self._text = text
        self._norm = norm
        if not self._hits:  # the common case, in line (hits kept in the tail end in the tail)
            self._all = True
            self._located = NO_HITS
            return NO_HITS
        return self._locate(norm, final)

    def _locate(self, norm: Normalized, final: bool) -> Sequence[SegmentHit]:
        """The hits of the text scanned last that end in the segment ``norm`` (of every kind,
        or on a partial of the kinds judged on partials), located in it."""
        base = len(self.tail)
        hits = self._hit_list()
        if self._kept:
            targets = self._index.targets
            hits = [Hit(s, e, p, targets[t], ph, d) for s, e, p, t, ph, d in self._kept] + hits
        qualified = self._index.qualified
        if qualified and any(h.end > base and h.target.key in qualified for h in hits):
            hits = hits + self._index.qualifiers(self._text)
        skip = self._skip
        judged_hits, self._all = judged(hits, base, final, _Clauses(norm, base, skip).broken)
        if not judged_hits:
            self._located = NO_HITS
            return NO_HITS
        located: list[SegmentHit] = []
        seen: dict[str, int] = {}
        shift = skip - base  # from _text to the segment's normalized text
        for hit in judged_hits:
            key = hit.target.key
            occurrence = seen.get(key, 0)
            seen[key] = occurrence + 1
            start = hit.start + shift if hit.start >= base else 0
            located.append(SegmentHit(hit, occurrence, start, hit.end + shift, norm))
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
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self._index.cursor()
        else:
            cursor.reset()
        found = cursor.feed(text, rescan)
        if found is not None:
            self._index.take(found, text, self._hit_list())
        self._scanned = True

    def _hit_list(self) -> list[Hit]:
        """The list of the hits found in _text (made with the first)."""
        hits = self._hits
        if hits is None:
            hits = self._hits = []
        return hits

    def close_segment(self, norm: Normalized) -> None:
        """The segment is final: its text becomes part of the tail. The search goes on from
        where it stopped (if the final was scanned): what was found in the new tail is kept."""
        tail = self.tail
        skip = joined(tail, norm.text) if tail else 0
        text = tail + norm.text[skip:]
        tail = text[-self._keep :] if self._keep else ""
        if text == self._text and self._scanned:
            cut = len(text) - len(tail)
            if self._hits:  # kept as plain values (``Kept``), in the tail's places
                numbers = self._index.target_numbers
                self._kept += tuple(
                    (h.start, h.end, h.pattern, numbers[h.target], h.phonetic, h.derived)
                    for h in self._hits
                )
                self._hits.clear()
            if cut:  # the automata go on: a match still to come holds at most the tail's text
                if self._kept:
                    self._kept = tuple(
                        (s - cut, e - cut, p, t, ph, d)
                        for s, e, p, t, ph, d in self._kept
                        if s >= cut
                    )
                if self._cursor is not None:  # there is one: the text was scanned
                    self._cursor.shift(cut)
            self._text = tail
            self.tail = tail
            self._skip = 0
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
        """Back to nothing scanned (the hit list is emptied in place: most segments find
        nothing)."""
        self._text = ""
        self._skip = 0
        self._scanned = False
        self._kept = ()
        if self._hits:
            self._hits.clear()
        self._norm = None
        self._located = NO_HITS


def joined(tail: str, text: str) -> int:
    """How many first characters of ``text`` repeat the end of ``tail``: a stutter across the
    join of two segments, read once as normalization reads one inside a segment (a repeated
    character, else a repeated pair; never digits)."""
    if not text:
        return 0
    if text[0] == tail[-1] and not text[0].isdigit():
        return 1
    if (
        len(text) >= 2
        and len(tail) >= 2
        and text[:2] == tail[-2:]
        and not (text[0].isdigit() or text[1].isdigit())
    ):
        return 2
    return 0
