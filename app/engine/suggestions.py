"""What to suggest to the agent, and what the customer's words make of the call.

A situation of the script (the customer asks for the agent's number, the agent cannot answer, a
hold begins…) suggests its phrase, at most once per cooldown. An empty call (the customer says
nothing after the greeting) gets the script's no-response steps one after the other, then
becomes the script's call type for it and moves to its closing. The customer's final words may
set the call type (投诉: a complaint) or say they have no more questions (an end signal).
"""

from __future__ import annotations

from app.engine.compiled import CompiledScript
from app.engine.index import excused
from app.engine.normalize import Normalized
from app.engine.outbox import INTENT_CHARS, Outbox
from app.engine.phases import CallType, Phase, can_retype
from app.engine.required import RequiredPrompts
from app.engine.script import SituationEvent, SituationIntent
from app.engine.timeline import Deadline, Timeline

#: The rule of a suggestion made by the empty-call handling.
NO_RESPONSE = "situation.no_response"
#: The phases in which an unclear purpose is asked after: the call's opening.
_ASKING_PURPOSE = (Phase.GREETING, Phase.ANSWERING)


class Suggestions:
    """The suggestions of one call, its empty-call handling and its changes of call type."""

    def __init__(
        self,
        compiled: CompiledScript,
        timeline: Timeline,
        outbox: Outbox,
        prompts: RequiredPrompts,
        intent_chars: int = INTENT_CHARS,
    ) -> None:
        """``intent_chars``: characters of a customer final the intent check reads at most."""
        self._compiled = compiled
        self._intent_chars = intent_chars
        self._timeline = timeline
        self._outbox = outbox
        self._prompts = prompts
        #: Whether the customer has said anything yet (the empty-call handling stops).
        self.customer_spoke = False
        self._no_response_step = 0
        #: When each situation was last suggested, by rule (for its cooldown); made with the
        #: first.
        self._last: dict[str, int] | None = None
        #: Whether the customer has said what they call about (no more asking their purpose).
        self._purpose_known = False

    def situation(self, index: int, t: int) -> None:
        """Situation ``index`` of the script happened: suggest its phrase (if it applies to the
        call type and is not cooling down), and set the call type it names."""
        situation = self._compiled.script.situations[index]
        timeline = self._timeline
        if situation.call_types is not None and timeline.call_type not in situation.call_types:
            return
        if situation.call_type is not None:
            self.retype(situation.call_type, f"situation {situation.rule}", t)
        last = self._last.get(situation.rule) if self._last is not None else None
        if last is not None and t - last < situation.cooldown_s * 1000:
            return
        self._suggest(situation.rule, situation.text, situation.source, t)

    def by_rule(self, rule: str, t: int) -> None:
        """The situation of ``rule`` happened, if the script has it."""
        index = self._compiled.situation_by_rule.get(rule)
        if index is not None:
            self.situation(index, t)

    def on_event(self, event: SituationEvent, t: int) -> None:
        """A call event (a hold, the customer's loudness) happened: its situation, if any."""
        index = self._compiled.situation_by_event.get(event)
        if index is not None:
            self.situation(index, t)

    def customer_final(self, norm: Normalized, t: int) -> bool:
        """The customer's final words (``norm``, normalized): suggest what they call for, set
        the call type they name or mean (a complaint), ask their purpose while it is unclear;
        return whether they end the answering (an end signal)."""
        self.customer_spoke = True
        self._timeline.disarm(Deadline.NO_RESPONSE)
        spoken = norm.text
        end_signal = False
        # the purpose is judged until the customer has said it; the complaint, always
        judged = self._compiled.intent.judge_within(
            norm.raw, norm, self._intent_chars, purpose=not self._purpose_known
        )
        if judged.complaint:
            self.retype(CallType.COMPLAINT, "customer: " + "; ".join(judged.reasons), t)
        if judged.unclear_purpose:
            if not self._purpose_known and self._timeline.phase in _ASKING_PURPOSE:
                self._intent_situation("unclear_purpose", t)
        else:
            self._purpose_known = True
        for hit in excused(self._compiled.customer_index.scan(spoken)):
            target = hit.target
            if target.at_end is not None and hit.end < len(spoken) - target.at_end:
                continue
            if target.kind == "call_type":
                self.retype(CallType(target.ref), f"customer said “{hit.pattern}”", t)
            elif target.kind == "situation":
                self.situation(int(target.ref), t)
            elif target.kind == "end_signal":
                end_signal = True
        return end_signal

    def customer_hesitated(self, t: int) -> None:
        """The customer made only sounds (嗯……那个……: words that normalize to nothing): they
        are on the line, and their purpose is still unclear."""
        self.customer_spoke = True
        self._timeline.disarm(Deadline.NO_RESPONSE)
        if not self._purpose_known and self._timeline.phase in _ASKING_PURPOSE:
            self._intent_situation("unclear_purpose", t)

    def _intent_situation(self, intent: SituationIntent, t: int) -> None:
        """Suggest the situations of the script for ``intent`` that apply to the call type."""
        for index, situation in enumerate(self._compiled.script.situations):
            if situation.intent == intent:
                self.situation(index, t)

    # -- the empty call --------------------------------------------------------------------

    def greeting_said(self, t: int) -> None:
        """The agent has greeted: if the customer has not spoken, wait for the first step of
        the script's no-response handling."""
        no_response = self._compiled.script.no_response
        if not self.customer_spoke and no_response is not None:
            self._no_response_step = 0
            delay = no_response.steps[0].delay_s
            self._timeline.arm(Deadline.NO_RESPONSE, t + int(delay * 1000))

    def no_response(self, t: int) -> None:
        """The customer is still silent (the deadline): the next step, or after the last one
        the call type for an empty call and its closing."""
        spec = self._compiled.script.no_response
        assert spec is not None  # the deadline is armed only for a script that has one
        step = self._no_response_step
        if step < len(spec.steps):
            self._suggest(NO_RESPONSE, spec.steps[step].text, spec.steps[step].source, t)
            self._no_response_step += 1
            delay = (
                spec.steps[step + 1].delay_s if step + 1 < len(spec.steps) else spec.final_delay_s
            )
            self._timeline.arm(Deadline.NO_RESPONSE, t + int(delay * 1000))
        else:
            self.retype(spec.call_type, "no customer speech after the greeting", t)
            if self._timeline.can_move(Phase.CLOSING):
                self._prompts.move(Phase.CLOSING, t)

    # -- call types ------------------------------------------------------------------------

    def retype(self, call_type: CallType, reason: str, t: int) -> None:
        """Make the call ``call_type``, if :data:`app.engine.phases.RETYPES` allows, with its
        prompts from then on."""
        timeline = self._timeline
        if not can_retype(timeline.call_type, call_type):
            return
        timeline.call_type = call_type
        self._outbox.emit("call_type", t, {"call_type": str(call_type), "reason": reason})
        if timeline.answered_at is not None:
            self._prompts.retype(t)

    def _suggest(self, rule: str, text: str, source: str, t: int) -> None:
        if self._last is None:
            self._last = {}
        self._last[rule] = t
        self._prompts.suggest(rule, text, source, t)
