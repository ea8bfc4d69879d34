"""What goes into a call session and what comes out, as plain frozen values.

Inputs carry the time they happened at when the client said so (``at_ms``: epoch milliseconds,
or ``start_ms``/``end_ms`` since the answer for fragments); the shell passes its own wall clock
alongside so the session can place messages that carry no time (see ``clock.CallClock``).
Outputs are :class:`Event` values; ``to_wire`` gives the protocol's JSON object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from app.engine.phases import CallType, Phase

Speaker = Literal["agent", "customer"]
Direction = Literal["inbound", "outbound"]
#: The call events; ``cut_off`` is the shell's own (never from a client): the call was lost —
#: its client never came back — and ends without anyone hanging up.
EventName = Literal["ringing", "answered", "hold", "unhold", "transfer", "hangup", "cut_off"]
AlertState = Literal["provisional", "confirmed", "retracted"]
MatchKind = Literal["exact", "normalized", "phonetic", "pattern", "rule"]


@dataclass(frozen=True, slots=True)
class CallSetup:
    """Everything the platform tells about a call before it starts (the ``start`` message)."""

    call_id: str
    script_id: str
    call_type: CallType | None = None
    direction: Direction = "inbound"
    agent_id: str | None = None
    work_no: str | None = None
    agent_name: str | None = None
    customer_title: str | None = None
    customer_class: str | None = None
    ring_at_ms: int | None = None
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class CallEvent:
    name: EventName
    at_ms: int | None = None
    by: Speaker | None = None


class Fragment(NamedTuple):
    """One ASR hypothesis of a segment. A named tuple, not a frozen dataclass: one is made for
    every message the ASR sends, and a frozen dataclass sets each field through
    ``object.__setattr__``, which a tuple does not need."""

    speaker: Speaker
    segment: str
    text: str
    final: bool = False
    start_ms: int | None = None
    end_ms: int | None = None
    #: Extension: the ASR's loudness estimate for this speech, if it gives one.
    volume: Literal["low", "high"] | None = None


Input = CallEvent | Fragment


class Listing(NamedTuple):
    """What a list of calls shows of a call as it stands."""

    script_id: str
    script_version: int
    call_type: str
    phase: str
    #: Alerts standing (not retracted).
    alerts: int


@dataclass(frozen=True, slots=True)
class Event:
    """One server → client event; ``seq`` and ``at_ms`` are assigned by the session."""

    type: str
    seq: int
    at_ms: int
    body: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "seq": self.seq, "at_ms": self.at_ms, **self.body}


AlertCategory = Literal["forbidden", "script", "behaviour"]


@dataclass(slots=True)
class Alert:
    """An alert as it stands; mutable only in ``state`` (provisional → confirmed/retracted)."""

    id: str
    severity: str
    category: AlertCategory
    rule: str
    source: str
    state: AlertState
    phrase: str | None = None
    text: str | None = None
    span: tuple[int, int] | None = None
    speaker: Speaker | None = None
    segment: str | None = None
    match: MatchKind = "rule"
    detail: str | None = None
    #: Where ``text`` begins in the segment's text (``span`` counts in the segment's text, as
    #: PROTOCOL says): ``text`` is the words around the match, not the whole segment.
    text_from: int = 0

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "severity": self.severity,
            "category": self.category,
            "rule": self.rule,
        }
        if self.phrase is not None:
            body["phrase"] = self.phrase
        if self.text is not None:
            body["text"] = self.text
            body["span"] = list(self.span) if self.span is not None else None
            if self.text_from:
                body["text_from"] = self.text_from
        if self.speaker is not None:
            body["speaker"] = self.speaker
            body["segment"] = self.segment
        body["match"] = self.match
        body["state"] = self.state
        body["source"] = self.source
        if self.detail is not None:
            body["detail"] = self.detail
        return body


PromptStatus = Literal["armed", "due", "done"]


@dataclass(slots=True)
class PromptState:
    """A prompt of this call: armed (will be due at ``due_at``), due (pushed), or done."""

    id: str
    rule: str
    kind: Literal["required", "suggested"]
    phase: Phase
    text: str
    source: str
    due_at: int
    status: PromptStatus = "armed"
    similarity: float | None = None
    done_segment: str | None = None
    done_at: int | None = None

    def to_body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "phase": str(self.phase),
            "rule": self.rule,
            "text": self.text,
            "source": self.source,
        }


#: One final segment, for the report: (speaker, segment, text, start_ms, end_ms).
TranscriptLine = tuple[Speaker, str, str, int | None, int | None]
