"""The script library's data model: what an agent must and must not say, as the norms write it.

These models are the schema of the YAML files in ``scripts_data/``. They are frozen values: the
loader (``app.scripts.loader``) validates a file once at start-up and the engine only reads them.
Every rule carries ``source``: the seed file and section of the norm it enforces. The behaviour
rules are in :mod:`app.engine.behaviour_rules`, the lexicons in :mod:`app.engine.lexicon`.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from app.engine.behaviour_rules import Behaviour
from app.engine.document import Frozen, LexiconId, RuleId, Severity, Source, exactly_one
from app.engine.intent_spec import Intent
from app.engine.phases import CallType, Phase

SLOT_RE = re.compile(r"\{([a-z_]+)\}")

#: Slots the engine knows how to fill from the call. A template may use only these.
KNOWN_SLOTS = frozenset(
    {"greeting", "work_no", "title", "wish", "holiday", "agent_name", "company_phone"}
)
#: Slots a call may leave unfilled (the platform need not give a title or an agent's name, and
#: nothing gives the wish): a template that uses one needs its default in ``slot_defaults``.
DEFAULTED_SLOTS = frozenset({"title", "wish", "agent_name"})


class GreetingPeriod(Frozen):
    """A time-of-day period starting at ``start`` (inclusive) and running to the next one."""

    start: time
    word: str = Field(min_length=1)


class Greeting(Frozen):
    """The time-of-day greeting table. Boundaries belong to the later period."""

    periods: tuple[GreetingPeriod, ...] = Field(min_length=1)
    #: Every greeting word an agent might say; saying one that is not the period's raises
    #: ``greeting.wrong_time``.
    words: tuple[str, ...] = Field(min_length=1)
    source: Source

    @field_validator("periods")
    @classmethod
    def _sorted(cls, periods: tuple[GreetingPeriod, ...]) -> tuple[GreetingPeriod, ...]:
        starts = [p.start for p in periods]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError("periods must be in increasing order of start, without repeats")
        return periods

    def word_at(self, local: time) -> str:
        """The greeting word for a local time of day; before the first start, the last period."""
        word = self.periods[-1].word
        for period in self.periods:
            if local >= period.start:
                word = period.word
        return word


class Holiday(Frozen):
    """A holiday with its own greeting (``app.engine.holidays``), every day of it, in the call's
    time zone: the days of its official period where ``chinese-calendar`` tracks the year
    (``official``: that library's name for it, e.g. ``National Day``), else its own day —
    Gregorian ``date`` (``MM-DD``, or ``YYYY-MM-DD`` for one day) or ``lunar`` (``MM-DD`` of
    the lunar calendar: 春节 01-01, 中秋 08-15) — and the ``fallback_days`` from
    ``fallback_from`` days before it."""

    greeting: str = Field(min_length=1)
    name: str | None = None
    date: str | None = Field(default=None, pattern=r"^(\d{4}-)?\d{2}-\d{2}$")
    lunar: str | None = Field(default=None, pattern=r"^\d{2}-\d{2}$")
    official: str | None = None
    fallback_days: int = Field(default=1, ge=1, le=15)
    fallback_from: int = Field(default=0, ge=-7, le=0)

    @model_validator(mode="after")
    def _one_day(self) -> Holiday:
        exactly_one("'date' (Gregorian) or 'lunar'", self.date, self.lunar)
        return self


class Due(Frozen):
    """When a prompt becomes due.

    ``at: phase`` — as soon as its phase begins. ``after: <rule>`` — ``delay_s`` seconds after the
    agent said that rule's phrase (the norm's 停顿2秒 is ``delay_s: 2``). (Not ``on``: YAML 1.1
    reads that key as the boolean true.)
    """

    at: Literal["phase"] | None = None
    after: RuleId | None = None
    delay_s: float = Field(default=0, ge=0, le=600)

    @model_validator(mode="after")
    def _one_trigger(self) -> Due:
        exactly_one("'at: phase' or 'after: <rule id>'", self.at, self.after)
        return self


class Prompt(Frozen):
    """A phrase the script requires (or suggests) at a point of the call."""

    rule: RuleId
    phase: Phase
    text: str = Field(min_length=1, description="template; {slots} are filled per call")
    #: Other texts that say it as well: where the norm writes ``A/B`` for the whole phrase
    #: (请稍候为我的服务进行评价/感谢您使用中国移动…), either satisfies the rule. Shown after
    #: the text, as the norm writes them.
    alternatives: tuple[str, ...] = ()
    source: Source
    kind: Literal["required", "suggested"] = "required"
    call_types: tuple[CallType, ...] = Field(min_length=1)
    #: Only for customers of this class (e.g. 12580 'secretary' clients); None means everyone
    #: who is not of a class that has its own variant.
    customer_class: str | None = None
    #: Only on a holiday (12580's 节假日问候语) or only on other days; None means either.
    holiday: bool | None = None
    due: Due = Due(at="phase")
    #: Phase the call moves to once the agent has said this phrase.
    then: Phase | None = None

    @field_validator("text")
    @classmethod
    def _slots_known(cls, text: str) -> str:
        unknown = set(SLOT_RE.findall(text)) - KNOWN_SLOTS
        if unknown:
            raise ValueError(f"unknown slot(s) {sorted(unknown)}; known: {sorted(KNOWN_SLOTS)}")
        return text

    @field_validator("alternatives")
    @classmethod
    def _alternatives_slots_known(cls, alternatives: tuple[str, ...]) -> tuple[str, ...]:
        for text in alternatives:
            cls._slots_known(text)
        return alternatives

    @property
    def texts(self) -> tuple[str, ...]:
        """The text and its alternatives: each one says the phrase."""
        return (self.text, *self.alternatives)


class Trigger(Frozen):
    """Words that signal something: matched on normalized text of one speaker's final segment."""

    phrases: tuple[str, ...] = Field(min_length=1)
    #: The match must end within this many characters of the segment's end (e.g. a closing
    #: 谢谢 at the end of an utterance, not 谢谢 at its start).
    at_end: int | None = Field(default=None, ge=0)
    #: Where the words come from, for script-level triggers (end and call-type signals);
    #: a situation's trigger shares its situation's source.
    source: Source | None = None


SituationEvent = Literal["hold", "unhold", "volume_low", "volume_high"]
#: The intents a situation may be suggested on (``Intent``).
SituationIntent = Literal["unclear_purpose"]


class Situation(Frozen):
    """A situational suggestion: when ``trigger`` is heard from ``speaker`` (or the call event
    ``event`` happens), suggest ``text``."""

    rule: RuleId
    speaker: Literal["agent", "customer"] = "customer"
    trigger: Trigger | None = None
    event: SituationEvent | None = None
    #: Suggested when the customer's words are recognised as this intent.
    intent: SituationIntent | None = None
    text: str = Field(min_length=1)
    source: Source
    #: Do not suggest the same thing again within this many seconds.
    cooldown_s: float = Field(default=30, ge=0)
    #: The call type to switch to when this triggers (e.g. harassment), if any.
    call_type: CallType | None = None
    call_types: tuple[CallType, ...] | None = None

    @field_validator("text")
    @classmethod
    def _situation_slots_known(cls, text: str) -> str:
        return Prompt._slots_known(text)

    @model_validator(mode="after")
    def _one_cause(self) -> Situation:
        exactly_one("'trigger', 'event' or 'intent'", self.trigger, self.event, self.intent)
        return self


class NoResponseStep(Frozen):
    delay_s: float = Field(gt=0, le=120)
    text: str = Field(min_length=1)
    source: Source


class NoResponse(Frozen):
    """Empty-call handling: prompts while the customer stays silent after the greeting.

    Each step is suggested ``delay_s`` after the previous one (the first after the greeting was
    said); after the last step's own delay the call becomes ``call_type`` and goes to closing.
    """

    steps: tuple[NoResponseStep, ...] = Field(min_length=1)
    final_delay_s: float = Field(default=3, gt=0, le=120)
    call_type: CallType = CallType.HARASSMENT
    source: Source


class Timing(Frozen):
    """How long the engine waits: the deadlines of the behaviour rules, and how close to its
    text a prompt must be said."""

    #: ``behaviour.slow_answer``: an inbound call not answered this long after the ring.
    ring_limit_s: float = Field(default=15, gt=0, le=600)
    #: The greeting is late when not said this long after the answer.
    greeting_late_s: float = Field(default=5, gt=0, le=120)
    #: ``behaviour.hold_no_apology``: a hold at least this long must be followed by the
    #: apology ...
    hold_apology_min_s: float = Field(default=5, ge=0, le=600)
    #: ... within this long after the unhold.
    hold_apology_within_s: float = Field(default=10, gt=0, le=600)
    #: A prompt counts as said at this similarity; below ``deviation_below`` it is 'deviated'.
    done_similarity: float = Field(default=0.75, gt=0, le=1)
    deviation_below: float = Field(default=0.95, gt=0, le=1)


class Scoring(Frozen):
    start: int = 100
    forbidden: int = 15
    #: A hit found by sound only is less certain than one on the characters: it costs this share.
    phonetic_factor: float = Field(default=0.5, ge=0, le=1)
    script: int = 5
    behaviour: int = 5
    missed: int = 10
    deviated: int = 3


class WorkNo(Frozen):
    """The opening's fact: the work number a prompt gives (``{work_no}``) must be the call's
    agent's (``agent.work_no``); a wrong or missing number is a live alert."""

    rule: RuleId
    severity: Severity
    source: Source
    #: The prompts that state it.
    prompts: tuple[RuleId, ...] = Field(min_length=1)


class SlotDefault(Frozen):
    """What a slot shows when the call does not fill it, and where the norm leaves it open."""

    text: str = Field(min_length=1)
    source: Source


class Script(Frozen):
    """One call script: e.g. ``cmcc-10086``."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    name: str
    version: int = Field(default=1, ge=1)
    description: str = ""
    #: Phases this script uses, in order; others are skipped.
    phases: tuple[Phase, ...] = tuple(Phase)
    lexicon: LexiconId | None = Field(default="forbidden", description="lexicon id, or none")
    #: Further lexicons whose entries apply too (a company keeps the national norms and adds
    #: its own list); a category both define must be defined alike.
    lexicons: tuple[LexiconId, ...] = ()
    timing: Timing = Timing()
    scoring: Scoring = Scoring()
    greeting: Greeting | None = None
    holidays: tuple[Holiday, ...] = ()
    #: What a slot shows when the call does not fill it (every slot of ``DEFAULTED_SLOTS`` a
    #: template uses needs one); slots marked free match any words.
    slot_defaults: dict[str, SlotDefault] = Field(default_factory=dict)
    free_slots: tuple[str, ...] = ("wish", "agent_name")
    prompts: tuple[Prompt, ...] = Field(min_length=1)
    situations: tuple[Situation, ...] = ()
    no_response: NoResponse | None = None
    #: Customer words that end the answering phase (没有了, 好的谢谢 ...).
    end_signals: Trigger | None = None
    #: Customer words that set the call type (e.g. complaint: 投诉).
    call_type_signals: dict[CallType, Trigger] = Field(default_factory=dict)
    #: The customer's intent: a complaint, an unclear purpose (see ``Intent``).
    intent: Intent | None = None
    #: The work number the opening must state, checked against the call's agent.
    work_no: WorkNo | None = None
    #: How severe each alert about a required prompt is (greeting.late, greeting.missing,
    #: greeting.wrong_time, closing.missing, rating.missing); one not named is major. They cite
    #: the norm of their prompt.
    prompt_alerts: dict[RuleId, Severity] = Field(default_factory=dict)
    behaviour: Behaviour

    @property
    def lexicon_ids(self) -> tuple[str, ...]:
        """Every lexicon the script uses, in order, each once."""
        ids = (self.lexicon, *self.lexicons) if self.lexicon is not None else self.lexicons
        return tuple(dict.fromkeys(ids))

    @model_validator(mode="after")
    def _consistent(self) -> Script:
        if self.phases[0] is not Phase.RINGING or self.phases[-1] is not Phase.ENDED:
            raise ValueError("phases must start with ringing and end with ended")
        order = list(Phase)
        if [order.index(p) for p in self.phases] != sorted(order.index(p) for p in self.phases):
            raise ValueError("phases must keep the protocol order")
        rules = {p.rule for p in self.prompts}
        for prompt in self.prompts:
            if prompt.phase not in self.phases:
                raise ValueError(f"prompt {prompt.rule}: phase {prompt.phase} is not in phases")
            if prompt.then is not None and prompt.then not in self.phases:
                raise ValueError(f"prompt {prompt.rule}: then {prompt.then} is not in phases")
            if prompt.due.after is not None and prompt.due.after not in rules:
                raise ValueError(f"prompt {prompt.rule}: due.after {prompt.due.after} is unknown")
            if "{greeting}" in prompt.text and self.greeting is None:
                raise ValueError(f"prompt {prompt.rule}: uses {{greeting}} but no greeting table")
        unknown = set(self.slot_defaults) - KNOWN_SLOTS
        if unknown:
            raise ValueError(f"slot_defaults: unknown slot(s) {sorted(unknown)}")
        templates = [(f"prompt {p.rule}", text) for p in self.prompts for text in p.texts]
        templates += [
            (f"situation {situation.rule}", situation.text) for situation in self.situations
        ]
        if self.no_response is not None:
            templates += [("no_response", step.text) for step in self.no_response.steps]
        for where, text in templates:
            missing = (set(SLOT_RE.findall(text)) & DEFAULTED_SLOTS) - set(self.slot_defaults)
            if missing:
                raise ValueError(f"{where}: slot(s) {sorted(missing)} need slot_defaults")
        return self

    def prompts_for(
        self, call_type: CallType, customer_class: str | None, holiday: bool
    ) -> tuple[Prompt, ...]:
        """The prompts that apply to a call of this type, customer class and day.

        A prompt for the customer's class replaces the general prompt of the same rule; a prompt
        for another class never applies.
        """
        candidates = [
            p
            for p in self.prompts
            if call_type in p.call_types
            and p.customer_class in (None, customer_class)
            and (p.holiday is None or p.holiday == holiday)
        ]
        special = {p.rule for p in candidates if p.customer_class is not None}
        return tuple(p for p in candidates if p.customer_class is not None or p.rule not in special)
