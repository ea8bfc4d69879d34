"""The lexicons' data model: the forbidden phrases (禁语) as the norms write them, by category.

A lexicon is a document of its own (``scripts_data/lexicons/``, ``PUT /v1/lexicons/{id}``); a
script names the lexicons it uses. Same conventions as :mod:`app.engine.script`: frozen values,
validated once, every entry citing its ``source``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, field_validator, model_validator

from app.engine.frozen import Frozen, Source
from app.engine.patterns import PatternError, expand
from app.engine.phases import CallType, Phase
from app.engine.script import LexiconId, RuleId, Severity


class LexiconCategory(Frozen):
    name: str
    severity: Severity = "critical"


class LexiconEntry(Frozen):
    """One forbidden phrase (禁语) as the norm writes it, with the forms it is matched in.

    Every phrase field takes the pattern syntax of :mod:`app.engine.patterns` (``{a,b}``,
    ``{0,3}``, whole-clause ``A/B``); a phrase that cannot be read — unbalanced braces, an
    empty or ambiguous "/" alternative — is refused at load, never stored as a literal."""

    phrase: str = Field(min_length=1)
    category: str = Field(pattern=r"^[a-z_]+$")
    source: Source
    #: Other forms of the same phrase (e.g. both readings of 没有(不记住)密码).
    variants: tuple[str, ...] = ()
    #: Longer phrases containing a match that are fine (a hit inside one is not an alert).
    allow: tuple[str, ...] = ()
    exempt_call_types: tuple[CallType, ...] = ()
    #: Phases in which the phrase is not an alert.
    exempt_phases: tuple[Phase, ...] = ()
    #: Not an alert when one of these was said just before it (same speaker, same breath).
    unless_after: tuple[str, ...] = ()
    #: Only an alert where the match begins and ends on jieba word boundaries (for phrases that
    #: also occur inside longer words: 我不管 in 我不管理).
    boundary: bool = False
    #: Also matched by sound (homophones); off where a sound-alike is ordinary speech.
    phonetic: bool = True
    #: Also matched as agents reword it, the forms derived from its words
    #: (:mod:`app.engine.forms`): a short word slipped in, a particle left out, a word
    #: contracted, the subject said last. Off where every word matters as written.
    reworded: bool = True
    #: Only an alert when the phrase is the whole utterance (a curt reply on its own: 不行。,
    #: 不知道。), particles and fillers around it aside; judged on the segment's final words.
    whole_utterance: bool = False
    #: Phrases that, said after it in the same utterance, soften it: an offer to help (我不知道,
    #: 我帮您查一下) makes it a finding of ``softened_severity`` with the suggestion, not an
    #: alert of the category's severity.
    softened_by: tuple[str, ...] = ()
    softened_severity: Severity = "minor"
    #: A situation rule whose phrase to suggest instead, e.g. situation.cannot_answer.
    suggest: RuleId | None = None

    @field_validator("phrase", "variants", "allow", "unless_after", "softened_by")
    @classmethod
    def _readable(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        for phrase in (value,) if isinstance(value, str) else value:
            try:
                expand(phrase)
            except PatternError as exc:
                raise ValueError(str(exc)) from None
        return value


class Lexicon(Frozen):
    id: LexiconId
    name: str
    version: int = Field(default=1, ge=1)
    categories: dict[str, LexiconCategory] = Field(min_length=1)
    entries: tuple[LexiconEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _categories_known(self) -> Lexicon:
        for i, entry in enumerate(self.entries):
            if entry.category not in self.categories:
                raise ValueError(f"entries.{i}: category {entry.category!r} is not in categories")
        return self


def merge_lexicons(lexicons: Sequence[Lexicon]) -> Lexicon | None:
    """The lexicons a script uses as one: their categories and entries, in order. Raises
    ValueError naming the category that two of them define differently."""
    if not lexicons:
        return None
    if len(lexicons) == 1:
        return lexicons[0]
    categories: dict[str, LexiconCategory] = {}
    defined_by: dict[str, str] = {}
    for lexicon in lexicons:
        for key, category in lexicon.categories.items():
            if key in categories and categories[key] != category:
                raise ValueError(
                    f"category {key!r} is defined differently in lexicons "
                    f"{defined_by[key]!r} and {lexicon.id!r}"
                )
            categories.setdefault(key, category)
            defined_by.setdefault(key, lexicon.id)
    # Built from lexicons already validated; its id ("a+b") is no lexicon's own.
    return Lexicon.model_construct(
        id="+".join(lexicon.id for lexicon in lexicons),
        name=" + ".join(lexicon.name for lexicon in lexicons),
        version=1,
        categories=categories,
        entries=tuple(entry for lexicon in lexicons for entry in lexicon.entries),
    )
