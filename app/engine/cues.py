"""Word lists of the script's rules, found in normalized text.

The behaviour rules and the intent recogniser listen for short lists of words that the script
gives (back-channel words, the words that announce a hold, complaint cues…). :class:`Cues`
compiles such a list once per script: each phrase in the script's pattern syntax
(:mod:`app.engine.patterns`: ``{a,b}`` alternatives, ``{m,n}`` gaps), each carrying a value,
found in one pass of a native automaton. :func:`covers` says whether an utterance is made of
nothing but words of a vocabulary (a back-channel ``嗯对对好的``, a bare ``你说什么``).

A phrase may also name a class of words, ``<name>``, from the ``classes`` the script gives (the
intent recogniser's synonyms: ``<money>`` is 钱, 话费, 月租…): ``<restitute>{0,3}<money>`` is any
restitution verb followed within three characters by any word for money. A class is one place of
the phrase matched by any of its words, not a product of readings, so a phrase of three classes
of thirty words costs three places, not 27,000 readings.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any, Generic, NamedTuple, TypeVar

from app.engine import native
from app.engine.normalize import normalize_text
from app.engine.patterns import BRACES, GAP, MAX_GAP, PatternError, expand, slashes

V = TypeVar("V")


class Found(NamedTuple):
    """One occurrence of a phrase: normalized ``[start, end)``, the phrase as written, its
    value."""

    start: int
    end: int
    phrase: str
    value: Any


#: A class of words named in a phrase.
_CLASS = re.compile(r"<([a-z_]+)>")
_PIECES = re.compile(r"(<[a-z_]+>|\{[^{}]*\})")
Gap = tuple[int, int]
#: One reading of a phrase: its places (each the set of words that may stand there) and the
#: gaps between them.
Reading = tuple[tuple[frozenset[str], ...], tuple[Gap, ...]]


def class_words(classes: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """Every class's words, normalized, with its braces' readings and the words of the classes
    it names (``<other>`` as an entry); raises :class:`PatternError` for an unknown or circular
    class, a gap or an entry that normalizes to nothing."""
    resolved: dict[str, frozenset[str]] = {}

    def resolve(name: str, trail: tuple[str, ...]) -> frozenset[str]:
        if name in resolved:
            return resolved[name]
        if name not in classes:
            raise PatternError(f"unknown class <{name}>")
        if name in trail:
            raise PatternError(f"class <{name}> names itself: {' → '.join((*trail, name))}")
        words: set[str] = set()
        for entry in classes[name]:
            named = _CLASS.fullmatch(entry.strip())
            if named:
                words |= resolve(named.group(1), (*trail, name))
                continue
            if _CLASS.search(entry):
                raise PatternError(f"class <{name}>: {entry!r} mixes a class with words")
            for pattern in expand(entry):
                if not pattern.literal:
                    raise PatternError(f"class <{name}>: {entry!r} has a gap")
                if len(pattern.parts[0]) == 1 and "{" not in entry and len(entry.strip()) > 1:
                    # 天天 reads 天 once its repeat collapses: it would stand for every 天
                    raise PatternError(
                        f"class <{name}>: {entry!r} normalizes to the one character "
                        f"{pattern.parts[0]!r}; write a word that keeps its meaning"
                    )
                words.add(pattern.parts[0])
        resolved[name] = frozenset(words)
        return resolved[name]

    for name in classes:
        resolve(name, ())
    return resolved


def read(phrase: str, classes: Mapping[str, frozenset[str]]) -> list[Reading]:
    """The readings of a phrase: each class (``<name>``) one place; raises
    :class:`PatternError` on a bad phrase.

    A phrase of words and alternatives only (``{凭什么,为什么}扣``) reads as its literal
    readings, each one word of the automaton. In a phrase with a gap or a class, a group of
    alternatives is one place too, as a class is, unless one of them is empty (``给{我,}``):
    ``{不,再不}{解决,处理}{0,5}{我就,就}`` is four places, not twenty readings."""
    phrase = slashes(phrase)
    pieces = _PIECES.split(phrase)
    placed = any(_CLASS.fullmatch(p) or GAP.match(p.strip("{}")) for p in pieces if p)
    options: list[list[str | Gap | frozenset[str]]] = []
    for piece in pieces:
        named = _CLASS.fullmatch(piece)
        braces = BRACES.fullmatch(piece)
        if named:
            if named.group(1) not in classes:
                raise PatternError(f"unknown class <{named.group(1)}> in {phrase!r}")
            options.append([classes[named.group(1)]])
        elif braces and GAP.match(braces.group(1)):
            gap = GAP.match(braces.group(1))
            assert gap is not None
            low, high = int(gap.group(1)), int(gap.group(2))
            if low > high or high > MAX_GAP:
                raise PatternError(f"gap {piece} in {phrase!r}: need low ≤ high ≤ {MAX_GAP}")
            options.append([(low, high)])
        elif braces:
            # a class among the alternatives stands for its words ({<kin>,他,她})
            alternatives: list[str] = []
            for alternative in braces.group(1).split(","):
                among = _CLASS.fullmatch(alternative)
                if among is None:
                    alternatives.append(alternative)
                elif among.group(1) not in classes:
                    raise PatternError(f"unknown class <{among.group(1)}> in {phrase!r}")
                else:
                    alternatives.extend(sorted(classes[among.group(1)]))
            if placed and all(normalize_text(a) for a in alternatives):
                options.append([frozenset(normalize_text(a) for a in alternatives)])
            else:
                options.append(list(alternatives))
        elif "{" in piece or "}" in piece or "<" in piece or ">" in piece:
            raise PatternError(f"unbalanced braces or class marks in {phrase!r}")
        elif piece:
            options.append([piece])
    readings: dict[Reading, None] = {}
    for choice in itertools.product(*options):
        # Literal text runs together; a class or a gap ends the run as one place.
        items: list[frozenset[str] | Gap] = []
        literal = ""
        for item in (*choice, None):
            if isinstance(item, str):
                literal += item
                continue
            if normalize_text(literal):
                items.append(frozenset({normalize_text(literal)}))
            literal = ""
            if item is not None:
                items.append(item)
        places: list[frozenset[str]] = []
        gaps: list[Gap] = []
        for k, item in enumerate(items):
            if isinstance(item, tuple):
                if not places or k + 1 == len(items) or isinstance(items[k + 1], tuple):
                    raise PatternError(f"{phrase!r}: a gap needs words on both sides")
                gaps.append(item)
                continue
            if places and isinstance(items[k - 1], frozenset):
                gaps.append((0, 0))
            places.append(item)
        if not places:
            raise PatternError(f"{phrase!r} is empty")
        readings[(tuple(places), tuple(gaps))] = None
    return list(readings)


class Cues(Generic[V]):
    """Phrases with a value each, found in normalized text; built once, shared by calls.

    ``classes`` (name → words) are the word classes the phrases may name as ``<name>``."""

    def __init__(
        self,
        entries: Iterable[tuple[str, V]],
        classes: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        known = class_words(classes) if classes else {}
        #: word → (gapped index or -1 for a literal, place, length, phrase, value)
        words: dict[str, list[tuple[int, int, int, str, V]]] = {}
        #: Readings of several places: (place count, gaps, phrase, value).
        self._gapped: list[tuple[int, tuple[Gap, ...], str, V]] = []
        for phrase, value in entries:
            for places, gaps in read(phrase, known):
                if len(places) == 1 and len(places[0]) == 1:
                    (word,) = places[0]
                    words.setdefault(word, []).append((-1, 0, len(word), phrase, value))
                    continue
                index = len(self._gapped)
                self._gapped.append((len(places), gaps, phrase, value))
                for i, place_words in enumerate(places):
                    for word in place_words:
                        words.setdefault(word, []).append((index, i, len(word), phrase, value))
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
            for index, i, length, phrase, value in refs:
                if index < 0:  # a literal reading
                    if not _inside_digits(text, end - length, end):
                        hits.append(Found(end - length, end, phrase, value))
                elif i and (index, i - 1) not in parts:
                    # the place before it ends before it begins, so it was found already (the
                    # scan reports words as they end): without it this place leads nowhere
                    continue
                elif length < 3 or not _inside_digits(text, end - length, end):
                    # a code of a class (12345) is no code inside a phone number either
                    parts.setdefault((index, i), []).append((end - length, end))
        for index in sorted({index for index, i in parts if i == 0}):
            places, gaps, phrase, value = self._gapped[index]
            if (index, places - 1) not in parts:
                continue
            chains = parts[(index, 0)]
            for i, (low, high) in enumerate(gaps, start=1):
                nexts = parts.get((index, i), [])
                chains = [(s, e2) for s, e in chains for s2, e2 in nexts if low <= s2 - e <= high]
                if not chains:
                    break
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
