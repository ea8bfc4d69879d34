"""The behaviour rules driven through a call with explicit times: no server, no sleeping."""

from __future__ import annotations

import pytest

from app.engine.messages import Speaker
from app.engine.phases import CallType
from app.engine.segment import SegmentState
from tests.engine.conftest import Start, compile_with, consult_call, of, start, types


class TestAnswer:
    """The slow answer and the greeting, late or missing."""

    def test_slow_answer(self, start_call: Start) -> None:
        d = start_call(answered=False)
        events = d.event("answered", d.answer_ms + 16000)
        assert [e.get("rule") or e["type"] for e in events][:1] == ["behaviour.slow_answer"]
        assert events[0]["at_ms"] == 15000

    def test_answer_in_time_has_no_alert(self, start_call: Start) -> None:
        d = start_call(answered=False)
        assert "alert" not in types(d.event("answered", d.answer_ms + 14999))

    def test_late_greeting_is_a_timer(self, start_call: Start) -> None:
        d = start_call()
        assert d.session.next_deadline() == d.answer_ms + 5000
        assert d.tick(4999) == []
        (alert,) = d.tick(5000)
        assert alert["rule"] == "greeting.late" and alert["at_ms"] == 5000

    def test_missing_greeting_when_agent_answers_the_customer(self, start_call: Start) -> None:
        d = start_call()
        d.say("customer", "c1", "喂，我想查话费", 1000)
        events = d.say("agent", "a1", "好的我帮您查一下", 3000)
        assert [e["rule"] for e in of(events, "alert")] == ["greeting.missing"]
        assert of(events, "phase")[0]["phase"] == "answering"


class TestSpeech:
    """Holds, interruptions and a bare what."""

    def test_bare_what(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        events = d.say("agent", "a3", "什么？", 8000)
        assert [(e["type"], e["rule"]) for e in events] == [
            ("alert", "behaviour.bare_what"),
            ("prompt", "situation.repeat"),
        ]
        assert d.say("agent", "a4", "什么业务呢", 9000) == []

    def test_hold_without_apology(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        (hold,) = d.event("hold", d.answer_ms + 7000)
        assert hold["rule"] == "situation.hold"
        (unhold,) = d.event("unhold", d.answer_ms + 30000)
        assert unhold["rule"] == "situation.unhold"
        (alert,) = d.tick(40000)
        assert alert["rule"] == "behaviour.hold_no_apology"

    def test_hold_with_apology(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        d.event("hold", d.answer_ms + 7000)
        d.event("unhold", d.answer_ms + 30000)
        d.say("agent", "a3", "对不起，让您久等了", 32000)
        assert d.tick(45000) == []

    def test_hold_apology_in_a_segment_whose_final_was_lost(self, start_call: Start) -> None:
        """A partial judges only what alerts at once; a segment closed by the next one (its final
        lost) is still judged on all its words: the apology counts."""
        d = start_call()
        consult_call(d)
        d.event("hold", d.answer_ms + 7000)
        d.event("unhold", d.answer_ms + 30000)
        d.say("agent", "a3", "对不起，让您久等了", 32000, final=False)
        d.say("agent", "a4", "我帮您查到了", 33000)
        assert d.tick(45000) == []

    def test_interrupting_from_the_second_time(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        d.say("customer", "c2", "我还想问", 9000, final=False, start_ms=8000)
        assert of(d.say("agent", "a3", "好的", 8600, final=False, start_ms=8200), "alert") == []
        d.say("customer", "c2", "我还想问一下流量", 10000)
        d.say("agent", "a3", "好的", 10100)
        d.say("customer", "c3", "那个流量", 12000, final=False, start_ms=11000)
        (alert,) = of(d.say("agent", "a4", "您说", 11600, final=False, start_ms=11200), "alert")
        assert alert["rule"] == "behaviour.interrupting"


class TestHangup:
    """Who hung up first, and the prompts never said."""

    def test_hangup_during_answering_misses_closing_and_rating(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        events = d.event("hangup", d.answer_ms + 9000, "customer")
        assert [e["rule"] for e in of(events, "alert")] == ["closing.missing", "rating.missing"]
        report = of(events, "report")[0]
        assert report["missed"] == ["closing.confirm", "rating.prompt", "closing.farewell"]
        assert report["score"] == 100 - 5 - 5 - 30

    def test_agent_hangs_up_first(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        events = d.event("hangup", d.answer_ms + 9000, "agent")
        assert of(events, "alert")[0]["rule"] == "behaviour.agent_hung_up_first"


def segment(id: str, speaker: Speaker, start_ms: int | None, end_ms: int | None) -> SegmentState:
    state = SegmentState(id, speaker, start_ms)
    state.end_ms = end_ms
    return state


class TestBehaviourRulesAlone:
    """The behaviour rules of a call driven directly, and what the script decides of them."""

    def test_interrupting_counts_past_the_scripts_tolerance(self) -> None:
        session = start(compile_with()).session  # tolerance 300 ms, alerted from the 2nd time
        customer = segment("c-1", "customer", 0, 1000)
        session.behaviour.interrupting(segment("a-1", "agent", 750, None), customer, 1)
        session.behaviour.interrupting(segment("a-2", "agent", 650, None), customer, 2)
        assert of([e.to_wire() for e in session.outbox.take()], "alert") == []
        session.behaviour.interrupting(segment("a-3", "agent", 0, None), customer, 3)
        (alert,) = [e.to_wire() for e in session.outbox.take()]
        assert alert["rule"] == "behaviour.interrupting" and alert["segment"] == "a-3"
        assert alert["detail"] == "the agent spoke over the customer (2 times)"

    def test_interrupting_alerted_from_the_scripts_count(self) -> None:
        session = start(compile_with(interrupting={"alert_after": 1})).session
        customer = segment("c-1", "customer", 0, 1000)
        session.behaviour.interrupting(segment("a-1", "agent", 500, None), customer, 1)
        assert types([e.to_wire() for e in session.outbox.take()]) == ["alert"]

    @pytest.mark.parametrize(("exempt", "alerted"), [(["harassment"], False), ([], True)])
    def test_the_call_types_exempt_from_a_rule_are_the_scripts(
        self, exempt: list[str], alerted: bool
    ) -> None:
        compiled = compile_with(agent_hung_up_first={"exempt_call_types": exempt})
        session = start(compiled, call_type=CallType.HARASSMENT).session
        session.outbox.take()
        session.behaviour.hangup("agent", session.timeline.place(None, 0))
        rules = [e.body["rule"] for e in session.outbox.take() if e.type == "alert"]
        assert ("behaviour.agent_hung_up_first" in rules) is alerted

    def test_the_apology_a_hold_needs_is_named_from_the_script(self) -> None:
        d = start(compile_with(hold_no_apology={"apology": "让您久等了,非常抱歉"}))
        d.event("hold", d.answer_ms + 1000)
        d.event("unhold", d.answer_ms + 7000)
        (alert,) = d.tick(17000)
        assert alert["detail"] == "no apology (让您久等了,非常抱歉) after a hold"
        assert alert["source"] == "002 其它"

    def test_a_short_hold_needs_no_apology(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        d.event("hold", d.answer_ms + 7000)
        assert types(d.event("unhold", d.answer_ms + 11999)) == []  # hold_apology_min_s: 5
        assert d.session.next_deadline() is None

    def test_an_outbound_call_has_no_slow_answer(self, start_call: Start) -> None:
        inbound = start_call(answered=False)
        assert inbound.session.next_deadline() == inbound.answer_ms + 15000
        outbound = start_call(answered=False, call_type=None, direction="outbound")
        assert outbound.session.next_deadline() is None
