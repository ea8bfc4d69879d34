"""What a recorded call is once read, and what checking it found: plain frozen values. What a
check found is a named tuple (of tuples, strings and numbers): it crosses from a worker process
to the parent for every call, and a tuple unpickles in C where a dataclass runs Python code
for each field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from app.engine.messages import CallSetup, Input

#: Rules that need the moments of a call: judged only where the input gives its times.
TIMED_RULES = (
    "greeting.late",
    "behaviour.interrupting",
    "behaviour.hold_no_apology",
    "behaviour.agent_hung_up_first",
)
#: Judged only when the input says when the phone rang.
RING_RULES = ("behaviour.slow_answer",)
#: Judged only when the input says at what time of day the call was answered.
TIME_OF_DAY_RULES = ("greeting.wrong_time",)


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One call as read from its input.

    ``inputs`` are in the order they happened, each with its call time where the input gives one
    (``at_ms``: epoch ms, None to follow the one before). ``not_judged`` names the rules whose
    findings would only reflect what the input lacks (no times, no ring, no time of day): they
    are left out of the findings and the score, and the output says so."""

    name: str
    source: str
    setup: CallSetup
    inputs: tuple[tuple[int | None, Input], ...]
    not_judged: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: When the call was answered (epoch ms), where the input says.
    answered_ms: int | None = None
    #: Whether the input ends the call (a hangup); else it ends after its last message.
    hangs_up: bool = False
    #: Why nothing in this call can be judged (no agent speech), if so: it gets no score.
    unjudged: str | None = None


class Finding(NamedTuple):
    """One thing a quality team looks at: a standing alert, a required phrase missed, or one
    said but not as the norm words it (deviated)."""

    kind: str  # alert | missed | deviated
    rule: str
    category: str
    severity: str
    #: ms after the answer (None when the finding has no moment: a missed phrase).
    at_ms: int | None = None
    speaker: str | None = None
    segment: str | None = None
    #: The norm's phrase (the lexicon entry, the required words).
    phrase: str | None = None
    #: The words said.
    text: str | None = None
    match: str | None = None
    detail: str | None = None


class CallResult(NamedTuple):
    name: str
    source: str
    script: str
    agent: str
    call_type: str
    score: int | None
    phases: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    not_judged: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: (speaker, text, start_ms, end_ms) per final segment.
    transcript: tuple[tuple[str, str, int | None, int | None], ...] = ()
    fragments: int = 0
    #: Why the call could not be checked at all (then it has no score). A call checked with
    #: nothing to judge has no score and no error: its notes say why.
    error: str | None = None
    said: tuple[str, ...] = ()
