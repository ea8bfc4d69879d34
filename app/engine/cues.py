"""Word lists of the script's rules, found in normalized text.

The behaviour rules and the intent recogniser listen for short lists of words that the script
gives (back-channel words, the words that announce a hold, complaint cues…). :class:`Cues`
compiles such a list once per script: each phrase in the script's pattern syntax
(:mod:`app.engine.patterns`: ``{a,b}`` alternatives, ``{m,n}`` gaps), each carrying a value,
found in one pass of a native automaton. :func:`covers` says whether an utterance is made of
nothing but words of a vocabulary (a back-channel ``嗯对对好的``, a bare ``你说什么``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, NamedTuple, TypeVar

from app.engine import native
from app.engine.normalize import normalize_text
from app.engine.patterns import expand

V = TypeVar("V")


class Found(NamedTuple):
    """One occurrence of a phrase: normalized ``[start, end)``, the phrase as written, its
    value."""

    start: int
    end: int
    phrase: str
    value: Any


class Cues(Generic[V]):
    """Phrases with a value each, found in normalized text; built once, shared by calls."""

    def __init__(self, entries: Iterable[tuple[str, V]]) -> None:
        words: dict[str, list[tuple[int, int, str, V]]] = {}
        #: Gapped patterns: (parts, gaps, phrase, value).
        self._gapped: list[tuple[tuple[str, ...], tuple[tuple[int, int], ...], str, V]] = []
        for phrase, value in entries:
            for pattern in expand(phrase):
                if pattern.literal:
                    word = pattern.parts[0]
                    words.setdefault(word, []).append((-1, len(word), phrase, value))
                    continue
                index = len(self._gapped)
                self._gapped.append((pattern.parts, pattern.gaps, phrase, value))
                for i, part in enumerate(pattern.parts):
                    words.setdefault(part, []).append((index, i, phrase, value))
        self._automaton = (
            native.automaton({w: tuple(refs) for w, refs in words.items()}) if words else None
        )

    def __bool__(self) -> bool:
        return self._automaton is not None

    def find(self, text: str) -> list[Found]:
        """Every occurrence in ``text`` (normalized), in the order they end."""
        if self._automaton is None or not text:
            return []
        _, found = self._automaton.scan(text, 0, 0)
        if found is None:
            return []
        hits: list[Found] = []
        parts: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for last, refs in found:
            end = last + 1
            for index, i, phrase, value in refs:
                if index < 0:  # a literal reading; ``i`` is its length
                    if not _inside_digits(text, end - i, end):
                        hits.append(Found(end - i, end, phrase, value))
                else:
                    length = len(self._gapped[index][0][i])
                    parts.setdefault((index, i), []).append((end - length, end))
        for index in sorted({index for index, i in parts if i == 0}):
            part_list, gaps, phrase, value = self._gapped[index]
            chains = parts[(index, 0)]
            for i, (low, high) in enumerate(gaps, start=1):
                nexts = parts.get((index, i), [])
                chains = [(s, e2) for s, e in chains for s2, e2 in nexts if low <= s2 - e <= high]
            if chains:
                start, end = min(chains, key=lambda c: (c[1], -c[0]))
                hits.append(Found(start, end, phrase, value))
        hits.sort(key=lambda h: (h.end, h.start))
        return hits

    def first(self, text: str) -> Found | None:
        """The first occurrence to end in ``text``, if any."""
        found = self.find(text)
        return found[0] if found else None


def _inside_digits(text: str, start: int, end: int) -> bool:
    """Whether a match of digits at ``[start, end)`` is part of a longer run of digits (the
    hotline 12345 inside a phone number 13812345678 is no hotline)."""
    return (text[start].isdigit() and start > 0 and text[start - 1].isdigit()) or (
        text[end - 1].isdigit() and end < len(text) and text[end].isdigit()
    )


def covers(text: str, vocabulary: frozenset[str], longest: int) -> bool:
    """Whether ``text`` (normalized, not empty) is nothing but words of ``vocabulary`` (whose
    longest word has ``longest`` characters), one after the other."""
    if not text:
        return False
    reach = [False] * (len(text) + 1)
    reach[0] = True
    for i in range(len(text)):
        if not reach[i]:
            continue
        for n in range(1, min(longest, len(text) - i) + 1):
            if text[i : i + n] in vocabulary:
                reach[i + n] = True
    return reach[len(text)]


def vocabulary(words: Iterable[str]) -> tuple[frozenset[str], int]:
    """Every literal reading of ``words`` (normalized), and the longest one's length, for
    :func:`covers`. A word that normalizes to nothing (a filler such as 嗯, which normalization
    drops from every utterance) adds nothing."""
    readings = frozenset(
        pattern.parts[0]
        for word in words
        if normalize_text(word)
        for pattern in expand(word)
        if pattern.literal
    )
    return readings, max((len(r) for r in readings), default=0)
