"""One call, as a pure state machine.

A :class:`CallSession` takes one input at a time — a fragment, a call event, a timer tick — and
returns the events to send. It never reads a clock and does no I/O: every input comes with the
shell's wall clock (epoch ms) and the session places it in call time (``clock.CallClock``).

After every call the shell must ask :meth:`CallSession.next_deadline` and arrange for
:meth:`CallSession.on_timer` to be called at that wall time (or earlier; an early tick is
harmless). Inputs of one call must be given one at a time, by one writer: the session has no
locks.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson

from app.engine.clock import CallClock
from app.engine.compiled import CompiledScript
from app.engine.index import excused
from app.engine.matcher import SegmentHit, SpeakerStream
from app.engine.messages import (
    ROW_STATE,
    ROW_WIDTH,
    Alert,
    CallEvent,
    CallSetup,
    Event,
    Fragment,
    Input,
    MatchKind,
    PromptState,
    Speaker,
    TranscriptLine,
)
from app.engine.normalize import Normalized, normalize
from app.engine.phases import CallType, Phase, can_move
from app.engine.prompts import PromptMatcher, fill, matcher_for, on_word_boundaries
from app.engine.script import Prompt, Script, Severity
from app.errors import CallStateError

#: Keep this much of the agent's recent speech per open prompt for judging whether it was said
#: (a prompt may be spoken over several segments).
PROMPT_WINDOW = 400
#: Atoms a transcript line takes in ``CallSession.transcript``.
TRANSCRIPT_FIELDS = 6
#: A prompt is taken as said on a partial only when every token is already there.
PARTIAL_DONE = 0.999

#: Phases and call types as module constants: an enum member looked up on its class costs about
#: 80 ns in Python 3.11 (a descriptor call), and the fragment path compares phases several times.
RINGING, GREETING, ANSWERING, CLOSING, RATING, ENDED = Phase  # in their declared order
CONSULT, COMPLAINT, CALLBACK, HARASSMENT = CallType
EMPTY = Normalized("", "", ())


class SegmentState:
    """One open segment of one speaker. A plain class with slots: one is made per segment, and a
    dataclass with default factories costs half as much again to make."""

    __slots__ = (
        "id",
        "speaker",
        "text",
        "norm",
        "start_ms",
        "end_ms",
        "hits",
        "provisional",
        "alerted",
    )

    def __init__(self, id: str, speaker: Speaker, start_ms: int | None = None) -> None:
        self.id = id
        self.speaker = speaker
        self.text = ""
        #: The normalized text, worked out when needed (``CallSession._normalized``): for every
        #: hypothesis of the agent, for the customer's final words only.
        self.norm = EMPTY
        self.start_ms = start_ms
        self.end_ms: int | None = None
        #: The hits in the latest hypothesis.
        self.hits: Sequence[SegmentHit] = ()
        #: Provisional alerts raised on partials of this segment, by hit identity: the alert and
        #: where its cells begin in ``CallSession.alerts``. Made when first needed, as is
        #: ``alerted`` (most segments raise nothing).
        self.provisional: dict[tuple[str, int], tuple[Alert, int]] | None = None
        #: Identities of the hits that raised an alert (or were judged and let go).
        self.alerted: set[tuple[str, int]] | None = None

    def mark(self, identity: tuple[str, int]) -> None:
        """The hit ``identity`` was acted on: later hypotheses of the segment do not repeat it."""
        if self.alerted is None:
            self.alerted = set()
        self.alerted.add(identity)


class CallSession:
    """The engine of one call. See the module docstring for the contract with the shell."""

    def __init__(
        self, compiled: CompiledScript, setup: CallSetup, wall_ms: int | None = None
    ) -> None:
        """``wall_ms`` is the shell's wall clock when the call is created. The setup's ``ring_at``
        is the first explicit time the call sees (PROTOCOL: untimed messages follow the latest
        explicit time), so a call created for a ring in the past runs in its own time, not the
        wall clock's, and its slow-answer deadline is not already behind it."""
        self.compiled = compiled
        self.script: Script = compiled.script
        self.setup = setup
        self.tz = ZoneInfo(setup.timezone)
        self.call_type: CallType = setup.call_type or (
            CALLBACK if setup.direction == "outbound" else CONSULT
        )
        self.phase = RINGING
        self.phases_reached: list[Phase] = [RINGING]
        self.clock = CallClock()
        self.ring_at = setup.ring_at_ms
        if self.ring_at is not None:
            self.clock.place(self.ring_at, self.ring_at if wall_ms is None else wall_ms)
        self.answered_at: int | None = None
        self._anchor: int | None = setup.ring_at_ms
        self._seq = 0
        self._ids = {"p": 0, "al": 0}
        self.prompts: list[PromptState] = []
        #: The agent's recent normalized speech, by id of every prompt made for a phase or as a
        #: follow-up, until it is done.
        self._windows: dict[str, str] = {}
        #: The required prompts not done yet, in order (what each fragment is checked against),
        #: and the required prompt of each rule.
        self._pending: dict[str, PromptState] = {}
        self._by_rule: dict[str, PromptState] = {}
        #: Where the search for each open prompt's tokens stopped on the agent's last partial:
        #: (the speech searched, tokens found in a row, position) by prompt id.
        self._progress: dict[str, tuple[str, int, int]] = {}
        #: The applicable prompt of each rule, for ``_specs_for`` (the call type's prompts).
        self._specs: dict[str, Prompt | None] = {}
        self._specs_for: tuple[Prompt, ...] | None = None
        #: Prompts that could start a later phase (``_jump_ahead``), for (phase, applicable),
        #: and the fewest characters that could be one of them.
        self._jump_cache: (
            tuple[Phase, tuple[Prompt, ...], list[tuple[Prompt, PromptMatcher]], float] | None
        ) = None
        #: Every alert raised, as one flat list of atoms: ``ROW_WIDTH`` cells per alert (its
        #: :meth:`Alert.row`). No object per alert survives for the collector to count (a
        #: surviving allocation, even one it untracks later, brings a full collection nearer).
        self.alerts: list[Any] = []
        #: The final segments, flat: ``TRANSCRIPT_FIELDS`` atoms a line (see ``TranscriptLine``).
        #: No object per line: a tuple per line, even one the collector untracks later, counts
        #: as an allocation that survives, and those are what start full collections.
        self.transcript: list[str | int | None] = []
        self._streams = {
            "agent": SpeakerStream(compiled.agent_index),
            "customer": SpeakerStream(compiled.customer_index),
        }
        self._agent_stream = self._streams["agent"]
        self._open: dict[Speaker, SegmentState] = {}
        self._closed: set[str] = set()
        self._timers: dict[str, int] = {}
        self._slots: dict[str, str] = {}
        self._holiday = False
        self._applicable: tuple[Prompt, ...] = ()
        #: Prompt matchers by id(Prompt spec): filled with this call's slots, built once.
        self._matchers: dict[int, PromptMatcher] = {}
        self.customer_spoke = False
        self._no_response_step = 0
        self._hold_at: int | None = None
        self._situation_last: dict[str, int] = {}
        self._interruptions = 0
        if self.ring_at is not None:
            self._arm_slow_answer()

    # -- the shell's interface -------------------------------------------------------------

    def handle(self, item: Input, wall_ms: int) -> list[Event]:
        """Process one input; return the events to send, in order.

        Raises :class:`app.errors.CallStateError` for an input that does not fit the call (a
        fragment for a closed segment, anything after the hangup); the call is unchanged then.

        A fragment is the input given most often, so its path is written out here in one
        method: a partial of the agent with nothing to say is a few dozen steps and two native
        calls.
        """
        if self.phase is ENDED:
            raise CallStateError("the call has ended", code="call_ended")
        if type(item) is not Fragment:
            assert isinstance(item, CallEvent)
            return self._event(item, wall_ms)
        speaker, segment_id, text, final, start_ms, end_ms, volume = item
        if segment_id in self._closed:
            raise CallStateError(f"segment {segment_id!r} is already final", code="segment_closed")
        out: list[Event] = []
        answered = self.answered_at
        explicit = None
        if answered is not None:
            offset = end_ms if end_ms is not None else start_ms
            if offset is not None:
                explicit = answered + offset
        t = self.clock.place(explicit, wall_ms)
        # Deadlines up to the moment the speech began (see _event), then up to now.
        began = t if start_ms is None or not answered else min(t, answered + start_ms)
        if self._timers:
            self._fire_timers(began, out)
        if self.phase is RINGING:
            self._answer(t, out)
        segment = self._open.get(speaker)
        if segment is not None and segment.id != segment_id:
            # A new segment before the previous one was final: the ASR lost the final.
            self._finalize(segment, t, out)
            segment = None
        if segment is None:
            segment = SegmentState(segment_id, speaker, start_ms)
            self._open[speaker] = segment
            if speaker == "agent" and "customer" in self._open:
                self._check_interrupting(segment, t, out)
        segment.text = text
        if start_ms is not None:
            segment.start_ms = start_ms
        if end_ms is not None:
            segment.end_ms = end_ms
        if speaker == "agent":
            if segment.norm.raw != text:
                segment.norm = normalize(text)
            hits = segment.hits = self._agent_stream.scan_segment(segment.norm, final)
            if hits:
                self._agent_speech(segment, hits, final, t, out)
            if final or self._pending:
                self._check_prompts(segment, final, t, out)
        elif volume is not None:
            self._suggest_on(f"volume_{volume}", t, out)
        if final:
            self._finalize(segment, t, out)
        if began < t and self._timers:
            self._fire_timers(t, out)
        return out

    def _event(self, event: CallEvent, wall_ms: int) -> list[Event]:
        """:meth:`handle` for a call event."""
        out: list[Event] = []
        t = self.clock.place(self._explicit_time(event), wall_ms)
        # Deadlines up to the moment the speech began: a customer who started speaking before
        # the no-response deadline was not silent, even if the final text arrives after it.
        began = self._began(event, t)
        self._fire_timers(began, out)
        self._on_event(event, t, out)
        if began < t:
            self._fire_timers(t, out)
        return out

    def on_timer(self, wall_ms: int) -> list[Event]:
        """Fire every deadline reached by ``wall_ms``; return the events to send."""
        if self.phase is ENDED:
            return []
        out: list[Event] = []
        self._fire_timers(self.clock.place(None, wall_ms), out)
        return out

    def next_deadline(self) -> int | None:
        """Wall time (epoch ms) at which :meth:`on_timer` must be called next, if ever."""
        if not self._timers:
            return None
        return self.clock.to_wall(min(self._timers.values()))

    @property
    def ended(self) -> bool:
        return self.phase is ENDED

    @property
    def call_id(self) -> str:
        return self.setup.call_id

    def listing(self) -> tuple[str, int, str, str, int]:
        """What a list of calls shows of this one: (script id, script version, call type,
        phase, alerts standing)."""
        return (
            self.script.id,
            self.script.version,
            str(self.call_type),
            str(self.phase),
            self.alert_count(),
        )

    def close(self) -> EndedSession:
        """What the call keeps once it has ended (see :class:`EndedSession`)."""
        if not self.ended:
            raise CallStateError("the call has not ended", code="call_in_progress")
        return EndedSession(self)

    # -- time ------------------------------------------------------------------------------

    def _explicit_time(self, item: Input) -> int | None:
        if isinstance(item, CallEvent):
            return item.at_ms
        if self.answered_at is None:
            return None
        offset = item.end_ms if item.end_ms is not None else item.start_ms
        return None if offset is None else self.answered_at + offset

    def _began(self, item: Input, t: int) -> int:
        if isinstance(item, Fragment) and item.start_ms is not None and self.answered_at:
            return min(t, self.answered_at + item.start_ms)
        return t

    def _fire_timers(self, t: int, out: list[Event]) -> None:
        timers = self._timers
        while timers:
            due = min(timers.values())
            if due > t:
                return
            name = next(name for name, at in timers.items() if at == due)  # the first due
            del timers[name]
            self._on_deadline(name, due, out)

    def _on_deadline(self, name: str, t: int, out: list[Event]) -> None:
        timing = self.script.timing
        if name == "slow_answer":
            self._alert(
                out,
                t,
                "behaviour",
                self.script.behaviour.slow_answer.rule,
                self.script.behaviour.slow_answer.severity,
                self.script.behaviour.slow_answer.source,
                detail=f"not answered within {timing.ring_limit_s:g} s of the ring",
            )
        elif name == "greeting_late":
            greeting = self._prompt_by_rule("greeting.open")
            if greeting is not None and greeting.status != "done":
                self._alert(
                    out,
                    t,
                    "script",
                    "greeting.late",
                    "major",
                    greeting.source,
                    detail=f"greeting not said within {timing.greeting_late_s:g} s of the answer",
                )
        elif name.startswith("prompt:"):
            prompt = self._prompt_by_id(name.removeprefix("prompt:"))
            if prompt is not None and prompt.status == "armed":
                self._push(prompt, t, out)
        elif name == "no_response":
            self._no_response(t, out)
        elif name == "hold_apology":
            self._alert(
                out,
                t,
                "behaviour",
                self.script.behaviour.hold_no_apology.rule,
                self.script.behaviour.hold_no_apology.severity,
                self.script.behaviour.hold_no_apology.source,
                detail=f"no apology ({self.script.behaviour.hold_no_apology.apology}) after a hold",
            )

    # -- events ----------------------------------------------------------------------------

    def _emit(self, out: list[Event], kind: str, t: int, body: dict[str, Any]) -> None:
        self._seq += 1
        anchor = self._anchor if self._anchor is not None else t
        out.append(Event(kind, self._seq, t - anchor, body))

    def _next_id(self, prefix: str) -> str:
        self._ids[prefix] += 1
        return f"{prefix}-{self._ids[prefix]}"

    def _alert(
        self,
        out: list[Event],
        t: int,
        category: Literal["forbidden", "script", "behaviour"],
        rule: str,
        severity: Severity,
        source: str,
        *,
        detail: str | None = None,
        provisional: bool = False,
        **fields: Any,
    ) -> Alert:
        alert = Alert(
            id=self._next_id("al"),
            severity=severity,
            category=category,
            rule=rule,
            source=source,
            state="provisional" if provisional else "confirmed",
            at_ms=t - (self._anchor or t),
            detail=detail,
            **fields,
        )
        self.alerts += alert.row()
        self._emit(out, "alert", t, alert.to_body())
        return alert

    # -- call events -----------------------------------------------------------------------

    def _on_event(self, event: CallEvent, t: int, out: list[Event]) -> None:
        if event.name == "ringing":
            if self.ring_at is None and self.phase is RINGING:
                self.ring_at = self._anchor = t
                self._arm_slow_answer()
        elif event.name == "answered":
            if self.phase is RINGING:
                self._answer(t, out)
        elif event.name == "hold":
            self._hold_at = t
            self._timers.pop("hold_apology", None)
            self._suggest_on("hold", t, out)
        elif event.name == "unhold":
            if self._hold_at is not None:
                held = t - self._hold_at
                self._hold_at = None
                if held >= self.script.timing.hold_apology_min_s * 1000:
                    self._suggest_on("unhold", t, out)
                    self._timers["hold_apology"] = t + int(
                        self.script.timing.hold_apology_within_s * 1000
                    )
        elif event.name == "hangup":
            self._hangup(event.by, t, out)
        # transfer: nothing in the norms depends on it yet; the platform's record is enough.

    def _arm_slow_answer(self) -> None:
        if self.ring_at is not None and self.setup.direction == "inbound":
            self._timers["slow_answer"] = self.ring_at + int(self.script.timing.ring_limit_s * 1000)

    def _answer(self, t: int, out: list[Event]) -> None:
        self.answered_at = t
        self._anchor = t
        self._timers.pop("slow_answer", None)
        local = datetime.fromtimestamp(t / 1000, self.tz)
        day = local.strftime("%Y-%m-%d")
        holiday_word = next((h.greeting for h in self.script.holidays if h.falls_on(day)), "")
        self._holiday = bool(holiday_word)
        setup = self.setup
        self._slots = {
            **{name: default.text for name, default in self.script.slot_defaults.items()},
            "work_no": setup.work_no or setup.agent_id or "",
            "holiday": f",{holiday_word}" if holiday_word else "",
        }
        if setup.customer_title:
            self._slots["title"] = setup.customer_title
        if setup.agent_name:
            self._slots["agent_name"] = setup.agent_name
        if self.script.greeting is not None:
            self._slots["greeting"] = self.script.greeting.word_at(local.time())
        self._applicable = self._prompts_for(self.call_type)
        self._move(GREETING, t, out)
        if self._prompt_by_rule("greeting.open") is not None:
            self._timers["greeting_late"] = t + int(self.script.timing.greeting_late_s * 1000)

    def _prompts_for(self, call_type: CallType) -> tuple[Prompt, ...]:
        return self.script.prompts_for(call_type, self.setup.customer_class, self._holiday)

    def _hangup(self, by: Speaker | None, t: int, out: list[Event]) -> None:
        for segment in list(self._open.values()):
            self._finalize(segment, t, out)
        answered = self.answered_at is not None
        hung_up_first = self.script.behaviour.agent_hung_up_first
        if by == "agent" and answered and self.call_type not in hung_up_first.exempt_call_types:
            self._alert(
                out,
                t,
                "behaviour",
                hung_up_first.rule,
                hung_up_first.severity,
                hung_up_first.source,
                detail="the agent hung up before the customer",
            )
        if answered:
            greeting = self._prompt_by_rule("greeting.open")
            if self.phase is GREETING and greeting is not None and greeting.status != "done":
                self._alert(out, t, "script", "greeting.missing", "major", greeting.source)
            for area, rule in (("closing", "closing.missing"), ("rating", "rating.missing")):
                missing = [
                    p
                    for p in self._applicable
                    if p.kind == "required"
                    and p.rule.startswith(area + ".")
                    and not self._said(p.rule)
                ]
                if missing:
                    self._alert(
                        out,
                        t,
                        "script",
                        rule,
                        "major",
                        missing[0].source,
                        detail="hung up before " + ", ".join(p.rule for p in missing),
                    )
        self._timers.clear()
        self._move(ENDED, t, out)
        self._emit(out, "report", t, self.report())

    # -- phases and prompts ----------------------------------------------------------------

    def _move(self, target: Phase, t: int, out: list[Event]) -> None:
        """Move forward to ``target`` (or the next phase the script has), pushing its prompts."""
        if target not in self.script.phases:
            later = [p for p in self.script.phases if can_move(target, p)]
            target = later[0]
        if not can_move(self.phase, target):
            return
        previous = self.phase
        self.phase = target
        self.phases_reached.append(target)
        self._emit(out, "phase", t, {"phase": str(target), "previous": str(previous)})
        if target is not ENDED:
            self._push_phase_prompts(t, out)

    def _push_phase_prompts(self, t: int, out: list[Event]) -> None:
        for prompt in self._applicable:
            if (
                prompt.phase is self.phase
                and prompt.due.at == "phase"
                and self._prompt_by_rule(prompt.rule) is None
            ):
                self._push(self._new_prompt(prompt, t), t, out)

    def _new_prompt(self, prompt: Prompt, due_at: int) -> PromptState:
        state = PromptState(
            id=self._next_id("p"),
            rule=prompt.rule,
            kind=prompt.kind,
            phase=prompt.phase,
            text=fill(prompt.text, self._slots),
            source=prompt.source,
            due_at=due_at,
        )
        self.prompts.append(state)
        self._windows[state.id] = ""
        if state.kind == "required":
            self._pending[state.id] = state
            self._by_rule.setdefault(state.rule, state)
        return state

    def _push(self, state: PromptState, t: int, out: list[Event]) -> None:
        state.status = "due"
        self._timers.pop(f"prompt:{state.id}", None)
        self._emit(out, "prompt", t, state.to_body())

    def _prompt_by_rule(self, rule: str) -> PromptState | None:
        """The (first) required prompt of ``rule`` made in this call."""
        return self._by_rule.get(rule)

    def _prompt_by_id(self, prompt_id: str) -> PromptState | None:
        return next((p for p in self.prompts if p.id == prompt_id), None)

    def _said(self, rule: str) -> bool:
        state = self._prompt_by_rule(rule)
        return state is not None and state.status == "done"

    def _spec(self, state: PromptState) -> Prompt | None:
        """The applicable prompt of the state's rule (looked up once per rule and call type)."""
        if self._specs_for is not self._applicable:
            self._specs = {}
            self._specs_for = self._applicable
        if state.rule not in self._specs:
            self._specs[state.rule] = next(
                (p for p in self._applicable if p.rule == state.rule), None
            )
        return self._specs[state.rule]

    def _matcher(self, prompt: Prompt) -> PromptMatcher:
        matcher = self._matchers.get(id(prompt))
        if matcher is None:
            free = frozenset(self.script.free_slots)
            matcher = self._matchers[id(prompt)] = matcher_for(prompt.text, self._slots, free)
        return matcher

    def _similarity(self, prompt: Prompt, spoken: str) -> float:
        return self._matcher(prompt).similarity(spoken)

    def _check_prompts(self, segment: SegmentState, final: bool, t: int, out: list[Event]) -> None:
        """Mark done every open prompt the agent's speech now contains; follow-ups too."""
        if final and self.phase in (GREETING, ANSWERING):
            self._jump_ahead(segment, t, out)
        if not self._pending:
            return
        threshold = self.script.timing.done_similarity if final else PARTIAL_DONE
        progress = True
        while progress:
            progress = False
            # Prompts made while checking (follow-ups, a new phase's) come after the others,
            # in the next pass, as they did when this walked the list of all prompts.
            for state in list(self._pending.values()):
                if state.status == "done":
                    continue
                spec = self._spec(state)
                if spec is None:
                    continue
                spoken = self._windows[state.id] + segment.norm.text
                matcher = self._matcher(spec)
                total = matcher.total
                if len(spoken) < total * threshold:
                    continue  # too short to say it yet
                if not final and total and threshold > 1 - 1 / total:
                    # On a partial only every token in order will do (one missing loses a
                    # character at least: below the threshold). Partials usually extend the
                    # last one, so the search goes on from where it stopped on it.
                    progress_on = self._progress.get(state.id)
                    done = pos = 0
                    if progress_on is not None and spoken.startswith(progress_on[0]):
                        _, done, pos = progress_on
                    done, pos = matcher.in_order(spoken, done, pos)
                    self._progress[state.id] = (spoken, done, pos)
                    similarity = 1.0 if done == len(matcher.tokens) else 0.0
                else:
                    similarity = matcher.similarity(spoken)
                if similarity >= threshold:
                    self._done(state, spec, similarity, segment.id, t, out)
                    progress = True

    def _jump_ahead(self, segment: SegmentState, t: int, out: list[Event]) -> None:
        """The agent said a later phase's opening phrase (e.g. began the closing): move there."""
        threshold = self.script.timing.done_similarity
        cache = self._jump_cache
        if cache is None or cache[0] is not self.phase or cache[1] is not self._applicable:
            later = [
                (prompt, self._matcher(prompt))
                for prompt in self._applicable
                if prompt.due.at == "phase"
                and can_move(self.phase, prompt.phase)
                and prompt.phase is not ENDED
            ]
            shortest = min((m.total * threshold for _, m in later), default=0.0)
            cache = self._jump_cache = (self.phase, self._applicable, later, shortest)
        spoken = segment.norm.text
        if not cache[2] or len(spoken) < cache[3]:
            return  # too short to be any of them (most finals)
        for prompt, matcher in cache[2]:
            if (
                prompt.rule not in self._by_rule
                and len(spoken) >= matcher.total * threshold
                and matcher.similarity(spoken) >= threshold
            ):
                if self.phase is GREETING:
                    self._greeting_missing(t, out)
                self._move(prompt.phase, t, out)
                return

    def _done(
        self,
        state: PromptState,
        spec: Prompt,
        similarity: float,
        segment: str,
        t: int,
        out: list[Event],
    ) -> None:
        if state.status == "armed":
            self._push(state, t, out)
        state.status = "done"
        state.similarity = round(similarity, 2)
        state.done_segment = segment
        state.done_at = t
        self._windows.pop(state.id, None)
        self._pending.pop(state.id, None)
        self._progress.pop(state.id, None)
        self._emit(
            out,
            "prompt_done",
            t,
            {
                "id": state.id,
                "rule": state.rule,
                "segment": segment,
                "similarity": state.similarity,
            },
        )
        if state.rule == "greeting.open":
            self._timers.pop("greeting_late", None)
            if not self.customer_spoke and self.script.no_response is not None:
                self._no_response_step = 0
                self._timers["no_response"] = t + int(
                    self.script.no_response.steps[0].delay_s * 1000
                )
        for follow in self._applicable:
            if follow.due.after == state.rule and self._prompt_by_rule(follow.rule) is None:
                due = t + int(follow.due.delay_s * 1000)
                follow_state = self._new_prompt(follow, due)
                if due <= t:
                    self._push(follow_state, t, out)
                else:
                    self._timers[f"prompt:{follow_state.id}"] = due
        if spec.then is not None:
            self._move(spec.then, t, out)

    def _greeting_missing(self, t: int, out: list[Event]) -> None:
        greeting = self._prompt_by_rule("greeting.open")
        self._timers.pop("greeting_late", None)
        if greeting is not None and greeting.status != "done":
            self._alert(
                out,
                t,
                "script",
                "greeting.missing",
                "major",
                greeting.source,
                detail="the agent went on without the opening greeting",
            )

    def _no_response(self, t: int, out: list[Event]) -> None:
        spec = self.script.no_response
        if spec is None or self.customer_spoke:
            return
        step = self._no_response_step
        if step < len(spec.steps):
            self._suggest_text(
                "situation.no_response", spec.steps[step].text, spec.steps[step].source, t, out
            )
            self._no_response_step += 1
            delay = (
                spec.steps[step + 1].delay_s if step + 1 < len(spec.steps) else spec.final_delay_s
            )
            self._timers["no_response"] = t + int(delay * 1000)
        else:
            self._set_call_type(spec.call_type, "no customer speech after the greeting", t, out)
            self._move(CLOSING, t, out)

    def _set_call_type(self, call_type: CallType, reason: str, t: int, out: list[Event]) -> None:
        current = self.call_type
        if call_type is current or current is COMPLAINT:
            return  # a complaint stays a complaint
        if current is CALLBACK and call_type is HARASSMENT:
            return
        self.call_type = call_type
        self._emit(out, "call_type", t, {"call_type": str(call_type), "reason": reason})
        if self.answered_at is None:
            return
        self._applicable = self._prompts_for(call_type)
        rules = {p.rule for p in self._applicable}
        for state in list(self.prompts):
            if state.status != "done" and state.kind == "required" and state.rule not in rules:
                self.prompts.remove(state)
                self._windows.pop(state.id, None)
                self._pending.pop(state.id, None)
                self._progress.pop(state.id, None)
                if self._by_rule.get(state.rule) is state:
                    del self._by_rule[state.rule]
                    again = next(
                        (p for p in self.prompts if p.rule == state.rule and p.kind == "required"),
                        None,
                    )
                    if again is not None:
                        self._by_rule[state.rule] = again
                self._timers.pop(f"prompt:{state.id}", None)
            elif state.status != "done" and state.kind == "required":
                spec = self._spec(state)
                if spec is not None:
                    state.text = fill(spec.text, self._slots)
        if self.phase is not RINGING:
            self._push_phase_prompts(t, out)

    # -- suggestions -----------------------------------------------------------------------

    def _suggest(self, index: int, t: int, out: list[Event]) -> None:
        situation = self.script.situations[index]
        if situation.call_types is not None and self.call_type not in situation.call_types:
            return
        if situation.call_type is not None:
            self._set_call_type(situation.call_type, f"situation {situation.rule}", t, out)
        last = self._situation_last.get(situation.rule)
        if last is not None and t - last < situation.cooldown_s * 1000:
            return
        self._suggest_text(situation.rule, situation.text, situation.source, t, out)

    def _suggest_on(self, event: str, t: int, out: list[Event]) -> None:
        index = self.compiled.situation_by_event.get(event)  # type: ignore[call-overload]
        if index is not None:
            self._suggest(index, t, out)

    def _suggest_text(self, rule: str, text: str, source: str, t: int, out: list[Event]) -> None:
        self._situation_last[rule] = t
        state = PromptState(
            id=self._next_id("p"),
            rule=rule,
            kind="suggested",
            phase=self.phase,
            text=fill(text, self._slots),
            source=source,
            due_at=t,
            status="due",
        )
        self.prompts.append(state)
        self._emit(out, "prompt", t, state.to_body())

    # -- fragments -------------------------------------------------------------------------

    def _check_interrupting(self, segment: SegmentState, t: int, out: list[Event]) -> None:
        customer = self._open.get("customer")
        if customer is None or segment.start_ms is None or customer.end_ms is None:
            return
        rule = self.script.behaviour.interrupting
        if segment.start_ms >= customer.end_ms - rule.tolerance_ms:
            return
        self._interruptions += 1
        if self._interruptions >= rule.alert_after:
            self._alert(
                out,
                t,
                "behaviour",
                rule.rule,
                rule.severity,
                rule.source,
                speaker="agent",
                segment=segment.id,
                detail=f"the agent spoke over the customer ({self._interruptions} times)",
            )

    def _agent_speech(
        self,
        segment: SegmentState,
        hits: Sequence[SegmentHit],
        final: bool,
        t: int,
        out: list[Event],
    ) -> None:
        """Alerts from the hits in the agent's current hypothesis (provisional on partials)."""
        for located in hits:
            target = located.hit.target
            identity = located.identity
            if segment.alerted is not None and identity in segment.alerted:
                continue
            if target.kind == "forbidden":
                self._forbidden(segment, located, final, t, out)
            elif target.kind == "rushing_off":
                rushing_off = self.script.behaviour.rushing_off
                if self.call_type in rushing_off.exempt_call_types:
                    continue
                segment.mark(identity)
                self._phrase_alert(
                    segment,
                    located,
                    final,
                    t,
                    out,
                    "behaviour",
                    rushing_off.rule,
                    rushing_off.severity,
                    rushing_off.source,
                    located.hit.pattern,
                )
            elif target.kind == "greeting_word":
                self._greeting_word(segment, located, final, t, out)

    def _forbidden(
        self, segment: SegmentState, located: SegmentHit, final: bool, t: int, out: list[Event]
    ) -> None:
        lexicon = self.compiled.lexicon
        assert lexicon is not None
        entry = lexicon.entries[int(located.hit.target.ref)]
        if self.call_type in entry.exempt_call_types or self.phase in entry.exempt_phases:
            return
        if entry.unless_after and self.compiled.said_before(entry, segment.norm.text, located):
            return
        if entry.boundary and not on_word_boundaries(segment.norm.text, located):
            return
        segment.mark(located.identity)
        category = lexicon.categories[entry.category]
        self._phrase_alert(
            segment,
            located,
            final,
            t,
            out,
            "forbidden",
            sys.intern(f"forbidden.{entry.category}"),  # kept per alert: one string each
            category.severity,
            entry.source,
            entry.phrase,
        )
        if entry.suggest is not None:
            index = self.compiled.situation_by_rule.get(entry.suggest)
            if index is not None:
                self._suggest(index, t, out)

    def _greeting_word(
        self, segment: SegmentState, located: SegmentHit, final: bool, t: int, out: list[Event]
    ) -> None:
        greeting = self._prompt_by_rule("greeting.open")
        expected = self._slots.get("greeting")
        word = located.hit.target.ref
        if (
            greeting is None
            or expected is None
            or word == expected
            or self.phase not in (GREETING, ANSWERING)
            or (greeting.status == "done" and greeting.done_segment != segment.id)
        ):
            return
        segment.mark(located.identity)
        assert self.script.greeting is not None
        self._phrase_alert(
            segment,
            located,
            final,
            t,
            out,
            "script",
            "greeting.wrong_time",
            "major",
            self.script.greeting.source,
            expected,
            detail=f"said {word}; at this time of day the greeting is {expected}",
        )

    def _phrase_alert(
        self,
        segment: SegmentState,
        located: SegmentHit,
        final: bool,
        t: int,
        out: list[Event],
        category: Literal["forbidden", "script", "behaviour"],
        rule: str,
        severity: Severity,
        source: str,
        phrase: str,
        *,
        detail: str | None = None,
    ) -> None:
        start, end = located.span
        hit = located.hit
        match: MatchKind
        if hit.phonetic:
            match = "phonetic"
        elif "{" in hit.pattern:
            match = "pattern"
        else:
            match = "exact" if segment.text[start:end] == hit.pattern else "normalized"
        alert = self._alert(
            out,
            t,
            category,
            rule,
            severity,
            source,
            detail=detail,
            provisional=not final,
            phrase=phrase,
            text=segment.text,
            span=located.span,
            speaker=segment.speaker,
            segment=segment.id,
            match=match,
        )
        if not final:
            if segment.provisional is None:
                segment.provisional = {}
            segment.provisional[located.identity] = (alert, len(self.alerts) - ROW_WIDTH)

    def _finalize(self, segment: SegmentState, t: int, out: list[Event]) -> None:
        """Close a segment: settle its provisional alerts, then act on its final words."""
        speaker = segment.speaker
        other: Speaker = "customer" if speaker == "agent" else "agent"
        norm = segment.norm  # the customer's words are normalized only now, once
        if norm.raw != segment.text:
            norm = segment.norm = normalize(segment.text)
        if speaker == "agent":  # all its hits, not only those judged on partials (a lost final)
            segment.hits = self._agent_stream.scan_segment(norm, True)
        if segment.provisional:
            present = {h.identity for h in segment.hits}
            alerts = self.alerts
            for identity, (alert, index) in segment.provisional.items():
                alert.state = "confirmed" if identity in present else "retracted"
                alerts[index + ROW_STATE] = alert.state
                self._emit(out, "alert_update", t, {"id": alert.id, "state": alert.state})
        del self._open[speaker]
        self._closed.add(segment.id)
        self._streams[speaker].close_segment(norm)
        self._streams[other].break_continuity()
        if segment.text:
            self.transcript += (
                speaker,
                segment.id,
                segment.text,
                segment.start_ms,
                segment.end_ms,
                t - (self._anchor or t),
            )
        if not norm.text:
            return
        windows = self._windows
        for state_id, window in windows.items():  # values change, keys do not
            windows[state_id] = (window + norm.text)[-PROMPT_WINDOW:]
        if speaker == "agent":
            self._agent_final(segment, t, out)
        else:
            self._customer_final(segment, t, out)

    def _agent_final(self, segment: SegmentState, t: int, out: list[Event]) -> None:
        if segment.norm.text in self.compiled.bare_what:
            self._alert(
                out,
                t,
                "behaviour",
                self.script.behaviour.bare_what.rule,
                self.script.behaviour.bare_what.severity,
                self.script.behaviour.bare_what.source,
                phrase=self.script.behaviour.bare_what.phrase,
                text=segment.text,
                span=(0, len(segment.text)),
                speaker="agent",
                segment=segment.id,
                match="pattern",
            )
            index = self.compiled.situation_by_rule.get("situation.repeat")
            if index is not None:
                self._suggest(index, t, out)
        if self.phase is GREETING and self.customer_spoke:
            self._greeting_missing(t, out)
            self._move(ANSWERING, t, out)
        for located in segment.hits:
            target = located.hit.target
            if target.kind == "hold_apology":
                self._timers.pop("hold_apology", None)
            elif target.kind == "situation" and target.speaker == "agent":
                self._suggest(int(target.ref), t, out)

    def _customer_final(self, segment: SegmentState, t: int, out: list[Event]) -> None:
        self.customer_spoke = True
        self._timers.pop("no_response", None)
        text = segment.norm.text
        hits = excused(self.compiled.customer_index.scan(text))
        end_signal = False
        for hit in hits:
            target = hit.target
            if target.speaker != "customer":
                continue
            if target.at_end is not None and hit.end < len(text) - target.at_end:
                continue
            if target.kind == "call_type":
                self._set_call_type(CallType(target.ref), f"customer said “{hit.pattern}”", t, out)
            elif target.kind == "situation":
                self._suggest(int(target.ref), t, out)
            elif target.kind == "end_signal":
                end_signal = True
        if end_signal and self.phase is ANSWERING:
            self._move(CLOSING, t, out)

    def said_rules(self, text: str) -> list[str]:
        """The required phrases of this call that ``text`` says, whatever is due now."""
        spoken = normalize(text).text
        threshold = self.script.timing.done_similarity
        rules: list[str] = []
        for prompt in self._applicable:
            if (
                prompt.kind == "required"
                and prompt.rule not in rules
                and self._similarity(prompt, spoken) >= threshold
            ):
                rules.append(prompt.rule)
        return rules

    # -- views -----------------------------------------------------------------------------

    def checklist(self) -> list[dict[str, Any]]:
        """Every required phrase of this call, with where it stands."""
        items = []
        for prompt in self._applicable:
            if prompt.kind != "required":
                continue
            state = self._prompt_by_rule(prompt.rule)
            if state is not None and state.status == "done":
                status = "done"
            elif self.phase is ENDED:
                status = "missed"
            elif state is not None and state.status == "due":
                status = "due"
            else:
                status = "pending"
            items.append(
                {
                    "rule": prompt.rule,
                    "phase": str(prompt.phase),
                    "text": state.text if state is not None else fill(prompt.text, self._slots),
                    "status": status,
                    "similarity": state.similarity if state is not None else None,
                }
            )
        return items

    def snapshot(self) -> dict[str, Any]:
        """The live state of the call (``GET /v1/calls/{id}``)."""
        return {
            "call_id": self.setup.call_id,
            "script": {"id": self.script.id, "version": self.script.version},
            "call_type": str(self.call_type),
            "phase": str(self.phase),
            "prompts": [
                {**p.to_body(), "status": p.status, "similarity": p.similarity}
                for p in self.prompts
                if p.status != "armed"
            ],
            "checklist": self.checklist(),
            "alerts": [a.to_body() for a in self.standing_alerts()],
        }

    def transcript_lines(self) -> list[TranscriptLine]:
        """The transcript, a tuple a line."""
        flat = self.transcript
        n = TRANSCRIPT_FIELDS
        return [tuple(flat[i : i + n]) for i in range(0, len(flat), n)]  # type: ignore[misc]

    def standing_alerts(self) -> list[Alert]:
        """The alerts not retracted, in the order raised."""
        cells = self.alerts
        return [
            Alert.from_row(tuple(cells[i : i + ROW_WIDTH]))
            for i in range(0, len(cells), ROW_WIDTH)
            if cells[i + ROW_STATE] != "retracted"
        ]

    def alert_count(self) -> int:
        """How many alerts stand (not retracted)."""
        cells = self.alerts
        return sum(1 for i in range(ROW_STATE, len(cells), ROW_WIDTH) if cells[i] != "retracted")

    def report(self) -> dict[str, Any]:
        """The post-call report: score, phases, phrases said / missed / deviated, alerts, words."""
        scoring = self.script.scoring
        timing = self.script.timing
        checklist = self.checklist() if self.answered_at is not None else []
        said = [c for c in checklist if c["status"] == "done"]
        missed = [c["rule"] for c in checklist if c["status"] in ("missed", "pending", "due")]
        deviated = [
            {"rule": c["rule"], "similarity": c["similarity"]}
            for c in said
            if c["similarity"] is not None and c["similarity"] < timing.deviation_below
        ]
        alerts = self.standing_alerts()
        cost = {
            "forbidden": scoring.forbidden,
            "script": scoring.script,
            "behaviour": scoring.behaviour,
        }
        lost = 0.0
        for alert in alerts:
            factor = scoring.phonetic_factor if alert.match == "phonetic" else 1.0
            lost += cost[alert.category] * factor
        score = scoring.start - round(lost)
        score -= scoring.missed * len(missed) + scoring.deviated * len(deviated)
        return {
            "call_id": self.setup.call_id,
            "script": {"id": self.script.id, "version": self.script.version},
            "call_type": str(self.call_type),
            "score": max(0, min(scoring.start, score)),
            "phases": [str(p) for p in self.phases_reached],
            "said": [
                {"rule": c["rule"], "text": c["text"], "similarity": c["similarity"]} for c in said
            ],
            "missed": missed,
            "deviated": deviated,
            "alerts": [a.to_body() for a in alerts],
            "transcript": [
                {
                    "speaker": speaker,
                    "segment": segment,
                    "text": text,
                    "start_ms": start_ms,
                    "end_ms": end_ms,
                }
                for speaker, segment, text, start_ms, end_ms, _ in self.transcript_lines()
            ],
        }


class EndedSession:
    """What an ended call keeps of its :class:`CallSession`: its snapshot and report as encoded
    JSON and its listing, nothing else. An ended call is kept (up to 10,000 of them) for its
    report, its listing and ``resume``; as a session it held dozens of objects the collector
    walks on every full collection (prompt states, streams, matchers, open segments …), as this
    one object and two ``bytes`` it holds one. It answers what the shell asks of a session the
    way the ended session would: every input is refused with ``call_ended``, there is no
    deadline, the views are the session's last ones."""

    __slots__ = ("call_id", "_listing", "_snapshot", "_report")

    def __init__(self, session: CallSession) -> None:
        self.call_id = session.call_id
        self._listing = session.listing()
        self._snapshot = orjson.dumps(session.snapshot())
        self._report = orjson.dumps(session.report())

    @property
    def ended(self) -> bool:
        return True

    def handle(self, item: Input, wall_ms: int) -> list[Event]:
        raise CallStateError("the call has ended", code="call_ended")

    def on_timer(self, wall_ms: int) -> list[Event]:
        return []

    def next_deadline(self) -> int | None:
        return None

    def listing(self) -> tuple[str, int, str, str, int]:
        return self._listing

    def alert_count(self) -> int:
        return self._listing[4]

    def snapshot(self) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads(self._snapshot)
        return result

    def report(self) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads(self._report)
        return result

    def report_json(self) -> bytes:
        """The report, encoded."""
        return self._report
