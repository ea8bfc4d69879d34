"""One call, as a pure state machine.

A :class:`CallSession` takes one input at a time — a fragment, a call event, a timer tick — and
returns the events to send. It never reads a clock and does no I/O: every input comes with the
shell's wall clock (epoch ms) and the session places it in call time (``clock.CallClock``).

After every call the shell must ask :meth:`CallSession.next_deadline` and arrange for
:meth:`CallSession.on_timer` to be called at that wall time (or earlier; an early tick is
harmless). Inputs of one call must be given one at a time, by one writer: the session has no
locks.

The session coordinates; each concern is its own object, sharing the call's timeline (phase,
call type, time, deadlines) and outbox (events, alerts):

- :class:`~app.engine.required.RequiredPrompts`: the required prompts, and every phase move;
- :class:`~app.engine.alerts.PhraseAlerts`: forbidden phrases, 催挂, the wrong greeting word;
- :class:`~app.engine.behaviour.BehaviourRules`: timing, turn-taking, prompts never said;
- :class:`~app.engine.suggestions.Suggestions`: situations, the empty call, call-type changes;
- :class:`~app.engine.views.CallViews`: snapshot, checklist, report, listing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from app.engine.alerts import PhraseAlerts
from app.engine.behaviour import BehaviourRules
from app.engine.compiled import CompiledScript
from app.engine.matcher import SpeakerStream
from app.engine.messages import (
    CallEvent,
    CallSetup,
    Event,
    Fragment,
    Input,
    Listing,
    PromptState,
    Speaker,
    TranscriptLine,
)
from app.engine.normalize import normalize
from app.engine.outbox import (
    DEFAULT_BOUNDS,
    KEEP_ALL,
    NOTHING_EARLIER,
    Earlier,
    FragmentBounds,
    Outbox,
    Windows,
)
from app.engine.phases import CallType, Phase
from app.engine.required import GREETING, RequiredPrompts
from app.engine.segment import SegmentState, Transcript
from app.engine.suggestions import Suggestions
from app.engine.timeline import PROMPT_DEADLINE, Deadline, Timeline
from app.engine.views import CallViews, listing_of
from app.errors import CallStateError

#: How many final segments' ids a call remembers, to refuse a fragment for one of them
#: (``segment_closed``). A long call must not grow with its length: past this, a fragment for a
#: segment closed that long ago starts a new segment instead (at a few segments a minute, this
#: is an hour and more of speech).
CLOSED_KEPT: Final = 1024


class CallSession:
    """The engine of one call. See the module docstring for the contract with the shell."""

    def __init__(
        self,
        compiled: CompiledScript,
        setup: CallSetup,
        wall_ms: int | None = None,
        bounds: FragmentBounds = DEFAULT_BOUNDS,
        windows: Windows = KEEP_ALL,
    ) -> None:
        """``wall_ms`` is the shell's wall clock when the call is created. The setup's ``ring_at``
        is the first explicit time the call sees (PROTOCOL: untimed messages follow the latest
        explicit time), so a call created for a ring in the past runs in its own time, not the
        wall clock's, and its slow-answer deadline is not already behind it. ``bounds``: what
        one fragment may cost, its alerts and its intent check (the shell's settings; offline
        checks take the defaults); ``windows``: how much of its transcript and alerts the call
        keeps in memory (see :meth:`take_spilled` and :meth:`finish_report` for what the shell
        must then do)."""
        script = compiled.script
        self.setup = setup
        self._compiled = compiled
        call_type = setup.call_type or (
            CallType.CALLBACK if setup.direction == "outbound" else CallType.CONSULT
        )
        self.timeline = Timeline(script.phases, call_type, setup.ring_at_ms, wall_ms)
        self.outbox = Outbox(setup.ring_at_ms, bounds.context_chars, windows.alerts)
        self.prompts = RequiredPrompts(script, setup, self.timeline, self.outbox, self._said)
        self.suggestions = Suggestions(
            compiled, self.timeline, self.outbox, self.prompts, bounds.intent_chars
        )
        self.phrases = PhraseAlerts(
            compiled,
            self.timeline,
            self.outbox,
            self.prompts,
            self.suggestions,
            bounds.per_fragment,
        )
        self.behaviour = BehaviourRules(
            script,
            compiled.behaviour_words,
            setup.direction == "inbound",
            setup.work_no,
            self.timeline,
            self.outbox,
            self.prompts,
            self.suggestions,
        )
        self.transcript = Transcript(windows.transcript)
        #: What left memory, given back by the shell once the call has ended.
        self._earlier = NOTHING_EARLIER
        #: The call time of the report when the call ended with part of its record out of
        #: memory: the shell must give that part back first (:meth:`finish_report`).
        self._report_at: int | None = None
        #: The agent's speech, matched across partials and segments, from the agent's first
        #: words on. The customer's needs no stream: only their finals are judged, each
        #: scanned whole (``Suggestions``).
        self._agent_stream: SpeakerStream | None = None
        #: The open segment of each speaker, made when first needed (an idle call has none).
        self._open: dict[Speaker, SegmentState] | None = None
        #: The ids of the segments made final, the last :data:`CLOSED_KEPT` of them (a dict
        #: kept in the order closed): a fragment for one of them is refused. Made at the first.
        self._closed: dict[str, None] | None = None
        if setup.ring_at_ms is not None:
            self.behaviour.ringing(setup.ring_at_ms)

    # -- the shell's interface -------------------------------------------------------------

    def handle(self, item: Input, wall_ms: int) -> list[Event]:
        """Process one input; return the events to send, in order.

        Raises :class:`app.errors.CallStateError` for an input that does not fit the call (a
        fragment for a closed segment, anything after the hangup); the call is unchanged then.

        A fragment is the input given most often, so its path is written out here in one
        method: a partial of the agent with nothing to say takes a few steps and two native
        calls.
        """
        timeline = self.timeline
        if timeline.phase is Phase.ENDED:
            raise CallStateError("the call has ended", code="call_ended")
        if type(item) is not Fragment:
            assert isinstance(item, CallEvent)
            return self._event(item, wall_ms)
        speaker, segment_id, text, final, start_ms, end_ms, volume = item
        closed = self._closed
        if closed is not None and segment_id in closed:
            raise CallStateError(f"segment {segment_id!r} is already final", code="segment_closed")
        answered = timeline.answered_at
        explicit = None
        if answered is not None:
            offset = end_ms if end_ms is not None else start_ms
            if offset is not None:
                explicit = answered + offset
        t = timeline.place(explicit, wall_ms)
        # Deadlines up to the moment the speech began: a customer who started speaking before
        # the no-response deadline was not silent, even if the final text arrives after it.
        # Then, after the fragment, those up to now.
        began = t if start_ms is None or not answered else min(t, answered + start_ms)
        if timeline.deadlines:
            self._fire_deadlines(began)
        if answered is None:  # the first fragment answers an unanswered call
            self._answer(t)
        open_segments = self._open
        if open_segments is None:
            open_segments = self._open = {}
        segment = open_segments.get(speaker)
        if segment is not None and segment.id != segment_id:
            # A new segment before the previous one was final: the ASR lost the final.
            self._finalize(segment, t)
            segment = None
        if segment is None:
            segment = SegmentState(segment_id, speaker, start_ms)
            open_segments[speaker] = segment
        segment.text = text
        if start_ms is not None:
            segment.start_ms = start_ms
        if end_ms is not None:
            segment.end_ms = end_ms
        if speaker == "agent":
            if segment.norm.raw != text:
                segment.norm = normalize(text)
            stream = self._agent_stream
            if stream is None:
                stream = self._agent_stream = SpeakerStream(self._compiled.agent_index)
            hits = segment.hits = stream.scan_segment(segment.norm, final)
            if hits:
                self.phrases.judge(segment, hits, final, t)
            if final or self.prompts.pending:
                self._check_prompts(segment, final, t)
        elif volume is not None:
            self.suggestions.on_event("volume_low" if volume == "low" else "volume_high", t)
        if final:
            self._finalize(segment, t)
        if began < t and timeline.deadlines:
            self._fire_deadlines(t)
        return self.outbox.take()

    def on_timer(self, wall_ms: int) -> list[Event]:
        """Fire every deadline reached by ``wall_ms``; return the events to send."""
        if self.timeline.phase is Phase.ENDED:
            return []
        self._fire_deadlines(self.timeline.place(None, wall_ms))
        return self.outbox.take()

    def next_deadline(self) -> int | None:
        """Wall time (epoch ms) at which :meth:`on_timer` must be called next, if ever."""
        return self.timeline.next_deadline()

    @property
    def ended(self) -> bool:
        return self.timeline.phase is Phase.ENDED

    @property
    def call_id(self) -> str:
        return self.setup.call_id

    @property
    def views(self) -> CallViews:
        """The call's views (snapshot, checklist, report, listing): made when asked, they only
        read the call."""
        return CallViews(
            self.setup,
            self._compiled.script,
            self.timeline,
            self.prompts,
            self.outbox,
            self.transcript,
            self.behaviour.not_judged,
        )

    @property
    def streams(self) -> dict[Speaker, SpeakerStream]:
        """The speech matched across segments, by speaker: the agent's only."""
        return {"agent": self._agent_speech()}

    @property
    def spilled(self) -> Sequence[tuple[int, TranscriptLine]]:
        """The transcript lines that left memory and were not taken yet (with ``windows``):
        when not empty, the shell must :meth:`take_spilled` after the input."""
        return self.transcript.spilled

    def listing(self) -> Listing:
        """What a list of calls shows of this one (asked after every alert: read without making
        the views)."""
        return listing_of(self._compiled.script, self.timeline, self.outbox)

    def snapshot(self, earlier: Earlier | None = None) -> dict[str, Any]:
        """The live state of the call (``GET /v1/calls/{id}``); ``earlier``: the alerts that
        left memory (:attr:`left_memory`), read back."""
        return self.views.snapshot(self._earlier if earlier is None else earlier)

    def report(self) -> dict[str, Any]:
        """The post-call report: score, phases, phrases said / missed / deviated, alerts, words."""
        return self.views.report(self._earlier)

    # -- what leaves memory (with ``windows``) ---------------------------------------------

    def take_spilled(self) -> list[tuple[int, TranscriptLine]]:
        """The transcript lines that left memory since the last take, numbered from 1. The
        shell must store them after every input (alerts need nothing: each was sent as an
        event), to give them back in :meth:`finish_report`."""
        return self.transcript.take_spilled()

    @property
    def left_memory(self) -> tuple[int, int]:
        """How many of the call's first transcript lines and first alerts have left memory:
        what the shell gives back as ``Earlier`` (the alerts with their state now)."""
        return self.transcript.before, self.outbox.alerts_before

    @property
    def report_pending(self) -> bool:
        """The call has ended, and its report waits for what left memory: the shell must
        call :meth:`finish_report`. Nothing else happens to the call in between."""
        return self._report_at is not None

    def finish_report(self, earlier: Earlier) -> list[Event]:
        """The report of a call whose end left it :attr:`report_pending`, made with
        ``earlier`` (what :attr:`left_memory` counts, read back); its event, the call's last,
        to send. The same event, ``seq`` included, as a call that kept everything sends."""
        at = self._report_at
        if at is None:
            raise CallStateError("the call's report is not waiting", code="call_ended")
        self._report_at = None
        self._earlier = earlier
        self.outbox.emit("report", at, self.report())
        return self.outbox.take()

    def alert_count(self) -> int:
        """How many alerts stand (not retracted)."""
        return self.outbox.alert_count()

    def said_rules(self, text: str) -> list[str]:
        """The required phrases of this call that ``text`` says, whatever is due now."""
        return self.prompts.said_rules(text)

    # -- time ------------------------------------------------------------------------------

    def _fire_deadlines(self, t: int) -> None:
        """Act on every deadline reached by call time ``t``, in the order they fall due."""
        while True:
            reached = self.timeline.pop_reached(t)
            if reached is None:
                return
            name, due = reached
            if name.startswith(PROMPT_DEADLINE):
                self.prompts.due(name.removeprefix(PROMPT_DEADLINE), due)
            elif name == Deadline.NO_RESPONSE:
                self.suggestions.no_response(due)
            else:
                speaking = self._open.get("agent") if self._open is not None else None
                if name == Deadline.HOLD_ANNOUNCE and speaking is not None:
                    self.behaviour.agent_speaking(speaking, due)
                self.behaviour.on_deadline(name, due)

    # -- call events -----------------------------------------------------------------------

    def _event(self, event: CallEvent, wall_ms: int) -> list[Event]:
        """:meth:`handle` for a call event."""
        timeline = self.timeline
        t = timeline.place(event.at_ms, wall_ms)
        self._fire_deadlines(t)
        if event.name == "ringing":
            if timeline.ring_at is None and timeline.phase is Phase.RINGING:
                timeline.ring_at = self.outbox.anchor = t
                self.behaviour.ringing(t)
        elif event.name == "answered":
            if timeline.phase is Phase.RINGING:
                self._answer(t)
        elif event.name == "hold":
            self.behaviour.hold(t)
        elif event.name == "unhold":
            self.behaviour.unhold(t)
        elif event.name == "hangup":
            self._hangup(event.by, t)
        elif event.name == "cut_off":
            self._cut_off(t)
        # transfer: nothing in the norms depends on it yet; the platform's record is enough.
        return self.outbox.take()

    def _answer(self, t: int) -> None:
        self.timeline.answered_at = t
        self.outbox.anchor = t
        self.prompts.begin(t)
        self.prompts.move(Phase.GREETING, t)
        self.behaviour.answered(t)

    def _open_segments(self) -> list[SegmentState]:
        return list(self._open.values()) if self._open is not None else []

    def _hangup(self, by: Speaker | None, t: int) -> None:
        for segment in self._open_segments():
            self._finalize(segment, t)
        self.behaviour.hangup(by, t)
        self._end(t)

    def _cut_off(self, t: int) -> None:
        """The call was lost (its client never came back): what was said is kept, but nobody
        hung up, so neither who hung up first nor the closing the call never reached is
        judged; the report says it was cut off."""
        for segment in self._open_segments():
            self._finalize(segment, t)
        self.timeline.cut_off = True
        self._end(t)

    def _end(self, t: int) -> None:
        self.timeline.deadlines.clear()
        self.prompts.move(Phase.ENDED, t)
        if self.left_memory != (0, 0):
            self._report_at = t
        else:
            self.outbox.emit("report", t, self.report())

    # -- speech ----------------------------------------------------------------------------

    def _agent_speech(self) -> SpeakerStream:
        """The agent's stream (made with the agent's first words)."""
        stream = self._agent_stream
        if stream is None:
            stream = self._agent_stream = SpeakerStream(self._compiled.agent_index)
        return stream

    def _check_prompts(self, segment: SegmentState, final: bool, t: int) -> None:
        """Judge the agent's hypothesis against the required prompts; on a final, first
        whether it begins a later phase."""
        prompts = self.prompts
        phase = self.timeline.phase
        if final and (phase is Phase.GREETING or phase is Phase.ANSWERING):
            later = prompts.later_phase_said(segment.norm.text)
            if later is not None:
                if phase is Phase.GREETING:
                    self.behaviour.greeting_missing(t)
                prompts.move(later, t)
        if prompts.pending or final:  # a final may say a prompt not made yet (judged on its own)
            prompts.check(segment.norm.text, segment.id, final, t)

    def _said(self, state: PromptState, said: str, t: int) -> None:
        """The agent said the required prompt ``state`` in ``said`` (normalized speech; called
        by :class:`RequiredPrompts`)."""
        if state.rule == GREETING:
            self.behaviour.greeting_said()
            self.suggestions.greeting_said(t)
        self.behaviour.prompt_said(state.rule, said, t)

    def _finalize(self, segment: SegmentState, t: int) -> None:
        """Close a segment: settle its provisional alerts, then act on its final words."""
        speaker = segment.speaker
        norm = segment.norm  # the customer's words are normalized only now, once
        if norm.raw != segment.text:
            norm = segment.norm = normalize(segment.text)
        if speaker == "agent":  # all its hits, not only those judged on partials (a lost final)
            segment.hits = self._agent_speech().scan_segment(norm, True)
        if segment.provisional:
            self.phrases.settle(segment, t)
        assert self._open is not None  # the segment was open
        del self._open[speaker]
        closed = self._closed
        if closed is None:
            closed = self._closed = {}
        closed[segment.id] = None
        if len(closed) > CLOSED_KEPT:
            del closed[next(iter(closed))]
        if speaker == "agent":
            self._agent_speech().close_segment(norm)
        elif self._agent_stream is not None:
            self._agent_stream.break_continuity()
        if segment.text:
            self.transcript.add(segment)
        if not norm.text:
            if speaker == "customer" and segment.text.strip():
                self.suggestions.customer_hesitated(t)
            return
        self.behaviour.spoken(segment, t)
        self.prompts.heard(norm.text)
        if speaker == "agent":
            self._agent_final(segment, t)
        elif self.suggestions.customer_final(norm, t):
            if self.timeline.phase is Phase.ANSWERING:
                self.prompts.move(Phase.CLOSING, t)

    def _agent_final(self, segment: SegmentState, t: int) -> None:
        if self.behaviour.is_bare_what(segment.norm.text):
            self.behaviour.bare_what(segment, t)
        if self.timeline.phase is Phase.GREETING and self.suggestions.customer_spoke:
            self.behaviour.greeting_missing(t)
            self.prompts.move(Phase.ANSWERING, t)
        for located in segment.hits:
            target = located.hit.target
            if target.kind == "hold_apology":
                self.behaviour.apology_said()
            elif target.kind == "situation":
                self.suggestions.situation(int(target.ref), t)
