"""Flexible patterns for phrases the norms name as an idea rather than a string.

Written in a lexicon's ``variants`` (and any other phrase list):

- ``{也,}`` — alternatives, the empty one included: ``我{也,}不知道`` is 我也不知道 or 我不知道;
- ``{0,3}`` — a gap of 0 to 3 characters of anything: ``有意见{0,3}找领导`` matches 有意见你找领导,
  有意见可以去找领导.

Gaps count normalized characters. A phrase is expanded into literal alternatives at load time; a
gap splits it into parts that the index matches separately and joins when they fall close enough.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from app.engine.normalize import normalize_text

_BRACES = re.compile(r"\{([^{}]*)\}")
_GAP = re.compile(r"^\s*(\d+)\s*,\s*(\d+)\s*$")
#: Longest gap a pattern may ask for: a longer one would match unrelated words.
MAX_GAP = 8


class PatternError(ValueError):
    """A phrase whose braces cannot be read."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """One literal reading of a phrase: normalized ``parts`` with ``gaps`` (min, max) between."""

    parts: tuple[str, ...]
    gaps: tuple[tuple[int, int], ...] = ()

    @property
    def literal(self) -> bool:
        return not self.gaps

    @property
    def max_len(self) -> int:
        return sum(len(p) for p in self.parts) + sum(high for _, high in self.gaps)

    @property
    def label(self) -> str:
        out = self.parts[0]
        for (low, high), part in zip(self.gaps, self.parts[1:], strict=True):
            out += f"{{{low},{high}}}{part}"
        return out


def expand(phrase: str) -> list[Pattern]:
    """Every literal reading of ``phrase``; raises :class:`PatternError` on bad braces."""
    if phrase.count("{") != phrase.count("}"):
        raise PatternError(f"unbalanced braces in {phrase!r}")
    pieces: list[list[str | tuple[int, int]]] = []
    last = 0
    for m in _BRACES.finditer(phrase):
        pieces.append([phrase[last : m.start()]])
        gap = _GAP.match(m.group(1))
        if gap:
            low, high = int(gap.group(1)), int(gap.group(2))
            if low > high or high > MAX_GAP:
                raise PatternError(
                    f"gap {{{low},{high}}} in {phrase!r}: need low ≤ high ≤ {MAX_GAP}"
                )
            pieces.append([(low, high)])
        else:
            pieces.append([alt for alt in m.group(1).split(",")])
        last = m.end()
    pieces.append([phrase[last:]])
    patterns: list[Pattern] = []
    for choice in itertools.product(*pieces):
        parts: list[str] = [""]
        gaps: list[tuple[int, int]] = []
        for piece in choice:
            if isinstance(piece, tuple):
                gaps.append(piece)
                parts.append("")
            else:
                parts[-1] += piece
        normalized = tuple(normalize_text(p) for p in parts)
        if not all(normalized):
            raise PatternError(f"{phrase!r} has an empty part around a gap, or is empty")
        pattern = Pattern(normalized, tuple(gaps))
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns
