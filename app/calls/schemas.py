"""Wire models of the calls API: client → server WebSocket messages and REST bodies.

Validation errors are turned into one readable line naming the message type and field, e.g.
``fragment.speaker: must be agent or customer``. Extra fields are ignored (PROTOCOL: adding
fields is fine).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    field_validator,
)

from app.engine.messages import CallEvent, CallSetup, Fragment
from app.engine.phases import CallType
from app.errors import InvalidMessage, TooLarge

Name = Annotated[str, Field(min_length=1, max_length=128)]
#: The largest integer every JSON reader keeps exact.
JSON_INT_MAX = 2**53
#: The largest version number of a script or lexicon (a database's 32-bit integer).
VERSION_MAX = 2**31 - 1
#: A count or an offset in ms: an integer, never a boolean (JSON's true is not 1), never a
#: float, never past what JSON keeps exact. Ranges that depend on the call (an offset within
#: the call's length) are checked against the settings (:class:`Limits`).
Count = Annotated[int, Strict(), Field(ge=0, le=JSON_INT_MAX)]


def _iso_only(value: Any) -> Any:
    """pydantic reads a number as seconds (or ms) since 1970: ``"at": 123`` would be a time in
    1970. A time on the wire is an ISO-8601 string (PROTOCOL)."""
    if not isinstance(value, str):
        raise ValueError("an ISO-8601 time string is expected (2026-11-22T10:03:06+08:00)")
    return value


#: An instant on the wire: an ISO-8601 string with its offset.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]


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
    ring_at: Instant | None = None
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
    seq: Count | None = None


class StartMessage(CallFields, ClientSeq):
    type: Literal["start"]


class EventBody(Wire):
    name: Literal["ringing", "answered", "hold", "unhold", "transfer", "hangup"]
    at: Instant | None = None
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
    start_ms: Count | None = None
    end_ms: Count | None = None
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
    last_event_seq: Count


ClientMessage = Annotated[
    StartMessage | EventMessage | FragmentMessage | PingMessage | ResumeMessage,
    Field(discriminator="type"),
]
CLIENT_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
MESSAGE_TYPES = ("start", "event", "fragment", "ping", "resume")


#: A call id: what ``POST /v1/calls`` accepts and the stream's path must hold.
CALL_ID_PATTERN = r"[A-Za-z0-9._:-]{1,128}"


class CreateCall(CallFields):
    call_id: Annotated[str, Field(pattern=f"^{CALL_ID_PATTERN}$")] | None = None

    @field_validator("call_id")
    @classmethod
    def _not_a_path(cls, value: str | None) -> str | None:
        if value in (".", ".."):
            raise ValueError("'.' and '..' are no call ids")
        return value


class CheckRequest(Wire):
    text: Annotated[str, Field(min_length=1, max_length=4096)]
    speaker: Literal["agent", "customer"] = "agent"
    call_type: CallType | None = None
    at: Instant | None = None


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
    version: Annotated[int, Field(ge=1, le=VERSION_MAX)] | None = None


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


class Limits:
    """The ranges of times and offsets a call accepts, from the settings: an explicit time
    (``at``, ``ring_at``) within ``HUASHU_TIME_WINDOW_DAYS`` of now, an offset (``start_ms``,
    ``end_ms``) within ``HUASHU_MAX_CALL_HOURS``. Out of range is refused naming the field
    (a year-9999 time must not reach the engine: it cannot place it)."""

    __slots__ = ("max_offset_ms", "window_ms")

    def __init__(self, max_call_hours: float, window_days: float) -> None:
        self.max_offset_ms = int(max_call_hours * 3_600_000)
        self.window_ms = int(window_days * 86_400_000)

    def offset(self, field: str, value: int | None) -> None:
        if value is not None and value > self.max_offset_ms:
            raise InvalidMessage(
                f"{field}: at most {self.max_offset_ms} ms from the answer, got {value}"
            )

    def instant(self, field: str, value: datetime | None, now_ms: int) -> None:
        when = epoch_ms(value)
        if when is not None and abs(when - now_ms) > self.window_ms:
            days = self.window_ms // 86_400_000
            raise InvalidMessage(f"{field}: must be within {days} days of now")

    def fragment(self, prefix: str, start_ms: int | None, end_ms: int | None) -> None:
        self.offset(f"{prefix}start_ms", start_ms)
        self.offset(f"{prefix}end_ms", end_ms)
