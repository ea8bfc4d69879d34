"""Flexible patterns for phrases the norms name as an idea rather than a string.

Written in a lexicon's ``variants`` (and any other phrase list):

- ``{也,}`` — alternatives, the empty one included: ``我{也,}不知道`` is 我也不知道 or 我不知道;
- ``{0,3}`` — a gap of 0 to 3 characters of anything: ``有意见{0,3}找领导`` matches 有意见你找领导,
  有意见可以去找领导;
- ``A/B`` — whole-clause alternatives, as norms and company lists write them: ``开发人员/销售人员,
  怎么这样`` is 开发人员怎么这样 or 销售人员怎么这样 (a clause runs between punctuation marks).
  Where a piece is too short to be the clause on its own (``我不知道/清楚``: 我不清楚, or 清楚?)
  the phrase is refused, not read one way or the other: write ``我不{知道,清楚}``.

Gaps count normalized characters. A phrase is expanded into literal alternatives at load time; a
gap is a place in the sound automaton where that many characters of anything may come.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from app.engine.normalize import normalize_text

BRACES = re.compile(r"\{([^{}]*)\}")
#: What ends a clause in a phrase as a norm or a company list writes it.
CLAUSE_MARKS = frozenset(",，。.!！?？;；、:：…~～ \t")
#: A "/" piece no longer than this share of the longest piece of its clause may be a part of
#: the longer piece's words rather than the whole clause (我不知道/清楚): ambiguous.
_SHORTEST_SHARE = 0.5
GAP = re.compile(r"^\s*(\d+)\s*,\s*(\d+)\s*$")
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


def clauses(phrase: str) -> list[str]:
    """``phrase`` cut at its clause marks (outside braces), the empty pieces left out:
    ``刚才跟你说过了,怎么还问?`` → 刚才跟你说过了, 怎么还问."""
    out: list[str] = []
    current: list[str] = []
    depth = 0
    for char in phrase:
        depth += (char == "{") - (char == "}")
        if depth == 0 and char in CLAUSE_MARKS:
            if "".join(current).strip():
                out.append("".join(current))
            current = []
            continue
        current.append(char)
    if "".join(current).strip():
        out.append("".join(current))
    return out


def _clause_length(piece: str) -> int:
    """A piece's length in characters said, a brace group counted as its longest alternative."""
    length = 0
    last = 0
    for m in BRACES.finditer(piece):
        length += len(normalize_text(piece[last : m.start()]))
        if not GAP.match(m.group(1)):
            length += max(len(normalize_text(a)) for a in m.group(1).split(","))
        last = m.end()
    return length + len(normalize_text(piece[last:]))


def slashes(phrase: str) -> str:
    """``phrase`` with its ``A/B`` clause alternatives written as braces (``{A,B}``); raises
    :class:`PatternError` for an empty piece, a "/" inside braces, or a piece too short to be
    the whole clause (ambiguous: a part of a longer piece's words, or the clause?)."""
    if "/" not in phrase and "／" not in phrase:
        return phrase
    phrase = re.sub(r"\s*[/／]\s*", "/", phrase)  # spaces around a slash are no clause marks
    out: list[str] = []
    current: list[str] = []
    depth = 0

    def close() -> None:
        clause = "".join(current)
        current.clear()
        if "/" not in clause:
            out.append(clause)
            return
        pieces = [piece.strip() for piece in clause.split("/")]
        if any(not _clause_length(piece) for piece in pieces):
            raise PatternError(f"an empty alternative around '/' in {phrase!r}")
        lengths = [_clause_length(piece) for piece in pieces]
        if min(lengths) < 2 or min(lengths) <= _SHORTEST_SHARE * max(lengths):
            raise PatternError(
                f"ambiguous '/' in {phrase!r}: {'/'.join(pieces)!r} reads as whole-clause "
                "alternatives, but a piece is too short to be the clause on its own; write the "
                "alternatives in braces where they are (我不{知道,清楚}) or as separate entries"
            )
        if any("{" in piece for piece in pieces):
            raise PatternError(
                f"'/' between pieces with braces in {phrase!r}: write one brace group, or "
                "separate entries"
            )
        out.append("{" + ",".join(pieces) + "}")

    for char in phrase:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if depth and char == "/":
            raise PatternError(f"'/' inside braces in {phrase!r}: alternatives there are {{a,b}}")
        if depth == 0 and char in CLAUSE_MARKS:
            close()
            out.append(char)
            continue
        current.append(char)
    close()
    return "".join(out)


def expand(phrase: str) -> list[Pattern]:
    """Every literal reading of ``phrase``; raises :class:`PatternError` on bad braces or an
    ambiguous "/"."""
    phrase = slashes(phrase)
    if phrase.count("{") != phrase.count("}"):
        raise PatternError(f"unbalanced braces in {phrase!r}")
    pieces: list[list[str | tuple[int, int]]] = []
    last = 0
    for m in BRACES.finditer(phrase):
        pieces.append([phrase[last : m.start()]])
        gap = GAP.match(m.group(1))
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
