"""Text normalization with a map back to the original characters.

Every matcher works on normalized text: NFKC (full/half width), lower case, no punctuation or
white space, 您 folded to 你, pure fillers (嗯, 呃) dropped. Each normalized character remembers
the index of the original character it came from, so a match can be reported as a span of the text
the agent's screen shows.

The per-character table is filled lazily and shared by every call: normalizing a fragment is one
dictionary look-up per character.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: Characters folded to another before matching: the polite and plain "you" are the same word to
#: the norms (禁语 are written with both), so 您 and 你 must match each other.
FOLDS = {"您": "你"}
#: ASR fillers that never carry meaning on their own.
FILLERS = frozenset("嗯呃")

_table: dict[str, str] = {}


def _fold(char: str) -> str:
    out = []
    for c in unicodedata.normalize("NFKC", char).lower():
        category = unicodedata.category(c)
        if category[0] in "PZC" or c.isspace() or category in ("Sk", "Sm", "So"):
            continue
        c = FOLDS.get(c, c)
        if c in FILLERS:
            continue
        out.append(c)
    return "".join(out)


def fold_char(char: str) -> str:
    """The normalized form of one character (possibly empty, possibly several characters)."""
    folded = _table.get(char)
    if folded is None:
        folded = _table[char] = _fold(char)
    return folded


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalized text; ``offsets[i]`` is the index in the original of normalized char ``i``."""

    text: str
    offsets: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span ``[a, b)`` covering normalized ``[start, end)`` (end > start)."""
        return self.offsets[start], self.offsets[end - 1] + 1


def normalize(text: str) -> Normalized:
    chars: list[str] = []
    offsets: list[int] = []
    table = _table
    for i, char in enumerate(text):
        folded = table.get(char)
        if folded is None:
            folded = fold_char(char)
        if folded:
            chars.append(folded)
            offsets.extend([i] * len(folded))
    return Normalized("".join(chars), tuple(offsets))


def normalize_text(text: str) -> str:
    """Just the normalized string, for building patterns."""
    return normalize(text).text
