"""What every document of the script library is made of: the frozen base model and the field
types that scripts (:mod:`app.engine.script`, :mod:`app.engine.behaviour_rules`) and lexicons
(:mod:`app.engine.lexicon`) share. It imports none of them, so each can import it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

RULE_AREAS = "greeting|answering|closing|rating|forbidden|behaviour|situation"
RuleId = Annotated[str, Field(pattern=rf"^({RULE_AREAS})\.[a-z0-9_.]+$")]
#: The seed file number and section a rule comes from, e.g. "002 服务禁忌—禁语".
Source = Annotated[str, Field(min_length=3)]
#: A lexicon's id, as a script names it (defined before ``Script``, which uses it: a forward
#: reference would leave ``Script`` incomplete until rebuilt, and its subclasses unbuildable).
LexiconId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Severity = Literal["critical", "major", "minor"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Why the data says what it says where the norm is ambiguous (any part of a script or a
    #: lexicon may carry one; the engine never reads it).
    note: str | None = None


def exactly_one(choices: str, *given: object) -> None:
    """For a validator: refuse a document unless exactly one of ``given`` is set (not None),
    naming ``choices`` as the document writes them."""
    if sum(value is not None for value in given) != 1:
        raise ValueError(f"give exactly one of {choices}")
