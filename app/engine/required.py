"""The phrases a call requires: when each is due, whether the agent said it, what follows.

A required prompt is made when its phase begins (``due: {at: phase}``) or when the prompt it
follows is said (``due: {after: <rule>}``, after a pause: until then it waits for its
deadline). Until it is said, every hypothesis of the agent is judged against it, with the
agent's recent speech before it (a prompt may be spoken over several segments): on a final at
the script's ``done_similarity``, on a partial only with every word there. Once said, the call
moves on to the phase the prompt names (``then``).

The phase moves here, because a new phase is what makes its prompts due: :meth:`move` is the
one way a call changes phase.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from app.engine.holidays import holiday_on
from app.engine.messages import CallSetup, PromptState
from app.engine.normalize import normalize
from app.engine.outbox import Outbox
from app.engine.phases import Phase, can_move
from app.engine.prompts import PromptMatcher, fill, matcher_for
from app.engine.script import Prompt, Script
from app.engine.timeline import PROMPT_DEADLINE, Timeline

#: The rule of the opening greeting, which other rules watch (late, missing, the wrong word).
GREETING: Final = "greeting.open"
#: Keep this much of the agent's recent speech per open prompt for judging whether it was said.
PROMPT_WINDOW: Final = 400
#: A prompt is taken as said on a partial only when every token is already there.
PARTIAL_DONE: Final = 0.999
#: Suggestions a call keeps (its snapshot lists them): the latest ones. A suggestion decides
#: nothing once pushed, and a long call must not grow with every one it was given.
SUGGESTED_KEPT: Final = 64


class _Open:
    """A required prompt not said yet, and what it is judged on."""

    __slots__ = ("state", "spec", "window", "progress")

    def __init__(self, state: PromptState, spec: Prompt) -> None:
        self.state = state
        #: The prompt of the script it stands for now (the call type may change it).
        self.spec = spec
        #: The agent's normalized final speech since it was made, the last ``PROMPT_WINDOW``.
        self.window = ""
        #: Where the search for each reading's tokens stopped on the agent's last partial: the
        #: speech searched, how many tokens were found in a row, and where (made by the first
        #: partial searched).
        self.progress: list[tuple[str, int, int] | None] | None = None


class _Later(NamedTuple):
    """The prompts that would begin a later phase, for a phase and the prompts of a call type,
    and the fewest characters that could say one of them."""

    phase: Phase
    applicable: tuple[Prompt, ...]
    prompts: list[tuple[Prompt, PromptMatcher]]
    shortest: float


class _OnTheirOwn(NamedTuple):
    """The required prompts that follow another (``due.after``), for the prompts of a call
    type, with their matchers, and the fewest characters that could say one of them."""

    applicable: tuple[Prompt, ...]
    prompts: list[tuple[Prompt, tuple[PromptMatcher, ...]]]
    shortest: float


class RequiredPrompts:
    """The prompts of one call: the required ones with where each stands, and the suggestions
    made to the agent (``suggest``), all in the order made."""

    def __init__(
        self,
        script: Script,
        setup: CallSetup,
        timeline: Timeline,
        outbox: Outbox,
        on_said: Callable[[PromptState, str, int], None],
    ) -> None:
        """``on_said`` is called with each required prompt the agent says, at once, with the
        speech (normalized) it was found in."""
        self._script = script
        self._setup = setup
        self._timeline = timeline
        self._outbox = outbox
        self._on_said = on_said
        #: The slot values of this call (filled when it is answered).
        self.slots: dict[str, str] = {}
        #: The script's prompts for this call's type, customer and day (from the answer on).
        self.applicable: tuple[Prompt, ...] = ()
        self._holiday = False
        #: Every prompt made in this call, in order: required and suggested (of these, the
        #: last :data:`SUGGESTED_KEPT`).
        self.states: list[PromptState] = []
        self._suggested = 0
        #: The first required prompt made of each rule.
        self._by_rule: dict[str, PromptState] = {}
        #: The required prompts not said yet, in the order made, by id.
        self._open: dict[str, _Open] = {}
        #: Follow-ups waiting for their pause to end (their deadline), by id; made with the
        #: first.
        self._armed: dict[str, PromptState] | None = None
        #: Prompt matchers by id(prompt): filled with this call's slots, built once (made
        #: when the first is asked for).
        self._matcher_cache: dict[int, tuple[PromptMatcher, ...]] | None = None
        self._later: _Later | None = None
        self._on_their_own: _OnTheirOwn | None = None
        #: The segment the last required prompt was said in (the agent speaks one segment at a
        #: time: a prompt said in the segment being closed is one of the last said).
        self.last_done_segment: str | None = None

    def begin(self, t: int) -> None:
        """The call is answered at ``t``: fill the slots for its time of day and date, and take
        the prompts of its type."""
        script = self._script
        setup = self._setup
        local = datetime.fromtimestamp(t / 1000, ZoneInfo(setup.timezone))
        on = holiday_on(script.holidays, local.date()) if script.holidays else None
        holiday = on.greeting if on is not None else ""
        self._holiday = bool(holiday)
        slots = {name: default.text for name, default in script.slot_defaults.items()}
        if setup.customer_title:
            slots["title"] = setup.customer_title
        if setup.agent_name:
            slots["agent_name"] = setup.agent_name
        slots["work_no"] = setup.work_no or setup.agent_id or ""
        slots["holiday"] = f",{holiday}" if holiday else ""
        if script.greeting is not None:
            slots["greeting"] = script.greeting.word_at(local.time())
        self.slots = slots
        self.applicable = self._prompts_for_call()

    @property
    def pending(self) -> bool:
        """Whether any required prompt is still to be said."""
        return bool(self._open)

    def by_rule(self, rule: str) -> PromptState | None:
        """The (first) required prompt of ``rule`` made in this call."""
        return self._by_rule.get(rule)

    def said(self, rule: str) -> bool:
        state = self._by_rule.get(rule)
        return state is not None and state.status == "done"

    # -- phases ----------------------------------------------------------------------------

    def move(self, target: Phase, t: int) -> None:
        """Move the call to ``target`` (:meth:`Timeline.move`, which raises on an illegal move)
        and push the prompts due when the new phase begins."""
        previous = self._timeline.move(target)
        phase = self._timeline.phase
        self._outbox.emit("phase", t, {"phase": str(phase), "previous": str(previous)})
        if phase is not Phase.ENDED:
            self._push_phase_prompts(t)

    def _push_phase_prompts(self, t: int) -> None:
        phase = self._timeline.phase
        for prompt in self.applicable:
            if (
                prompt.phase is phase
                and prompt.due.at == "phase"
                and prompt.rule not in self._by_rule
            ):
                self._push(self._new_prompt(prompt, t), t)

    def later_phase_said(self, spoken: str) -> Phase | None:
        """The later phase whose opening prompt the agent's final ``spoken`` (normalized) says,
        if any: the agent moved the call on (began the closing, say)."""
        threshold = self._script.timing.done_similarity
        phase = self._timeline.phase
        later = self._later
        if later is None or later.phase is not phase or later.applicable is not self.applicable:
            prompts = [
                (prompt, matcher)
                for prompt in self.applicable
                if prompt.due.at == "phase"
                and can_move(phase, prompt.phase)
                and prompt.phase is not Phase.ENDED
                for matcher in self._matchers(prompt)
            ]
            shortest = min((m.total * threshold for _, m in prompts), default=0.0)
            later = self._later = _Later(phase, self.applicable, prompts, shortest)
        if not later.prompts or len(spoken) < later.shortest:
            return None  # too short to be any of them (most finals)
        for prompt, matcher in later.prompts:
            if (
                prompt.rule not in self._by_rule
                and len(spoken) >= matcher.total * threshold
                and matcher.similarity(spoken) >= threshold
            ):
                return prompt.phase
        return None

    # -- the agent's speech ----------------------------------------------------------------

    def check(self, spoken: str, segment: str, final: bool, t: int) -> None:
        """Mark done every open prompt the agent's hypothesis ``spoken`` (normalized, of
        ``segment``) now says, with what follows from it."""
        threshold = self._script.timing.done_similarity if final else PARTIAL_DONE
        progress = True
        while progress:
            progress = False
            # Prompts made while checking (follow-ups, a new phase's) are checked in the next
            # pass, after the others.
            for entry in list(self._open.values()):
                said = entry.window + spoken
                best, reading = 0.0, 0
                for k, matcher in enumerate(self._matchers(entry.spec)):
                    similarity = self._said(entry, k, matcher, said, final, threshold)
                    if similarity > best:
                        best, reading = similarity, k
                if best >= threshold:
                    self._done(entry, best, segment, t, reading, said)
                    progress = True
        if final:
            self._said_on_its_own(spoken, segment, t)

    def _said(
        self,
        entry: _Open,
        reading: int,
        matcher: PromptMatcher,
        said: str,
        final: bool,
        threshold: float,
    ) -> float:
        """How much of reading ``reading`` of an open prompt the speech ``said`` says."""
        total = matcher.total
        if len(said) < total * threshold:
            return 0.0  # too short to say it yet
        if not final and total and threshold > 1 - 1 / total:
            # On a partial only every token in order will do (one missing loses a character
            # at least: below the threshold). Partials usually extend the last one, so the
            # search goes on from where it stopped on it.
            done = position = 0
            searches = entry.progress
            if searches is None:
                searches = entry.progress = [None] * len(entry.spec.texts)
            progress = searches[reading]
            if progress is not None:
                searched, found, stopped = progress
                if said.startswith(searched):
                    done, position = found, stopped
            done, position = matcher.in_order(said, done, position)
            searches[reading] = (said, done, position)
            return 1.0 if done == len(matcher.tokens) else 0.0
        return matcher.similarity(said)

    def _said_on_its_own(self, spoken: str, segment: str, t: int) -> None:
        """Each required phrase is judged on its own: a final of the agent that says a prompt
        not made yet, because the one it follows was never said (the farewell after a skipped
        rating prompt), counts it as said; the skipped one stays missed."""
        threshold = self._script.timing.done_similarity
        own = self._on_their_own
        if own is None or own.applicable is not self.applicable:
            prompts = [
                (prompt, self._matchers(prompt))
                for prompt in self.applicable
                if prompt.kind == "required" and prompt.due.after is not None
            ]
            shortest = min(
                (m.total * threshold for _, matchers in prompts for m in matchers), default=0.0
            )
            own = self._on_their_own = _OnTheirOwn(self.applicable, prompts, shortest)
        if len(spoken) < own.shortest:
            return  # too short to say any of them (most finals)
        for prompt, matchers in own.prompts:
            if prompt.rule in self._by_rule or self._timeline.phase is Phase.ENDED:
                continue
            best, reading = 0.0, 0
            for k, matcher in enumerate(matchers):
                if len(spoken) >= matcher.total * threshold:
                    similarity = matcher.similarity(spoken)
                    if similarity > best:
                        best, reading = similarity, k
            if best < threshold:
                continue
            if prompt.phase is not self._timeline.phase and self._timeline.can_move(prompt.phase):
                self.move(prompt.phase, t)
            state = self._new_prompt(prompt, t)
            self._push(state, t)
            self._done(self._open[state.id], best, segment, t, reading, spoken)

    def heard(self, spoken: str) -> None:
        """A final of either speaker (normalized): part of the speech every open prompt is
        judged on from now."""
        for entry in self._open.values():
            entry.window = (entry.window + spoken)[-PROMPT_WINDOW:]

    def said_rules(self, text: str) -> list[str]:
        """The required phrases of this call that ``text`` says, whatever is due now."""
        spoken = normalize(text).text
        threshold = self._script.timing.done_similarity
        rules: list[str] = []
        for prompt in self.applicable:
            if (
                prompt.kind == "required"
                and prompt.rule not in rules
                and any(m.similarity(spoken) >= threshold for m in self._matchers(prompt))
            ):
                rules.append(prompt.rule)
        return rules

    def _done(
        self,
        entry: _Open,
        similarity: float,
        segment: str,
        t: int,
        reading: int = 0,
        said: str = "",
    ) -> None:
        state = entry.state
        if state.status == "armed":
            self._push(state, t)
        if entry.spec.alternatives:  # the report names the words said
            state.text = fill(entry.spec.texts[reading], self.slots)
        state.status = "done"
        state.similarity = round(similarity, 2)
        state.done_segment = self.last_done_segment = segment
        state.done_at = t
        del self._open[state.id]
        self._outbox.emit(
            "prompt_done",
            t,
            {
                "id": state.id,
                "rule": state.rule,
                "segment": segment,
                "similarity": state.similarity,
            },
        )
        self._on_said(state, said, t)
        then = entry.spec.then
        if then is not None and self._timeline.can_move(then):
            self.move(then, t)  # first: what follows it belongs to the new phase
        for follow in self.applicable:
            if follow.due.after == state.rule and follow.rule not in self._by_rule:
                due = t + int(follow.due.delay_s * 1000)
                follow_state = self._new_prompt(follow, due)
                if due <= t:
                    self._push(follow_state, t)
                else:
                    if self._armed is None:
                        self._armed = {}
                    self._armed[follow_state.id] = follow_state
                    self._timeline.arm(PROMPT_DEADLINE + follow_state.id, due)

    # -- prompts made and pushed -----------------------------------------------------------

    def due(self, prompt_id: str, t: int) -> None:
        """A follow-up's pause is over (its deadline): push it."""
        assert self._armed is not None  # its deadline was armed with it
        self._push(self._armed[prompt_id], t)

    def suggest(self, rule: str, text: str, source: str, t: int) -> None:
        """Push a suggestion: a prompt the agent may say now, filled with the call's slots."""
        state = PromptState(
            id=self._outbox.prompt_id(),
            rule=rule,
            kind="suggested",
            phase=self._timeline.phase,
            text=fill(text, self.slots),
            source=source,
            due_at=t,
            status="due",
        )
        self.states.append(state)
        self._suggested += 1
        if self._suggested > SUGGESTED_KEPT:  # the oldest suggestion goes: it was said long ago
            self.states.remove(next(s for s in self.states if s.kind == "suggested"))
            self._suggested -= 1
        self._outbox.emit("prompt", t, state.to_body())

    def retype(self, t: int) -> None:
        """The call type has changed: take its prompts. A required prompt not said yet that no
        longer applies goes; one that still does takes the new type's text; the current
        phase's new prompts are pushed."""
        self.applicable = self._prompts_for_call()
        first: dict[str, Prompt] = {}
        for prompt in self.applicable:
            first.setdefault(prompt.rule, prompt)
        for state in list(self.states):
            if state.status == "done" or state.kind != "required":
                continue
            spec = first.get(state.rule)
            if spec is None:
                self._drop(state)
            else:
                entry = self._open[state.id]
                entry.spec = spec
                entry.progress = None
                state.text = self.text_of(spec)
        self._push_phase_prompts(t)

    def _new_prompt(self, prompt: Prompt, due_at: int) -> PromptState:
        state = PromptState(
            id=self._outbox.prompt_id(),
            rule=prompt.rule,
            kind=prompt.kind,
            phase=prompt.phase,
            text=self.text_of(prompt),
            source=prompt.source,
            due_at=due_at,
        )
        self.states.append(state)
        if state.kind == "required":
            self._open[state.id] = _Open(state, prompt)
            self._by_rule.setdefault(state.rule, state)
        return state

    def _push(self, state: PromptState, t: int) -> None:
        state.status = "due"
        if self._armed is not None and self._armed.pop(state.id, None) is not None:
            self._timeline.disarm(PROMPT_DEADLINE + state.id)
        self._outbox.emit("prompt", t, state.to_body())

    def _drop(self, state: PromptState) -> None:
        """Forget a required prompt not said that no longer applies."""
        self.states.remove(state)
        del self._open[state.id]
        if self._armed is not None and self._armed.pop(state.id, None) is not None:
            self._timeline.disarm(PROMPT_DEADLINE + state.id)
        if self._by_rule.get(state.rule) is state:
            del self._by_rule[state.rule]
            again = next(
                (p for p in self.states if p.rule == state.rule and p.kind == "required"), None
            )
            if again is not None:
                self._by_rule[state.rule] = again

    def _prompts_for_call(self) -> tuple[Prompt, ...]:
        return self._script.prompts_for(
            self._timeline.call_type, self._setup.customer_class, self._holiday
        )

    def text_of(self, prompt: Prompt) -> str:
        """What the agent is shown of ``prompt``: its text and its alternatives, filled."""
        return "/".join(fill(text, self.slots) for text in prompt.texts)

    def _matchers(self, prompt: Prompt) -> tuple[PromptMatcher, ...]:
        """A matcher for each reading of ``prompt`` (its text, then its alternatives)."""
        cache = self._matcher_cache
        if cache is None:
            cache = self._matcher_cache = {}
        matchers = cache.get(id(prompt))
        if matchers is None:
            free = frozenset(self._script.free_slots)
            matchers = cache[id(prompt)] = tuple(
                matcher_for(text, self.slots, free) for text in prompt.texts
            )
        return matchers
