"""The call session driven with explicit times: no server, no sleeping."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine.behaviour import ANNOUNCED_KEPT
from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, CallSetup, Event, Fragment
from app.engine.normalize import normalize
from app.engine.outbox import KEEP_ALL, Earlier, Windows
from app.engine.phases import CallType
from app.engine.required import SUGGESTED_KEPT
from app.engine.session import CallSession
from app.errors import CallStateError
from tests.engine.conftest import Start, at, compile_with, consult_call, greet, of


class TestInputs:
    """Inputs that do not fit the call, segments without their final, untimed inputs."""

    def test_fragment_for_a_final_segment_is_refused(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        with pytest.raises(CallStateError) as info:
            d.session.handle(Fragment("agent", "a-g", "again", True), d.answer_ms + 3000)
        assert info.value.code == "segment_closed"

    def test_nothing_after_hangup(self, start_call: Start) -> None:
        d = start_call()
        d.event("hangup", d.answer_ms + 1000, "customer")
        with pytest.raises(CallStateError):
            d.session.handle(CallEvent("hold", None), d.answer_ms + 2000)

    def test_a_call_cut_off_ends_with_what_was_said_and_no_hangup_judged(
        self, start_call: Start
    ) -> None:
        """The client never came back: the open segment's words are kept, the report says the
        call was cut off, and neither who hung up nor the closing it never reached is judged."""
        d = start_call()
        greet(d)
        d.say("agent", "a2", "这个不关我的事", 4000, final=False)
        events = d.event("cut_off", d.answer_ms + 60_000)
        assert [e["type"] for e in events] == ["alert_update", "phase", "report"]
        report = events[-1]
        assert report["cut_off"] is True and report["phases"][-1] == "ended"
        assert [a["rule"] for a in report["alerts"]] == ["forbidden.shirk"]
        assert [line["segment"] for line in report["transcript"]][-1] == "a2"
        assert d.session.report()["cut_off"] is True
        with pytest.raises(CallStateError):
            d.session.handle(CallEvent("hold", None), d.answer_ms + 61_000)

    def test_a_report_says_nothing_of_cut_off_for_a_call_hung_up(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        report = d.event("hangup", d.answer_ms + 5000, "customer")[-1]
        assert report["type"] == "report" and "cut_off" not in report

    def test_new_segment_closes_the_open_one(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        d.say("agent", "a2", "不关我的事", 4000, final=False)
        events = d.say("agent", "a3", "您好", 5000, final=False)
        assert [(e["type"], e.get("state")) for e in events] == [("alert_update", "confirmed")]

    def test_customer_words_of_a_segment_without_final(self, start_call: Start) -> None:
        """Customer partials are normalized only when the segment closes: a lost final (a new
        segment) still acts on the last partial's words."""
        d = start_call("2026-11-22 19:30:00")
        greet(d)
        assert d.say("customer", "c1", "我要投诉你们", 4000, final=False) == []
        events = d.say("customer", "c2", "好", 4500, final=False)
        assert [e["call_type"] for e in of(events, "call_type")] == ["complaint"]

    def test_final_with_other_punctuation_than_the_partial(self, start_call: Start) -> None:
        """Same normalized words, other text: not scanned again, located in the final's text."""
        d = start_call()
        greet(d)
        assert len(of(d.say("agent", "a2", "不关我的事", 4000, final=False), "alert")) == 1
        hits = d.session.streams["agent"].scan_segment(normalize("“不关我的事！”"))
        assert [h.span for h in hits] == [(1, 6)]
        events = d.say("agent", "a2", "“不关我的事！”", 4500)
        assert [(e["type"], e.get("state")) for e in events] == [("alert_update", "confirmed")]

    def test_a_revised_partial_that_no_longer_extends_the_last(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        assert d.say("agent", "a2", "我来帮你看一下", 4000, final=False) == []
        (alert,) = of(d.say("agent", "a2", "我来不关我的事", 4200, final=False), "alert")
        assert alert["state"] == "provisional" and alert["span"] == [2, 7]
        events = d.say("agent", "a2", "我来", 4400)  # the final shrinks: the words are gone
        assert [(e["type"], e.get("state")) for e in events] == [("alert_update", "retracted")]

    def test_first_fragment_answers_an_unanswered_call(self, start_call: Start) -> None:
        d = start_call(answered=False)
        events = d.session.handle(Fragment("agent", "a1", "上午好", False), d.answer_ms + 3000)
        assert [e.type for e in events][:2] == ["phase", "prompt"]

    def test_untimed_fragments_follow_the_wall_clock(self, start_call: Start) -> None:
        d = start_call()
        events = d.session.handle(Fragment("agent", "a1", "喂", True), d.answer_ms + 7000)
        assert [e.to_wire()["rule"] for e in events if e.type == "alert"] == ["greeting.late"]


def test_ring_in_the_past_runs_in_call_time(compiled: CompiledScript) -> None:
    # A call set up a day after its ring (a replay, or a platform whose clock is off): the
    # ring time anchors call time, so the slow-answer deadline is 15 s of call time away,
    # not long past, and an untimed answer 5 s later is answered at ring + 5 s.
    ring = at("2026-11-22 16:00:00")
    wall = ring + 86_400_000
    setup = CallSetup(call_id="c-past", script_id="test-line", ring_at_ms=ring)
    session = CallSession(compiled, setup, wall)
    assert session.next_deadline() == wall + 15_000
    assert session.on_timer(wall + 1000) == []
    events = session.handle(CallEvent("answered", None), wall + 5000)
    assert [e.type for e in events] == ["phase", "prompt"]
    assert events[1].body["text"].startswith("下午好")
    assert session.timeline.answered_at == ring + 5000


def test_seq_increases_over_the_call(start_call: Start) -> None:
    d = start_call()
    consult_call(d)
    d.event("hangup", d.answer_ms + 9000, "customer")
    seqs = [e.seq for e in d.events]
    assert seqs == list(range(1, len(seqs) + 1))


def test_at_helper() -> None:
    assert at("2026-11-22 10:03:00") == 1795312980000


def test_a_long_call_remembers_only_its_last_closed_segments(start_call: Start) -> None:
    """Refusing a fragment for a closed segment needs its id: only the last CLOSED_KEPT are
    kept, so a call's memory does not grow with its length."""
    from app.engine.session import CLOSED_KEPT

    d = start_call()
    greet(d)
    for n in range(CLOSED_KEPT + 10):
        d.say("customer", f"c{n}", "嗯好的", 3000 + n)
    with pytest.raises(CallStateError):
        d.say("customer", f"c{CLOSED_KEPT + 9}", "again", 9_000_000)
    # The oldest have been let go: a fragment for one of them is a new segment, not refused.
    d.say("customer", "c0", "好的", 9_000_100)
    assert d.session.transcript.segments[-1] == "c0"


class TestWindows:
    """With windows a call keeps the last lines of its transcript and its last alerts; what
    leaves memory is handed out (lines) or was sent already (alerts), and its report, made
    with that given back, is the one a call that kept everything makes."""

    WINDOWS = Windows(transcript=6, alerts=3)
    HOLD = {
        "rule": "behaviour.hold_unannounced",
        "severity": "major",
        "source": "002 其它",
        "phrases": ["稍等"],
        "within_s": 30,
        "grace_s": 3,
    }

    def call(self, windows: Windows, turns: int) -> tuple[CallSession, list[Event], list[Any]]:
        """A long consult: each turn the customer asks, the agent says a forbidden phrase on a
        partial and takes it back, asks the customer to wait, did not hear (a suggestion), and
        says a forbidden phrase it keeps over the customer; then the customer hangs up."""
        compiled = compile_with(hold_unannounced=self.HOLD)
        begin = at("2026-11-22 10:03:00")
        session = CallSession(
            compiled,
            CallSetup(
                "c-1", compiled.script.id, CallType.CONSULT, work_no="1001", ring_at_ms=begin
            ),
            windows=windows,
        )
        events = session.handle(CallEvent("answered", begin), begin)
        spilled: list[Any] = []
        ms = 0

        def say(speaker: str, segment: str, text: str, final: bool = True, took: int = 600) -> None:
            nonlocal ms
            ms += 700
            fragment = Fragment(speaker, segment, text, final, ms - took, ms)  # type: ignore[arg-type]
            events.extend(session.handle(fragment, begin + ms))
            spilled.extend(session.take_spilled())

        say("agent", "a0", "您好，很高兴为您服务")
        for k in range(turns):
            say("customer", f"c{k}", "我想问一下我的套餐")
            say("agent", f"p{k}", "这个不关我的事", final=False)
            say("agent", f"p{k}", "这个我来帮您查")
            say("agent", f"w{k}", "请您稍等")
            say("agent", f"r{k}", "抱歉我没听清")
            say("customer", f"n{k}", "我想问一下我的套餐")
            say("agent", f"f{k}", "不关我的事", took=1100)  # began while the customer spoke
        events.extend(session.handle(CallEvent("hangup", begin + ms + 500, "customer"), 0))
        return session, events, spilled

    def test_memory_stays_within_the_windows_however_long_the_call(self) -> None:
        sizes = []
        for turns in (700, 1400):
            session, _, _ = self.call(self.WINDOWS, turns)
            sizes.append(
                (
                    len(session.transcript.segments),
                    len(session.outbox.alerts),
                    len(session.prompts.states),
                    len(session.behaviour._announced),
                    len(session.behaviour._turns._counted),
                    len(session._closed),
                )
            )
        assert sizes[0] == sizes[1]
        assert sizes[1][:2] == (6, 3)
        assert sizes[1][2] <= 4 + SUGGESTED_KEPT and sizes[1][3] <= ANNOUNCED_KEPT

    def test_the_report_made_with_what_left_is_the_report_that_kept_everything(self) -> None:
        whole, whole_events, nothing = self.call(KEEP_ALL, 30)
        windowed, events, spilled = self.call(self.WINDOWS, 30)
        assert nothing == [] and whole.left_memory == (0, 0)
        lines, alerts = windowed.left_memory
        assert lines == len(spilled) == len(whole.transcript) - 6 and alerts > 3
        assert [n for n, _ in spilled] == list(range(1, lines + 1))
        # The report waits: every event but it is the same, seqs and all.
        assert windowed.report_pending and whole_events[-1].type == "report"
        assert events == whole_events[:-1]
        # What the shell gives back: the lines it was handed; the alerts as sent, as they stand.
        states = {e.body["id"]: e.body["state"] for e in events if e.type == "alert_update"}
        sent = [e.body for e in events if e.type == "alert"][:alerts]
        earlier = Earlier(
            [line for _, line in spilled],
            [{**body, "state": states.get(body["id"], body["state"])} for body in sent],
        )
        assert any(body["state"] == "retracted" for body in earlier.alerts)
        assert windowed.finish_report(earlier) == [whole_events[-1]]
        assert windowed.report() == whole.report() and not windowed.report_pending
        assert windowed.snapshot() == whole.snapshot()

    def test_a_report_not_waiting_cannot_be_finished(self, compiled: CompiledScript) -> None:
        session = CallSession(
            compiled, CallSetup("c-1", compiled.script.id), 0, windows=self.WINDOWS
        )
        with pytest.raises(CallStateError):
            session.finish_report(Earlier())

    def test_a_short_call_with_windows_reports_at_once(self) -> None:
        session, events, spilled = self.call(Windows(transcript=1000, alerts=1000), 2)
        assert spilled == [] and not session.report_pending and events[-1].type == "report"
