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

import re
from typing import Any, Final

from app.engine.behaviour_rules import BehaviourRule
from app.engine.behaviour_words import BehaviourWords
from app.engine.cues import covers
from app.engine.document import Severity
from app.engine.messages import Speaker
from app.engine.outbox import Outbox
from app.engine.phases import Phase
from app.engine.required import GREETING, RequiredPrompts
from app.engine.script import Script, WorkNo
from app.engine.segment import SegmentState
from app.engine.suggestions import Suggestions
from app.engine.timeline import Deadline, Timeline
from app.engine.turns import Interruption, Turns

#: A number as the normalized speech has it (spoken digits are ASCII digits there).
DIGITS: Final = re.compile(r"\d+")
#: How severe an alert about a required prompt is when the script's ``prompt_alerts`` does not
#: say: as severe as a behaviour rule.
PROMPT_SEVERITY: Severity = "major"
#: Stretches of the agent's speech asking the customer to wait that a hold is judged against:
#: the latest ones (a hold is announced just before it, and a call's last 64 such requests
#: span minutes); a long call must not keep every one.
ANNOUNCED_KEPT: Final = 64
#: The prompt areas that must be said before the hangup, with the alert for each.
MISSING_AT_HANGUP: Final = (("closing", "closing.missing"), ("rating", "rating.missing"))


class BehaviourRules:
    """The behaviour rules of one call, and the state they need."""

    def __init__(
        self,
        script: Script,
        words: BehaviourWords,
        inbound: bool,
        agent_work_no: str | None,
        timeline: Timeline,
        outbox: Outbox,
        prompts: RequiredPrompts,
        suggestions: Suggestions,
    ) -> None:
        self._rules = script.behaviour
        self._prompt_severity = script.prompt_alerts
        self._timing = script.timing
        self._inbound = inbound
        self._timeline = timeline
        self._outbox = outbox
        self._prompts = prompts
        self._suggestions = suggestions
        self._hold_at: int | None = None
        #: Who spoke when: made with the first final with words (an idle call has none).
        self._turns: Turns | None = None
        self._words = words
        self._interruptions = 0
        #: Where each required prompt was first said: (segment, start_ms, end_ms); made with
        #: the first.
        self._said_in: dict[str, tuple[str, int | None, int | None]] | None = None
        #: Pauses the norm asks for that the call reached, and how many had no times.
        self._pauses_due = 0
        self._pauses_untimed = 0
        #: 客户尚未挂机便与同事交谈: whether the call's last phrase has been said (and the
        #: customer has not taken the call up again), and whether it was alerted.
        self._farewell_said = False
        self._colleague_alerted = False
        #: 请您稍等 before a hold: where the agent's speech asked the customer to wait (call
        #: time it began, ended; made with the first), and the hold still to be judged (its
        #: call time).
        self._announced: list[tuple[int, int]] | None = None
        self._hold_to_judge: int | None = None
        #: The opening's facts: the work number it must give, when the call names one.
        self._work_no = script.work_no
        self._agent_work_no = agent_work_no
        self._work_no_unknown = False

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
        elif name == Deadline.HOLD_ANNOUNCE:
            if self._hold_to_judge is not None:
                self._judge_hold(self._hold_to_judge, t)
        elif name == Deadline.HOLD_APOLOGY:
            rule = self._rules.hold_no_apology
            self._alert(rule, t, detail=f"no apology ({rule.apology}) after a hold")

    # -- holds -----------------------------------------------------------------------------

    def hold(self, t: int) -> None:
        """The customer is put on hold at ``t``: it must have been announced (请您稍等), judged
        once the grace for a late final is over."""
        self._hold_at = t
        self._timeline.disarm(Deadline.HOLD_APOLOGY)
        self._suggestions.on_event("hold", t)
        rule = self._rules.hold_unannounced
        if rule is not None:
            if self._hold_to_judge is not None:  # a second hold before the first was judged
                self._judge_hold(self._hold_to_judge, t)
            self._hold_to_judge = t
            self._timeline.arm(Deadline.HOLD_ANNOUNCE, t + int(rule.grace_s * 1000))

    def _judge_hold(self, held: int, t: int) -> None:
        """Whether the hold at ``held`` was announced: agent speech asking to wait that ended
        at most ``within_s`` before it and began no later than the grace after it."""
        rule = self._rules.hold_unannounced
        assert rule is not None
        self._hold_to_judge = None
        self._timeline.disarm(Deadline.HOLD_ANNOUNCE)
        within = int(rule.within_s * 1000)
        grace = int(rule.grace_s * 1000)
        announced = self._announced if self._announced is not None else []
        if any(end >= held - within and begin <= held + grace for begin, end in announced):
            return
        self._alert(rule, t, detail="put on hold without asking the customer to wait first")

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

    def spoken(self, segment: SegmentState, t: int) -> None:
        """A final ``segment`` with words (normalized, not empty), of either speaker: place it
        on the timeline, alert the interruptions it completes, and judge the pauses before
        the prompts it said."""
        speaker = segment.speaker
        back_channel = speaker == "agent" and covers(
            segment.norm.text, self._words.back_channel, self._words.back_channel_longest
        )
        turns = self._turns
        if turns is None:
            turns = self._turns = Turns(self._rules.interrupting.tolerance_ms)
        found = turns.add(speaker, segment.id, segment.start_ms, segment.end_ms, back_channel)
        for interruption in found:
            self._interrupted(interruption, t)
        if speaker == "agent":
            if self._rules.no_pause is not None:
                self._pauses(segment, t)
            if self._words.announce and self._words.announce.first(segment.norm.text) is not None:
                self._announced_at(self._span(segment, t))
            if self._farewell_said:
                self._after_farewell(segment, t)
        elif self._farewell_said and not self._only_closing(segment.norm.text):
            self._farewell_said = False  # the customer takes the call up again

    def agent_speaking(self, segment: SegmentState, t: int) -> None:
        """The agent's open ``segment`` as it stands when a hold is judged: words asking the
        customer to wait count before their final arrives."""
        if self._words.announce and self._words.announce.first(segment.norm.text) is not None:
            self._announced_at(self._span(segment, t))

    def _announced_at(self, span: tuple[int, int]) -> None:
        announced = self._announced
        if announced is None:
            announced = self._announced = []
        announced.append(span)
        if len(announced) > ANNOUNCED_KEPT:
            del announced[0]

    def _span(self, segment: SegmentState, t: int) -> tuple[int, int]:
        """The call time ``segment`` began and ended: by its own times when it has them, else
        when it arrived (``t``)."""
        answered = self._timeline.answered_at
        if answered is None or segment.start_ms is None or segment.end_ms is None:
            return t, t
        return answered + segment.start_ms, answered + segment.end_ms

    # -- the end of the call ---------------------------------------------------------------

    def prompt_said(self, rule: str, said: str, t: int) -> None:
        """The agent said the required prompt ``rule`` in ``said`` (normalized): the facts it
        states must be the call's (the work number); after the call's last phrase, talk that is
        not to the customer is talk with a colleague."""
        colleague = self._rules.colleague_talk
        if colleague is not None and rule in colleague.after:
            self._farewell_said = True
        work_no = self._work_no
        if work_no is not None and rule in work_no.prompts:
            self._check_work_no(work_no, said, t)

    def _check_work_no(self, fact: WorkNo, said: str, t: int) -> None:
        """The work number the agent gave (digits in ``said``) must be the call's agent's."""
        expected = self._agent_work_no
        if not expected:
            self._work_no_unknown = True
            return
        numbers = DIGITS.findall(said)
        if expected.lstrip("0") in [n.lstrip("0") for n in numbers]:
            return
        if numbers:
            detail = f"said work number {numbers[-1]}; the agent's is {expected}"
        else:
            detail = f"no work number said; the agent's is {expected}"
        self._outbox.alert(
            t, "script", fact.rule, fact.severity, fact.source, speaker="agent", detail=detail
        )

    def _after_farewell(self, segment: SegmentState, t: int) -> None:
        rule = self._rules.colleague_talk
        assert rule is not None
        text = segment.norm.text
        if (
            self._colleague_alerted
            or len(text) < rule.min_chars
            or self._only_closing(text)
            or any(word in segment.text for word in rule.to_customer)
            or segment.id == self._farewell_segment()
        ):
            return
        self._colleague_alerted = True
        self._alert(
            rule,
            t,
            text=segment.text,
            span=(0, len(segment.text)),
            speaker="agent",
            segment=segment.id,
            match="pattern",
            detail="the agent talked, not to the customer, after the farewell before the hangup",
        )

    def _farewell_segment(self) -> str | None:
        """The segment in which the call's last phrase was said (its own words are no talk
        with a colleague)."""
        colleague = self._rules.colleague_talk
        if colleague is None:
            return None
        for rule in colleague.after:
            state = self._prompts.by_rule(rule)
            if state is not None and state.status == "done":
                return state.done_segment
        return None

    def _only_closing(self, text: str) -> bool:
        words, longest = self._words.closing_words
        return not text or covers(text, words, longest)

    def is_bare_what(self, text: str) -> bool:
        """Whether the agent's final ``text`` (normalized) only asks 'what'."""
        words = self._words
        if text in words.bare_utterances:
            return True
        # Taking the demands to repeat out (below) removes characters and never adds one: a
        # text with a character that is in none of the words it may be made of (most finals)
        # cannot be a bare 'what', nor can one without every character of some 'what' word.
        alphabet = words.what_alphabet
        for char in text:
            if char not in alphabet:
                return False
        if not any(all(char in text for char in word) for word in words.what):
            return False
        if words.polite.first(text) is not None:
            return False
        for demand in self._words.repeat:
            text = text.replace(demand, "")
        return any(word in text for word in self._words.what) and covers(
            text, self._words.around, self._words.around_longest
        )

    def _interrupted(self, interruption: Interruption, t: int) -> None:
        rule = self._rules.interrupting
        self._interruptions += 1
        if self._interruptions < rule.alert_after:
            return
        agent, customer = interruption
        self._alert(
            rule,
            t,
            speaker="agent",
            segment=agent.segment,
            detail=(
                f"the agent began at {agent.start} ms while the customer spoke "
                f"({customer.start}–{customer.end} ms): {self._interruptions} times"
            ),
        )

    def _pauses(self, segment: SegmentState, t: int) -> None:
        """停顿: each required prompt said in ``segment`` that is due a pause after another must
        begin that long after the other one's segment ended."""
        rule = self._rules.no_pause
        assert rule is not None
        prompts = self._prompts
        if prompts.last_done_segment != segment.id:
            return  # no prompt said in it (most finals)
        said_here = [
            s for s in prompts.states if s.kind == "required" and s.done_segment == segment.id
        ]
        if not said_here:
            return
        said_in = self._said_in
        if said_in is None:
            said_in = self._said_in = {}
        for state in said_here:
            said_in.setdefault(state.rule, (segment.id, segment.start_ms, segment.end_ms))
        for state in said_here:
            spec = next((p for p in prompts.applicable if p.rule == state.rule), None)
            if spec is None or spec.due.after is None or spec.due.delay_s <= 0:
                continue
            before = said_in.get(spec.due.after)
            if before is None:  # the prompt it follows was never said: no pause to judge
                continue
            self._pauses_due += 1
            same = before[0] == segment.id
            ended, began = before[2], segment.start_ms
            if same:
                pause = 0
            elif ended is None or began is None:
                self._pauses_untimed += 1
                continue
            else:
                pause = began - ended
            needed = int(spec.due.delay_s * 1000)
            if pause >= needed - rule.tolerance_ms:
                continue
            if same:
                detail = f"{state.rule} said in the same breath as {spec.due.after}"
            else:
                detail = (
                    f"{state.rule} began {pause} ms after {spec.due.after} ended; "
                    f"the norm's pause is {spec.due.delay_s:g} s"
                )
            self._alert(rule, t, speaker="agent", segment=segment.id, detail=detail)

    def not_judged(self) -> list[dict[str, str]]:
        """The timing rules the call's segment times did not let the engine judge, with why
        (for the report)."""
        out: list[dict[str, str]] = []
        turns = self._turns
        if turns is not None and turns.untimed:
            judged = "was not judged" if turns.untimed == turns.segments else "was judged in part"
            out.append(
                {
                    "rule": self._rules.interrupting.rule,
                    "reason": f"interruption {judged}: {turns.untimed} of {turns.segments} "
                    "segments had no start_ms/end_ms",
                }
            )
        if self._work_no is not None and self._work_no_unknown:
            out.append(
                {
                    "rule": self._work_no.rule,
                    "reason": "the work number said was not checked: the call names no "
                    "agent work_no",
                }
            )
        rule = self._rules.no_pause
        if rule is not None and self._pauses_untimed:
            out.append(
                {
                    "rule": rule.rule,
                    "reason": f"{self._pauses_untimed} of {self._pauses_due} pauses were not "
                    "judged: the segments had no start_ms/end_ms",
                }
            )
        return out

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
            if rule.suggest is not None:
                self._suggestions.by_rule(rule.suggest, t)

    # -- the hangup ------------------------------------------------------------------------

    def hangup(self, by: Speaker | None, t: int) -> None:
        """The call is hung up (by ``by``, if known): who hung up first, and which required
        prompts were never said."""
        if self._timeline.answered_at is None:
            return
        if self._hold_to_judge is not None:
            self._judge_hold(self._hold_to_judge, t)
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
        severity = self._prompt_severity.get(rule, PROMPT_SEVERITY)
        self._outbox.alert(t, "script", rule, severity, source, detail=detail)
