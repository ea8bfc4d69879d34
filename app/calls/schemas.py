"""Wire models of the calls API: client → server WebSocket messages and REST bodies.

Validation errors are turned into one readable line naming the message type and field, e.g.
``fragment.speaker: must be agent or customer``. Extra fields are ignored (PROTOCOL: adding
fields is fine).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from app.engine.messages import CallEvent, CallSetup, Fragment
from app.engine.phases import CallType
from app.errors import TooLarge

Name = Annotated[str, Field(min_length=1, max_length=128)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Agent(Wire):
    id: Name | None = None
    work_no: Annotated[str, Field(max_length=32)] | None = None
    name: Annotated[str, Field(max_length=64)] | None = None


class Customer(Wire):
    title: Annotated[str, Field(max_length=64)] | None = None
    class_: Annotated[str, Field(max_length=32)] | None = Field(default=None, alias="class")


class CallFields(Wire):
    """What ``start`` and ``POST /v1/calls`` say about a call."""

    script: Name
    call_type: CallType | None = None
    direction: Literal["inbound", "outbound"] = "inbound"
    agent: Agent = Agent()
    customer: Customer = Customer()
    ring_at: AwareDatetime | None = None
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def setup(self, call_id: str, default_timezone: str) -> CallSetup:
        return CallSetup(
            call_id=call_id,
            script_id=self.script,
            call_type=self.call_type,
            direction=self.direction,
            agent_id=self.agent.id,
            work_no=self.agent.work_no,
            agent_name=self.agent.name,
            customer_title=self.customer.title,
            customer_class=self.customer.class_,
            ring_at_ms=epoch_ms(self.ring_at),
            timezone=self.timezone or default_timezone,
        )


def epoch_ms(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


class ClientSeq(Wire):
    seq: Annotated[int, Field(ge=0)] | None = None


class StartMessage(CallFields, ClientSeq):
    type: Literal["start"]


class EventBody(Wire):
    name: Literal["ringing", "answered", "hold", "unhold", "transfer", "hangup"]
    at: AwareDatetime | None = None
    by: Literal["agent", "customer"] | None = None

    def to_input(self) -> CallEvent:
        return CallEvent(self.name, epoch_ms(self.at), self.by)


class EventMessage(EventBody, ClientSeq):
    type: Literal["event"]


class FragmentBody(Wire):
    speaker: Literal["agent", "customer"]
    segment: Name
    #: At most ``Settings.max_text_chars``: checked by :func:`limit_text` where the limit is known.
    text: str
    final: bool = False
    start_ms: Annotated[int, Field(ge=0)] | None = None
    end_ms: Annotated[int, Field(ge=0)] | None = None
    volume: Literal["low", "high"] | None = None

    def to_input(self) -> Fragment:
        return Fragment(
            self.speaker,
            self.segment,
            self.text,
            self.final,
            self.start_ms,
            self.end_ms,
            self.volume,
        )


def text_too_long(length: int, max_chars: int) -> str:
    return f"fragment.text: at most {max_chars} characters, got {length}"


def limit_text(fragment: FragmentBody, max_chars: int) -> None:
    """Raise :class:`TooLarge` for a fragment text beyond the configured limit (PROTOCOL: 4,096)."""
    if len(fragment.text) > max_chars:
        raise TooLarge(text_too_long(len(fragment.text), max_chars))


class FragmentMessage(FragmentBody, ClientSeq):
    type: Literal["fragment"]


class PingMessage(ClientSeq):
    type: Literal["ping"]


class ResumeMessage(ClientSeq):
    type: Literal["resume"]
    last_event_seq: Annotated[int, Field(ge=0)]


ClientMessage = Annotated[
    StartMessage | EventMessage | FragmentMessage | PingMessage | ResumeMessage,
    Field(discriminator="type"),
]
CLIENT_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
MESSAGE_TYPES = ("start", "event", "fragment", "ping", "resume")


class CreateCall(CallFields):
    call_id: (
        Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")] | None
    ) = None


class CheckRequest(Wire):
    text: Annotated[str, Field(min_length=1, max_length=4096)]
    speaker: Literal["agent", "customer"] = "agent"
    call_type: CallType | None = None
    at: AwareDatetime | None = None


SampleText = Annotated[str, Field(min_length=1, max_length=4096)]


class LexiconCheckRequest(Wire):
    """A dry run of a lexicon: sample agent utterances, judged as a live call would judge them
    inside a script (``script``: one the tenant sees; the first, if not named)."""

    texts: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=4096)]],
        Field(min_length=1, max_length=100),
    ]
    script: Name | None = None
    call_type: CallType | None = None
    version: Annotated[int, Field(ge=1)] | None = None


def describe(errors: list[Any], prefix: str = "") -> str:
    """One line for a pydantic error list: ``fragment.speaker: must be agent or customer``."""
    parts = []
    for error in errors:
        loc = [str(p) for p in error["loc"] if p not in MESSAGE_TYPES or len(error["loc"]) == 1]
        where = ".".join([prefix, *loc] if prefix else loc) or prefix or "message"
        message = error["msg"]
        if error["type"] == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            message = "must be " + expected.replace("'", "").replace(" or ", " or ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
