"""The call session driven with explicit times: no server, no sleeping."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest

from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, CallSetup, Fragment
from app.engine.normalize import normalize
from app.engine.phases import CallType
from app.engine.session import CallSession
from app.errors import CallStateError
from tests.engine.conftest import Driver, at, types

Start = Callable[..., Driver]

GREETING = {
    "早上好": "早上好,中国移动,很高兴为您服务!",
}


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def greet(d: Driver, end_ms: int = 2000, customer: bool = True) -> list[dict[str, Any]]:
    """The agent greets; the customer answers (unless told not to: an empty call)."""
    word = d.session.prompts.slots["greeting"]
    events = d.say("agent", "a-g", f"{word},中国移动,很高兴为您服务!", end_ms)
    if customer:
        events += d.say("customer", "c-g", "你好", end_ms + 500)
    return events


class TestGreeting:
    @pytest.mark.parametrize(
        ("clock", "word"),
        [
            ("03:59:59", "晚上好"),
            ("04:00:00", "早上好"),
            ("07:59:59", "早上好"),
            ("08:00:00", "上午好"),
            ("11:59:59", "上午好"),
            ("12:00:00", "下午好"),
            ("17:59:59", "下午好"),
            ("18:00:00", "晚上好"),
            ("00:00:00", "晚上好"),
        ],
    )
    def test_time_of_day_word_follows_the_answer_time(
        self, start_call: Start, clock: str, word: str
    ) -> None:
        d = start_call(f"2026-11-22 {clock}")
        (prompt,) = of([e.to_wire() for e in d.events], "prompt")
        assert prompt["text"] == f"{word},中国移动,很高兴为您服务!"
        assert prompt["rule"] == "greeting.open" and prompt["kind"] == "required"

    def test_answer_in_another_time_zone(self, start_call: Start) -> None:
        d = start_call("2026-11-22 10:00:00", timezone="Europe/London")  # 02:00 in London
        assert d.session.prompts.slots["greeting"] == "晚上好"

    def test_greeting_said_moves_to_answering(self, start_call: Start) -> None:
        d = start_call()
        events = d.say("agent", "a1", "嗯，上午好！中国移动，很高兴为你服务", 2000)
        assert types(events) == ["prompt_done", "phase"]
        assert events[0]["similarity"] == 1.0
        assert events[1] == {**events[1], "phase": "answering", "previous": "greeting"}

    def test_greeting_on_a_partial_when_complete(self, start_call: Start) -> None:
        d = start_call()
        assert d.say("agent", "a1", "上午好中国移", 1000, final=False) == []
        events = d.say("agent", "a1", "上午好中国移动很高兴为您服务", 1500, final=False)
        assert types(events) == ["prompt_done", "phase"]
        assert d.say("agent", "a1", "上午好中国移动很高兴为您服务", 2000) == []

    def test_greeting_split_over_two_segments(self, start_call: Start) -> None:
        d = start_call()
        assert d.say("agent", "a1", "上午好", 1000) == []
        assert types(d.say("agent", "a2", "中国移动很高兴为您服务", 2500)) == [
            "prompt_done",
            "phase",
        ]

    def test_wrong_time_of_day_word(self, start_call: Start) -> None:
        d = start_call("2026-11-22 14:30:00")
        events = d.say("agent", "a1", "上午好,中国移动,很高兴为您服务!", 2000)
        (alert,) = of(events, "alert")
        assert alert["rule"] == "greeting.wrong_time" and alert["state"] == "confirmed"
        assert alert["span"] == [0, 3] and alert["phrase"] == "下午好"
        done = of(events, "prompt_done")[0]
        assert done["similarity"] < 1.0  # said, with a deviation

    def test_wrong_word_on_a_partial_is_provisional_then_retracted(self, start_call: Start) -> None:
        d = start_call("2026-11-22 14:30:00")
        (alert,) = of(d.say("agent", "a1", "上午好", 500, final=False), "alert")
        assert alert["state"] == "provisional"
        events = d.say("agent", "a1", "下午好,中国移动,很高兴为您服务!", 2000)
        assert {"type": "alert_update", "id": alert["id"], "state": "retracted"}.items() <= of(
            events, "alert_update"
        )[0].items()

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


class TestForbidden:
    def test_partial_then_confirmed(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        (alert,) = d.say("agent", "a2", "这个真不关我的事", 5000, final=False)
        assert (
            alert["state"] == "provisional"
            and alert["span"] == [3, 8]
            and alert["match"] == "exact"
        )
        assert alert["rule"] == "forbidden.shirk" and alert["phrase"] == "不关我的事!"
        assert d.say("agent", "a2", "这个真不关我的事，您再看看", 5500, final=False) == []
        (update,) = d.say("agent", "a2", "这个真不关我的事，您再看看", 6000)
        assert (
            update["type"] == "alert_update"
            and update["state"] == "confirmed"
            and update["id"] == alert["id"]
        )

    def test_retracted_when_the_asr_revises_the_words_away(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        (alert,) = d.say("agent", "a2", "这个真不关我的事", 5000, final=False)
        (update,) = d.say("agent", "a2", "这个真不关乎我们", 6000)
        assert update == {**update, "id": alert["id"], "state": "retracted"}
        assert d.session.report()["alerts"] == []

    def test_alerts_are_kept_as_rows_the_collector_leaves_alone(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        (kept,) = d.say("agent", "a2", "这个真不关我的事", 5000, final=False)
        d.say("agent", "a2", "这个真不关我的事，您再看看", 6000)
        (dropped,) = d.say("agent", "a3", "这个真不关我的事", 7000, final=False)
        d.say("agent", "a3", "这个真不关乎我们", 8000)
        gc.collect()
        assert [a.state for a in d.session.outbox.alerts] == ["confirmed", "retracted"]
        assert d.session.alert_count() == 1
        (alert,) = d.session.snapshot()["alerts"]
        body = {k: v for k, v in kept.items() if k not in ("type", "seq", "at_ms")}
        assert alert == {**body, "state": "confirmed"} and alert["span"] == [3, 8]
        assert d.session.report()["alerts"] == [alert]

    def test_one_alert_however_many_partials(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        events: list[dict[str, Any]] = []
        for n, text in enumerate(["不关", "不关我的事", "不关我的事啊", "不关我的事啊这个"]):
            events += d.say("agent", "a2", text, 4000 + n * 250, final=False)
        events += d.say("agent", "a2", "不关我的事啊这个", 6000)
        assert types(events) == ["alert", "alert_update"]

    def test_final_text_alerts_confirmed_at_once(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        events = d.say("agent", "a2", "不关我的事！", 5000)
        assert [(e["type"], e.get("state")) for e in events] == [("alert", "confirmed")]

    def test_split_over_two_segments_reported_on_the_later(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        assert d.say("agent", "a2", "这真不关我", 5000) == []
        (alert,) = d.say("agent", "a3", "的事。", 6000)
        assert (
            alert["segment"] == "a3" and alert["span"] == [0, 2] and alert["match"] == "normalized"
        )

    def test_customer_turn_between_breaks_the_split(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        d.say("agent", "a2", "这真不关我", 5000)
        d.say("customer", "c1", "什么", 5500)
        assert d.say("agent", "a3", "的事。", 6000) == []

    def test_customer_saying_it_is_not_an_alert(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        assert of(d.say("customer", "c1", "你说不关我的事，我不知道啊", 5000), "alert") == []

    def test_same_words_twice_are_two_alerts(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        assert types(d.say("agent", "a2", "不关我的事，真不关我的事", 5000)) == ["alert", "alert"]

    def test_allow_phrase(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        assert d.say("agent", "a2", "我不管怎样都会帮您处理好", 5000) == []

    @pytest.mark.parametrize(
        ("text", "alerts"),
        [
            ("这个我不管", 1),
            ("我不管理这个业务", 0),  # 我不管 inside 我/不/管理: not on a word boundary
            ("有意见你去找领导", 1),
            ("如果您有意见可以去找领导", 0),  # unless_after 如果您
            ("您找领导的话也可以去", 0),  # ... and 找领导{0,2}去 needs 去 within two characters
            ("您找领导说去", 1),
        ],
    )
    def test_guards(self, start_call: Start, text: str, alerts: int) -> None:
        d = start_call()
        greet(d)
        assert len(of(d.say("agent", "a2", text, 5000), "alert")) == alerts

    def test_exempt_phase(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        d.say("agent", "a3", "请问我刚才给您的解释您明白吗", 8000)
        assert d.session.timeline.phase == "rating"
        assert of(d.say("agent", "a4", "你去找领导", 9000), "alert") == []

    def test_phonetic_hit_is_marked(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        (alert,) = of(d.say("agent", "a2", "这个我不知到", 5000), "alert")
        assert alert["match"] == "phonetic" and alert["span"] == [2, 6]

    def test_phonetic_hit_grown_over_partials(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        assert of(d.say("agent", "a2", "这个我不", 5000, final=False), "alert") == []
        (alert,) = of(d.say("agent", "a2", "这个我不知到", 5400, final=False), "alert")
        assert alert["match"] == "phonetic" and alert["state"] == "provisional"
        assert d.say("agent", "a2", "这个我不知到啊", 5800, final=False) == []
        (update,) = d.say("agent", "a2", "这个我不知到", 6000)
        assert update == {**update, "type": "alert_update", "state": "confirmed"}

    def test_phonetic_hit_split_over_two_segments(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        assert of(d.say("agent", "a2", "这个我不", 5000), "alert") == []
        (alert,) = of(d.say("agent", "a3", "知到", 5600), "alert")
        assert alert["match"] == "phonetic" and alert["segment"] == "a3"
        assert alert["span"] == [0, 2] and alert["state"] == "confirmed"

    def test_shirk_suggests_the_prescribed_phrase(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        events = d.say("agent", "a2", "这个我不知道", 5000)
        assert types(events) == ["alert", "prompt"]
        assert events[1]["kind"] == "suggested" and events[1]["rule"] == "situation.cannot_answer"


def consult_call(d: Driver) -> None:
    greet(d)
    d.say("customer", "c1", "我想问一下我的套餐", 4000)
    d.say("agent", "a2", "您的套餐是五十八元套餐", 6000)


class TestClosing:
    def test_consultation_closing_sequence(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        events = d.say("customer", "c2", "好的，没有了", 8000)
        assert [e["type"] for e in events] == ["phase", "prompt"]
        assert events[1]["rule"] == "closing.confirm"
        events = d.say("agent", "a3", "请问我刚才给您的解释您明白吗？", 10000)
        assert [(e["type"], e.get("phase")) for e in events] == [
            ("prompt_done", None),
            ("phase", "rating"),
        ]
        assert d.session.next_deadline() == d.answer_ms + 12000
        (rating,) = d.tick(12000)
        assert rating["rule"] == "rating.prompt" and rating["at_ms"] == 12000
        events = d.say("agent", "a4", "请稍候为我的服务进行评价", 14000)
        assert [(e["type"], e.get("rule")) for e in events] == [
            ("prompt_done", "rating.prompt"),
            ("prompt", "closing.farewell"),
        ]
        assert events[1]["text"] == "感谢您使用中国移动,祝您生活愉快,王先生,再见。"
        events = d.say("agent", "a5", "感谢您使用中国移动，祝您工作顺利，王先生，再见", 16000)
        assert types(events) == ["prompt_done"]
        events = d.event("hangup", d.answer_ms + 18000, "customer")
        assert types(events) == ["phase", "report"]
        report = events[1]
        assert report["missed"] == [] and report["alerts"] == [] and report["score"] == 100
        assert report["phases"] == [
            "ringing",
            "greeting",
            "answering",
            "closing",
            "rating",
            "ended",
        ]

    def test_agent_may_begin_the_closing(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        events = d.say("agent", "a3", "请问我刚才给您的解释您明白吗", 8000)
        assert [(e["type"], e.get("rule") or e.get("phase")) for e in events] == [
            ("phase", "closing"),
            ("prompt", "closing.confirm"),
            ("prompt_done", "closing.confirm"),
            ("phase", "rating"),
        ]

    def test_prompt_said_over_growing_partials(self, start_call: Start) -> None:
        """Partials that extend the last one are searched on from where the search stopped; a
        revision starts again. Done on the partial with every word, not before."""
        d = start_call()
        consult_call(d)
        d.say("customer", "c2", "好的，没有了", 8000)
        assert d.say("agent", "a3", "请问我刚才", 9000, final=False) == []
        assert d.say("agent", "a3", "请问我刚才给您的解释", 9200, final=False) == []
        assert d.say("agent", "a3", "请问我刚才给你们", 9400, final=False) == []  # revised
        assert d.say("agent", "a3", "请问我刚才给您的解释您明白", 9600, final=False) == []
        events = d.say("agent", "a3", "请问我刚才给您的解释您明白吗", 9800, final=False)
        assert [(e["type"], e.get("rule") or e.get("phase")) for e in events] == [
            ("prompt_done", "closing.confirm"),
            ("phase", "rating"),
        ]
        assert of(events, "prompt_done")[0]["similarity"] == 1.0

    def test_whole_closing_in_one_breath(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        d.say("customer", "c2", "好的谢谢", 8000)
        events = d.say(
            "agent",
            "a3",
            "请问我刚才给您的解释您明白吗？请稍候为我的服务进行评价。感谢您使用中国移动，王先生再见",
            12000,
        )
        assert [e["rule"] for e in of(events, "prompt_done")] == [
            "closing.confirm",
            "rating.prompt",
            "closing.farewell",
        ]

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


class TestCallTypes:
    def test_callback_opening_and_closing_skip_rating(self, start_call: Start) -> None:
        d = start_call(call_type=None, direction="outbound")
        assert d.session.timeline.call_type is CallType.CALLBACK
        prompt = of([e.to_wire() for e in d.events], "prompt")[0]
        assert prompt["text"] == "这里是中国移动10086,请问您是王先生吗?"
        assert d.session.next_deadline() == d.answer_ms + 5000  # no slow-answer timer outbound
        d.say("agent", "a1", "这里是中国移动10086，请问您是王先生吗", 2000)
        d.say("customer", "c1", "是的，没有了", 3000)
        events = d.say("agent", "a2", "感谢您对中国移动一如既往的支持", 5000)
        assert types(events) == ["prompt_done"]
        report = of(d.event("hangup", d.answer_ms + 7000, "customer"), "report")[0]
        assert report["missed"] == [] and report["call_type"] == "callback"

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

    def test_rushing_off_outside_harassment(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        (alert,) = d.say("agent", "a3", "没事的话您挂了吧", 8000)
        assert alert["rule"] == "behaviour.rushing_off" and alert["category"] == "behaviour"

    def test_rushing_off_allow_phrase(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        assert d.say("agent", "a3", "请您挂机后再拨", 8000) == []


class TestBehaviour:
    def test_slow_answer(self, start_call: Start) -> None:
        d = start_call(answered=False)
        events = d.event("answered", d.answer_ms + 16000)
        assert [e.get("rule") or e["type"] for e in events][:1] == ["behaviour.slow_answer"]
        assert events[0]["at_ms"] == 15000

    def test_ring_in_the_past_runs_in_call_time(self, compiled: CompiledScript) -> None:
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

    def test_answer_in_time_has_no_alert(self, start_call: Start) -> None:
        d = start_call(answered=False)
        assert "alert" not in types(d.event("answered", d.answer_ms + 14999))

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

    def test_a_situation_in_a_segment_whose_final_was_lost(self, start_call: Start) -> None:
        """The agent's own words that call for a suggestion (没听清 → ask to repeat) are acted on
        when the segment closes, not on its partials, and a lost final closes it too."""
        d = start_call()
        consult_call(d)
        assert d.say("agent", "a3", "不好意思我没听清", 9000, final=False) == []
        events = d.say("agent", "a4", "您说的是哪个套餐", 10000)
        assert ("prompt", "situation.repeat") in [(e["type"], e.get("rule")) for e in events]

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

    def test_work_number_suggestion_is_filled_and_not_repeated(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        (prompt,) = d.say("customer", "c2", "你的工号是多少", 8000)
        assert prompt["text"] == "我是1001号客户代表,如服务不周,请您指教"
        assert d.say("customer", "c3", "工号多少", 9000) == []  # cooldown


class TestInputs:
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


def test_seq_increases_over_the_call(start_call: Start) -> None:
    d = start_call()
    consult_call(d)
    d.event("hangup", d.answer_ms + 9000, "customer")
    seqs = [e.seq for e in d.events]
    assert seqs == list(range(1, len(seqs) + 1))


def test_at_helper() -> None:
    assert at("2026-11-22 10:03:00") == 1795312980000


def test_report_weighs_a_hit_by_sound_at_half(start_call: Start) -> None:
    d = start_call()
    consult_call(d)
    d.say("agent", "a3", "这个我不知到", 8000)
    d.say("agent", "a4", "我不知道", 9000)
    report = d.session.report()
    assert [a["match"] for a in report["alerts"]] == ["phonetic", "exact"]
    assert report["score"] == 100 - 30 - round(15 * 0.5 + 15)  # three phrases missed, two hits


def test_the_transcript_is_left_alone_by_the_collector(start_call: Start) -> None:
    """The transcript is a list of exact tuples of atoms: the collector stops tracking each line
    the first time it looks at it, so it has nothing per line to count or walk."""
    d = start_call()
    consult_call(d)
    for k in range(5):
        d.say("agent", f"x{k}", "请问还有什么可以帮您", 9000 + k * 100)
    gc.collect()
    assert len(d.session.transcript) >= 5
    assert not any(gc.is_tracked(line) for line in d.session.transcript)
    assert [line["segment"] for line in d.session.report()["transcript"]][-5:] == [
        f"x{k}" for k in range(5)
    ]
