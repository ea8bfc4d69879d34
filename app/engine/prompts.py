"""Filling prompt templates and telling whether the agent said a prompt.

A template such as ``感谢您使用中国移动,祝您{wish},{title},再见。`` is filled per call; slots the
call cannot know (``wish``, an agent's alias) are *free*: shown with a default and matched as any
words. Where the norm writes alternatives (``10086/12580``, ``先生/小姐``) a template writes
``{10086|12580}``: shown as the norm writes them, and either one said counts. Whether the
agent said it is judged on jieba tokens of the filled template, searched in order in the
agent's normalized speech, so punctuation, 您/你, fillers and words added between
them do not matter. Token lists are cached per filled text: jieba runs once per distinct prompt,
never on the per-fragment path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import jieba

from app.engine.matcher import SegmentHit
from app.engine.normalize import normalize_text
from app.engine.script import SLOT_RE

jieba.setLogLevel(60)  # jieba logs its dictionary loading at INFO on every start


def warm_up() -> None:
    """Load jieba's dictionary now rather than on the first call that needs it."""
    jieba.initialize()


#: Alternatives in a template: ``{10086|12580}`` (a slot is ``{name}``, without a bar).
ALTERNATIVES_RE = re.compile(r"\{([^{}|]*(?:\|[^{}|]*)+)\}")


@dataclass(frozen=True, slots=True)
class PromptMatcher:
    """The literal tokens of a filled template, for judging speech against it. A token is the
    tuple of its alternatives: one word, or the norm's ``a/b`` (either one found counts, for
    the longer one's characters)."""

    tokens: tuple[tuple[str, ...], ...]
    total: int

    def similarity(self, spoken: str) -> float:
        """Share of the template's characters found, token by token in order, in ``spoken``.

        ``spoken`` is normalized text. A token not found is skipped; the search goes on after the
        last token found.
        """
        if not self.total:
            return 0.0
        pos = 0
        found = 0
        for token in self.tokens:
            at, length = _find(spoken, token, pos)
            if at >= 0:
                found += max(len(word) for word in token)
                pos = at + length
        return found / self.total

    def in_order(self, spoken: str, done: int = 0, pos: int = 0) -> tuple[int, int]:
        """Go on finding the tokens in order in ``spoken``, from token ``done`` at ``pos``, as
        long as each is found: how many are found in a row, and where the search stopped.

        All of them (``done == len(tokens)``) is a similarity of 1. For text that extends
        ``spoken``, the search goes on from what this returned: a token found stays found
        where it was (an earlier place would have been found already).
        """
        tokens = self.tokens
        while done < len(tokens):
            at, length = _find(spoken, tokens[done], pos)
            if at < 0:
                break
            pos = at + length
            done += 1
        return done, pos


def _find(spoken: str, token: tuple[str, ...], pos: int) -> tuple[int, int]:
    """Where the first of ``token``'s alternatives to occur in ``spoken`` from ``pos`` begins,
    and its length; (-1, 0) when none does."""
    if len(token) == 1:
        return spoken.find(token[0], pos), len(token[0])
    best, length = -1, 0
    for word in token:
        at = spoken.find(word, pos)
        if at >= 0 and (best < 0 or at < best or (at == best and len(word) > length)):
            best, length = at, len(word)
    return best, length


def on_word_boundaries(text: str, hit: SegmentHit) -> bool:
    """Whether ``hit`` begins and ends on jieba word boundaries of the normalized ``text``.

    jieba runs only here, for the rare hit of a phrase marked ``boundary``.
    """
    bounds = {0, len(text)}
    for _, start, end in jieba.tokenize(text, HMM=False):
        bounds.add(start)
        bounds.add(end)
    return hit.start in bounds and hit.end in bounds


def fill(template: str, values: dict[str, str]) -> str:
    """The template with every slot replaced by its value (missing slots become empty), and its
    alternatives shown as the norm writes them (``a/b``)."""
    filled = SLOT_RE.sub(lambda m: values.get(m.group(1), ""), template)
    return ALTERNATIVES_RE.sub(lambda m: m.group(1).replace("|", "/"), filled)


@lru_cache(maxsize=4096)
def _matcher(literal_parts: tuple[str, ...]) -> PromptMatcher:
    tokens: list[tuple[str, ...]] = []
    for part in literal_parts:
        last = 0
        for m in ALTERNATIVES_RE.finditer(part):
            tokens.extend(_words(part[last : m.start()]))
            words = tuple(w for w in (normalize_text(a) for a in m.group(1).split("|")) if w)
            if words:
                tokens.append(words)
            last = m.end()
        tokens.extend(_words(part[last:]))
    return PromptMatcher(tuple(tokens), sum(max(len(w) for w in t) for t in tokens))


def _words(text: str) -> list[tuple[str, ...]]:
    norm = normalize_text(text)
    return [(t,) for t in jieba.lcut(norm, HMM=False) if t] if norm else []


def matcher_for(template: str, values: dict[str, str], free: frozenset[str]) -> PromptMatcher:
    """A matcher for the template filled with ``values``; ``free`` slots match anything."""
    parts: list[str] = []
    last = 0
    for m in SLOT_RE.finditer(template):
        parts.append(template[last : m.start()])
        if m.group(1) not in free:
            parts.append(values.get(m.group(1), ""))
        else:
            parts.append("\x00")  # a gap: keeps tokens on either side from merging
        last = m.end()
    parts.append(template[last:])
    return _matcher(tuple("".join(parts).split("\x00")))
