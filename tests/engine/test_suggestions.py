"""Suggestions and call types driven through a call: situations, the empty call, what the
customer's words make of the call."""

from __future__ import annotations

import pytest

from app.engine.normalize import normalize
from app.engine.phases import CallType
from tests.engine.conftest import Start, consult_call, greet, of, types


class TestCallTypes:
    """What the customer's words and silence make of the call."""

    def test_empty_call_becomes_harassment(self, start_call: Start) -> None:
        d = start_call()
        greet(d, customer=False)
        (ask,) = d.tick(5000)
        assert ask["kind"] == "suggested" and ask["text"].startswith("请问您需要咨询移动业务吗")
        events = d.tick(8000)
        assert [
            (e["type"], e.get("call_type") or e.get("rule") or e.get("phase")) for e in events
        ] == [("call_type", "harassment"), ("phase", "closing"), ("prompt", "closing.harassment")]
        events = d.say("agent", "a2", "对不起，如不咨询，请您挂机，谢谢配合", 9000)
        assert types(events) == ["prompt_done"]  # prescribed here: no 催挂 alert
        report = of(d.event("hangup", d.answer_ms + 10000, "agent"), "report")[0]
        assert report["alerts"] == [] and report["call_type"] == "harassment"

    def test_customer_speech_stops_the_empty_call_handling(self, start_call: Start) -> None:
        d = start_call()
        greet(d, customer=False)
        d.say("customer", "c1", "喂你好", 3000)
        assert d.session.next_deadline() is None
        assert d.tick(20000) == []

    def test_nuisance_customer(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        events = d.say("customer", "c1", "美女你陪我聊天吧", 4000)
        assert [e["type"] for e in events] == ["call_type", "prompt"]
        assert events[1]["rule"] == "situation.harassment"

    def test_complaint_inferred_switches_the_closing(self, start_call: Start) -> None:
        d = start_call("2026-11-22 19:30:00")
        greet(d)
        events = d.say("customer", "c1", "我要投诉你们乱扣费", 4000)
        (change,) = of(events, "call_type")
        assert change["call_type"] == "complaint" and "投诉" in change["reason"]
        d.say("agent", "a2", "非常抱歉，我马上为您核实", 6000)
        d.say("customer", "c2", "好的谢谢", 8000)
        (prompt,) = of(d.events and [e.to_wire() for e in d.events], "prompt")[-1:]
        assert prompt["text"] == "请问我的答复能否解决您的问题?"
        d.say("agent", "a3", "请问我的答复能否解决您的问题", 9000)
        (rating,) = d.tick(11000)
        assert rating["text"] == "请您不要挂机,稍后请对我的服务做出评价,好吗?"


class TestSituations:
    """Situational suggestions."""

    def test_a_situation_in_a_segment_whose_final_was_lost(self, start_call: Start) -> None:
        """The agent's own words that call for a suggestion (没听清 → ask to repeat) are acted on
        when the segment closes, not on its partials, and a lost final closes it too."""
        d = start_call()
        consult_call(d)
        assert d.say("agent", "a3", "不好意思我没听清", 9000, final=False) == []
        events = d.say("agent", "a4", "您说的是哪个套餐", 10000)
        assert ("prompt", "situation.repeat") in [(e["type"], e.get("rule")) for e in events]

    def test_work_number_suggestion_is_filled_and_not_repeated(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        (prompt,) = d.say("customer", "c2", "你的工号是多少", 8000)
        assert prompt["text"] == "我是1001号客户代表,如服务不周,请您指教"
        assert d.say("customer", "c3", "工号多少", 9000) == []  # cooldown


class TestSuggestionsAlone:
    """The suggestions of a call driven directly."""

    @pytest.mark.parametrize(
        ("call_type", "target", "changed"),
        [
            (CallType.CONSULT, CallType.HARASSMENT, True),
            (CallType.COMPLAINT, CallType.HARASSMENT, False),
            (CallType.CALLBACK, CallType.HARASSMENT, False),
            (CallType.CONSULT, CallType.CONSULT, False),
        ],
    )
    def test_a_call_type_changes_along_the_table(
        self, start_call: Start, call_type: CallType, target: CallType, changed: bool
    ) -> None:
        session = start_call(call_type=call_type).session
        session.outbox.take()
        session.suggestions.retype(target, "test", session.timeline.place(None, 0))
        events = [e.to_wire() for e in session.outbox.take()]
        assert (session.timeline.call_type is target) is (changed or call_type is target)
        assert bool(of(events, "call_type")) is changed

    def test_a_situation_is_suggested_once_per_cooldown(self, start_call: Start) -> None:
        session = start_call().session
        session.outbox.take()
        t = session.timeline.place(None, 0)
        for later_s in (0, 29, 30):
            session.suggestions.by_rule("situation.work_no", t + later_s * 1000)
        prompts = [e.to_wire() for e in session.outbox.take()]
        assert [p["at_ms"] - prompts[0]["at_ms"] for p in prompts] == [0, 30_000]

    def test_a_rule_the_script_has_no_situation_for_suggests_nothing(
        self, start_call: Start
    ) -> None:
        session = start_call().session
        session.outbox.take()
        session.suggestions.by_rule("situation.password", session.timeline.place(None, 0))
        assert session.outbox.take() == []

    @pytest.mark.parametrize(
        ("words", "ends"),
        [("好的谢谢", True), ("嗯没有了", True), ("好的谢谢你帮我查一下流量", False)],
    )
    def test_an_end_signal_must_close_the_words(
        self, start_call: Start, words: str, ends: bool
    ) -> None:
        session = start_call().session
        t = session.timeline.place(None, 0)
        assert session.suggestions.customer_final(normalize(words), t) is ends
        assert session.suggestions.customer_spoke
