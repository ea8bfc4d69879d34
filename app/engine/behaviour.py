"""How the agent behaves: the rules on timing, turn-taking and the call's required prompts.

The script's ``behaviour`` section names each rule's alert, severity and norm; ``timing`` holds
their durations. Rules on time are deadlines: an inbound call not answered in time, a greeting
not said in time, no apology after a hold. The others are judged as the call goes: the agent
speaking over the customer, a bare 'what', the agent hanging up first, and, at the hangup, the
closing and rating prompts not said.

An alert about a required prompt of the script (the greeting late or missing, the closing or
rating missing) cites the norm of that prompt.
"""

from __future__ import annotations

from typing import Any

from app.engine.messages import Speaker
from app.engine.outbox import Outbox
from app.engine.phases import Phase
from app.engine.required import GREETING, RequiredPrompts
from app.engine.script import BehaviourRule, Script, Severity
from app.engine.segment import SegmentState
from app.engine.suggestions import Suggestions
from app.engine.timeline import Deadline, Timeline

#: The situation suggested after a bare 'what': the polite way to ask again.
REPEAT = "situation.repeat"
#: How severe an alert about a required prompt is: as severe as a behaviour rule.
PROMPT_SEVERITY: Severity = "major"
#: The prompt areas that must be said before the hangup, with the alert for each.
MISSING_AT_HANGUP = (("closing", "closing.missing"), ("rating", "rating.missing"))


class BehaviourRules:
    """The behaviour rules of one call, and the state they need."""

    def __init__(
        self,
        script: Script,
        inbound: bool,
        timeline: Timeline,
        outbox: Outbox,
        prompts: RequiredPrompts,
        suggestions: Suggestions,
    ) -> None:
        self._rules = script.behaviour
        self._timing = script.timing
        self._inbound = inbound
        self._timeline = timeline
        self._outbox = outbox
        self._prompts = prompts
        self._suggestions = suggestions
        self._hold_at: int | None = None
        self._interruptions = 0

    # -- answer and greeting ---------------------------------------------------------------

    def ringing(self, ring_at: int) -> None:
        """The phone rang at ``ring_at``: an inbound call must be answered in time."""
        if self._inbound:
            limit = int(self._timing.ring_limit_s * 1000)
            self._timeline.arm(Deadline.SLOW_ANSWER, ring_at + limit)

    def answered(self, t: int) -> None:
        """The call was answered at ``t`` (its prompts taken): the greeting is due in time."""
        self._timeline.disarm(Deadline.SLOW_ANSWER)
        if self._prompts.by_rule(GREETING) is not None:
            late = int(self._timing.greeting_late_s * 1000)
            self._timeline.arm(Deadline.GREETING_LATE, t + late)

    def greeting_said(self) -> None:
        self._timeline.disarm(Deadline.GREETING_LATE)

    def greeting_missing(self, t: int) -> None:
        """The agent went on without the greeting (answered the customer, began a later
        phase): alert if it was required and not said."""
        self._timeline.disarm(Deadline.GREETING_LATE)
        greeting = self._prompts.by_rule(GREETING)
        if greeting is not None and greeting.status != "done":
            self._prompt_alert(
                t,
                "greeting.missing",
                greeting.source,
                "the agent went on without the opening greeting",
            )

    def on_deadline(self, name: str, t: int) -> None:
        """Deadline ``name`` of a behaviour rule was reached at ``t``."""
        timing = self._timing
        if name == Deadline.SLOW_ANSWER:
            detail = f"not answered within {timing.ring_limit_s:g} s of the ring"
            self._alert(self._rules.slow_answer, t, detail=detail)
        elif name == Deadline.GREETING_LATE:
            greeting = self._prompts.by_rule(GREETING)
            if greeting is not None and greeting.status != "done":
                detail = f"greeting not said within {timing.greeting_late_s:g} s of the answer"
                self._prompt_alert(t, "greeting.late", greeting.source, detail)
        elif name == Deadline.HOLD_APOLOGY:
            rule = self._rules.hold_no_apology
            self._alert(rule, t, detail=f"no apology ({rule.apology}) after a hold")

    # -- holds -----------------------------------------------------------------------------

    def hold(self, t: int) -> None:
        self._hold_at = t
        self._timeline.disarm(Deadline.HOLD_APOLOGY)
        self._suggestions.on_event("hold", t)

    def unhold(self, t: int) -> None:
        """The hold is over: after a long one, the agent must apologize in time."""
        if self._hold_at is None:
            return
        held = t - self._hold_at
        self._hold_at = None
        if held >= self._timing.hold_apology_min_s * 1000:
            self._suggestions.on_event("unhold", t)
            within = int(self._timing.hold_apology_within_s * 1000)
            self._timeline.arm(Deadline.HOLD_APOLOGY, t + within)

    def apology_said(self) -> None:
        self._timeline.disarm(Deadline.HOLD_APOLOGY)

    # -- speech ----------------------------------------------------------------------------

    def interrupting(self, agent: SegmentState, customer: SegmentState, t: int) -> None:
        """The agent began segment ``agent`` while the customer's was open."""
        rule = self._rules.interrupting
        if agent.start_ms is None or customer.end_ms is None:
            return
        if agent.start_ms >= customer.end_ms - rule.tolerance_ms:
            return
        self._interruptions += 1
        if self._interruptions >= rule.alert_after:
            self._alert(
                rule,
                t,
                speaker="agent",
                segment=agent.id,
                detail=f"the agent spoke over the customer ({self._interruptions} times)",
            )

    def bare_what(self, segment: SegmentState, t: int) -> None:
        """The agent's whole final ``segment`` only asked 'what': alert, and suggest the
        polite way to ask again."""
        rule = self._rules.bare_what
        if self._alert(
            rule,
            t,
            phrase=rule.phrase,
            text=segment.text,
            span=(0, len(segment.text)),
            speaker="agent",
            segment=segment.id,
            match="pattern",
        ):
            self._suggestions.by_rule(REPEAT, t)

    # -- the hangup ------------------------------------------------------------------------

    def hangup(self, by: Speaker | None, t: int) -> None:
        """The call is hung up (by ``by``, if known): who hung up first, and which required
        prompts were never said."""
        if self._timeline.answered_at is None:
            return
        if by == "agent":
            rule = self._rules.agent_hung_up_first
            self._alert(rule, t, detail="the agent hung up before the customer")
        greeting = self._prompts.by_rule(GREETING)
        if (
            self._timeline.phase is Phase.GREETING
            and greeting is not None
            and greeting.status != "done"
        ):
            self._prompt_alert(t, "greeting.missing", greeting.source)
        prompts = self._prompts
        for area, alert_rule in MISSING_AT_HANGUP:
            missing = [
                p
                for p in prompts.applicable
                if p.kind == "required"
                and p.rule.startswith(area + ".")
                and not prompts.said(p.rule)
            ]
            if missing:
                detail = "hung up before " + ", ".join(p.rule for p in missing)
                self._prompt_alert(t, alert_rule, missing[0].source, detail)

    def _alert(self, rule: BehaviourRule, t: int, **fields: Any) -> bool:
        """Raise ``rule``'s alert (``fields``: where it points, as :meth:`Outbox.alert` takes
        them), unless the call's type is exempt from the rule; return whether it was raised."""
        if self._timeline.call_type in rule.exempt_call_types:
            return False
        self._outbox.alert(t, "behaviour", rule.rule, rule.severity, rule.source, **fields)
        return True

    def _prompt_alert(self, t: int, rule: str, source: str, detail: str | None = None) -> None:
        self._outbox.alert(t, "script", rule, PROMPT_SEVERITY, source, detail=detail)
