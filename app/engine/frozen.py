"""What every document model of ``scripts_data/`` shares: frozen values that cite their norm."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: The seed file number and section a rule comes from, e.g. "002 服务禁忌—禁语".
Source = Annotated[str, Field(min_length=3)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Why the data says what it says where the norm is ambiguous (any part of a script may
    #: carry one; the engine never reads it).
    note: str | None = None
