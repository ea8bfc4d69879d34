"""A script's behaviour rules (its ``behaviour:`` section): how the agent must behave beyond the
words of the prompts, each rule with the alert it raises and the norm it enforces.

Part of the script's schema (:class:`app.engine.script.Script` holds a :class:`Behaviour`); the
engine that enforces these rules is :mod:`app.engine.behaviour`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.engine.document import Frozen, RuleId, Severity, Source
from app.engine.phases import CallType


class BehaviourRule(Frozen):
    """A rule on how the agent behaves: the alert it raises, and the norm it enforces."""

    rule: Annotated[str, Field(pattern=r"^behaviour\.[a-z0-9_.]+$")]
    severity: Severity
    source: Source
    #: Call types on which the rule does not apply (催挂 on a nuisance call, where the norm
    #: itself has the agent say 请您挂机).
    exempt_call_types: tuple[CallType, ...] = ()


class HoldApology(BehaviourRule):
    """A hold of ``timing.hold_apology_min_s`` or more must be followed by the apology within
    ``timing.hold_apology_within_s`` of the unhold."""

    #: The apology as the norm words it, named in the alert.
    apology: str = Field(min_length=1)
    #: Agent words that count as saying it.
    phrases: tuple[str, ...] = Field(min_length=1)


class Interrupting(BehaviourRule):
    """The agent begins speaking while the customer is still speaking (抢话), judged on the
    segments' own times (``start_ms``/``end_ms``), whatever order their finals arrive in."""

    #: Alerted from this many interruptions in a call on.
    alert_after: int = Field(ge=1)
    #: Speech beginning this close to the end of the customer's is not an interruption.
    tolerance_ms: int = Field(ge=0, le=60_000)
    #: An agent utterance made only of these words (and fillers) is a listener's signal, not
    #: an interruption: 嗯, 对, 好的.
    back_channel: tuple[str, ...] = ()


class Pause(BehaviourRule):
    """停顿: a required prompt due ``delay_s`` after another (``due: {after, delay_s}``) must not
    begin sooner than that after the other one's segment ended, by the segments' times."""

    #: ASR segment times are not exact: a pause this much shorter still counts.
    tolerance_ms: int = Field(default=0, ge=0, le=10_000)


class BareWhat(BehaviourRule):
    """A whole utterance that only asks "what" of a customer not understood (直接询问"什么"):
    one of ``utterances``, or a ``what`` word with nothing around it but ``around`` words (a
    pronoun, 说, an interjection), perhaps followed by a ``repeat`` demand (再说一遍); never
    when it asks politely (``polite``: 对不起, 请)."""

    #: The word the norm names, shown as the alert's phrase.
    phrase: str = Field(min_length=1)
    #: The utterances that are one (matched whole, on normalized text).
    utterances: tuple[str, ...] = Field(min_length=1)
    what: tuple[str, ...] = ()
    around: tuple[str, ...] = ()
    repeat: tuple[str, ...] = ()
    polite: tuple[str, ...] = ()
    #: The situation to suggest with the alert: the polite way to ask again.
    suggest: RuleId | None = "situation.repeat"


class RushingOff(BehaviourRule):
    """Agent phrases that rush the customer off the line (催挂)."""

    phrases: tuple[str, ...] = Field(min_length=1)
    #: Longer phrases containing one that are fine (the norms' own 请您挂机后再拨).
    allow: tuple[str, ...] = ()


class ColleagueTalk(BehaviourRule):
    """客户尚未挂机便与同事交谈: once the call's last phrase (``after``) is said and until the
    hangup, agent speech of ``min_chars`` or more that is neither a closing word (``closing``)
    nor addressed to the customer (``to_customer``, in the words as written: 您, 先生) is talk
    with a colleague. The customer speaking again (more than closing words) takes the call up
    again."""

    after: tuple[RuleId, ...] = Field(min_length=1)
    min_chars: int = Field(default=4, ge=1, le=100)
    to_customer: tuple[str, ...] = ()
    closing: tuple[str, ...] = ()


class HoldAnnounce(BehaviourRule):
    """因查询资料需要请用户稍等: a hold must follow the agent asking the customer to wait
    (``phrases``: 请您稍等) in speech that ended at most ``within_s`` before it. Judged
    ``grace_s`` after the hold, so the final of words said as the hold began can arrive."""

    phrases: tuple[str, ...] = Field(min_length=1)
    within_s: float = Field(default=30, gt=0, le=600)
    grace_s: float = Field(default=3, ge=0, le=60)


class Behaviour(Frozen):
    """The behaviour rules a script enforces, each with its norm. Their durations are in
    ``timing``, with the other deadlines."""

    slow_answer: BehaviourRule
    hold_no_apology: HoldApology
    interrupting: Interrupting
    bare_what: BareWhat
    rushing_off: RushingOff
    agent_hung_up_first: BehaviourRule
    #: Rules a script may leave out (older scripts do): none means not enforced.
    no_pause: Pause | None = None
    colleague_talk: ColleagueTalk | None = None
    hold_unannounced: HoldAnnounce | None = None
