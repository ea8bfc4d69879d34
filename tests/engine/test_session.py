"""The call session driven with explicit times: no server, no sleeping."""

from __future__ import annotations

import pytest

from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, CallSetup, Fragment
from app.engine.normalize import normalize
from app.engine.session import CallSession
from app.errors import CallStateError
from tests.engine.conftest import Start, at, consult_call, greet, of


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
