"""What the REST API answers, as pydantic models: the OpenAPI document's response schemas.

The handlers return orjson bytes built from the engine's own dicts (no validation on the hot
path); these models describe those bodies for ``/docs`` and generated clients. They forbid extra
fields, so the end-to-end tests that validate real responses against them catch any drift
between what the service sends and what it documents.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.engine.lexicon import Lexicon
from app.engine.phases import CallType, Phase
from app.engine.script import Script

Severity = Literal["critical", "major", "minor"]
Speaker = Literal["agent", "customer"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(Strict):
    """Every refusal: a stable machine ``error`` code and a ``detail`` for people."""

    error: str = Field(examples=["unknown_call"])
    detail: str = Field(examples=["no call 'c-1'"])


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that may refuse with these statuses."""
    return {status: {"model": ErrorBody} for status in statuses}


# -- ops --------------------------------------------------------------------------------------


class Health(Strict):
    status: Literal["ok"]


class Readiness(Strict):
    status: Literal["ready", "starting"]
    scripts: list[str]
    store: str
    bus: str


# -- events (also what the WebSocket sends) ---------------------------------------------------


class ScriptRef(Strict):
    id: str
    version: int


class AlertBody(Strict):
    id: str
    severity: Severity
    category: Literal["forbidden", "script", "behaviour"]
    rule: str
    phrase: str | None = None
    text: str | None = Field(
        default=None,
        description="the words heard around the match: the match and at most "
        "HUASHU_ALERT_CONTEXT_CHARS characters of its segment on either side",
    )
    span: tuple[int, int] | None = Field(
        default=None, description="the match's offsets in its segment's text as sent"
    )
    text_from: int | None = Field(
        default=None,
        description="where text begins in the segment's text, when not at its start: the "
        "match is text[span[0] - text_from : span[1] - text_from]",
    )
    speaker: Speaker | None = None
    segment: str | None = None
    match: Literal["exact", "normalized", "phonetic", "pattern", "rule"]
    state: Literal["provisional", "confirmed", "retracted"]
    source: str
    detail: str | None = None


class PromptBody(Strict):
    id: str
    kind: Literal["required", "suggested"]
    phase: Phase
    rule: str
    text: str
    source: str


class EventHead(Strict):
    seq: int
    at_ms: int


class PhaseEvent(EventHead):
    type: Literal["phase"]
    phase: Phase
    previous: Phase


class PromptEvent(EventHead, PromptBody):
    type: Literal["prompt"]


class PromptDoneEvent(EventHead):
    type: Literal["prompt_done"]
    id: str
    rule: str
    segment: str
    similarity: float


class AlertEvent(EventHead, AlertBody):
    type: Literal["alert"]


class AlertUpdateEvent(EventHead):
    type: Literal["alert_update"]
    id: str
    state: Literal["confirmed", "retracted"]


class CallTypeEvent(EventHead):
    type: Literal["call_type"]
    call_type: CallType
    reason: str


class Said(Strict):
    rule: str
    text: str
    similarity: float | None


class Deviated(Strict):
    rule: str
    similarity: float | None


class TranscriptLine(Strict):
    speaker: Speaker
    segment: str
    text: str
    start_ms: int | None
    end_ms: int | None


class NotJudged(Strict):
    """A rule the call's data did not let the engine judge (segments without times, an agent
    without a work number)."""

    rule: str
    reason: str


class Deduction(Strict):
    """One deduction from a report's score: the rule, how many points, and what for."""

    rule: str
    points: float
    why: str


class Report(Strict):
    """The post-call report (``GET /v1/calls/{id}/report`` and the stream's last event)."""

    call_id: str
    script: ScriptRef
    call_type: CallType
    score: int = Field(ge=0, le=100)
    score_formula: str = Field(default="", description="how the score is made, in words")
    deductions: list[Deduction] = Field(
        default_factory=list, description="every deduction from the score: each finding once"
    )
    phases: list[Phase]
    said: list[Said]
    missed: list[str]
    deviated: list[Deviated]
    alerts: list[AlertBody]
    transcript: list[TranscriptLine]
    not_judged: list[NotJudged] = Field(
        default_factory=list,
        description="rules not judged, or judged in part, for want of data, each with why",
    )
    cut_off: bool = Field(
        default=False,
        description="present (true) when the call was lost and closed by the service: its "
        "client never came back; who hung up and the closing are not judged",
    )


class ReportEvent(EventHead, Report):
    type: Literal["report"]


Event = Annotated[
    PhaseEvent
    | PromptEvent
    | PromptDoneEvent
    | AlertEvent
    | AlertUpdateEvent
    | CallTypeEvent
    | ReportEvent,
    Field(discriminator="type"),
]


# -- calls ------------------------------------------------------------------------------------


class CallCreated(Strict):
    call_id: str
    token: str = Field(description="the call's own token: ?token= on its stream, or Bearer")
    stream_url: str


class Events(Strict):
    """The events an input produced, in order, as the stream sends them."""

    events: list[Event]


class LivePrompt(PromptBody):
    status: Literal["due", "done"]
    similarity: float | None


class ChecklistItem(Strict):
    rule: str
    phase: Phase
    text: str
    status: Literal["pending", "due", "done", "missed"]
    similarity: float | None


class CallState(Strict):
    """The live state of a call."""

    call_id: str
    script: ScriptRef
    call_type: CallType
    phase: Phase
    prompts: list[LivePrompt]
    checklist: list[ChecklistItem]
    alerts: list[AlertBody]


class CallSummary(Strict):
    call_id: str
    script: ScriptRef
    agent_id: str | None
    call_type: CallType
    phase: Phase
    created_at_ms: int
    alerts: int
    ended: bool


class CallList(Strict):
    items: list[CallSummary]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null on the last page"
    )


# -- scripts ----------------------------------------------------------------------------------


class ScriptSummary(Strict):
    id: str
    name: str
    version: int
    description: str
    phases: list[Phase]
    call_types: list[CallType]
    lexicon: str | None
    lexicons: list[str] = Field(description="every lexicon it uses, in order")
    shared: bool = Field(description="from the shared library (not the tenant's own)")


class ScriptList(Strict):
    items: list[ScriptSummary]


class LexiconSummary(Strict):
    id: str
    version: int
    entries: int
    categories: dict[str, str]


class LexiconListed(LexiconSummary):
    name: str
    shared: bool


class LexiconList(Strict):
    items: list[LexiconListed]


class ScriptDetail(Script):
    """A script as its YAML file holds it (unset fields left out), with its lexicons'
    summary (``lexicon_summary``: the first one's, as before several were allowed)."""

    lexicon_summary: LexiconSummary | None = None
    lexicon_summaries: list[LexiconSummary] = Field(default_factory=list)


class LexiconDetail(Lexicon):
    """A lexicon as stored (unset fields left out)."""


class Stored(Strict):
    """What a ``PUT`` stored: the document's id and its new version."""

    id: str
    version: int


class EntryHit(Strict):
    """One lexicon entry firing on a sample text."""

    entry: int = Field(description="its index in the lexicon's entries")
    phrase: str
    rule: str
    severity: Severity
    span: tuple[int, int]
    match: Literal["exact", "normalized", "phonetic", "pattern", "rule"]


class LexiconCheckResult(Strict):
    """Per sample text, in order, the entries that fire on it."""

    results: list[list[EntryHit]]


class CheckResult(Strict):
    """What one utterance would raise, and the required phrases it says."""

    alerts: list[AlertBody]
    prompts_done: list[str]
