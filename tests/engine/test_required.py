"""Required prompts driven through a call: due when their phase begins or after the prompt
they follow, done when said, moving the call on."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine.compiled import CompiledScript
from app.engine.messages import CallSetup
from app.engine.normalize import normalize
from app.engine.outbox import Outbox
from app.engine.phases import CallType, Phase
from app.engine.required import RequiredPrompts
from app.engine.timeline import Timeline
from tests.engine.conftest import Start, at, consult_call, of, types


class TestGreeting:
    """The opening greeting: its word for the time of day, said whole or in parts."""

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


class TestClosing:
    """The closing prompts, their follow-ups and the phases they move the call to."""

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


class TestRequiredPromptsAlone:
    """The prompts of a call driven directly, with a timeline and an outbox, no session."""

    def parts(
        self, compiled: CompiledScript, call_type: CallType = CallType.CONSULT, **setup: Any
    ) -> tuple[RequiredPrompts, Timeline, Outbox, list[str]]:
        call = CallSetup(call_id="u-1", script_id="test-line", call_type=call_type, **setup)
        timeline = Timeline(compiled.script.phases, call_type, None, None)
        outbox = Outbox(None)
        said: list[str] = []
        prompts = RequiredPrompts(
            compiled.script, call, timeline, outbox, lambda state, words, t: said.append(state.rule)
        )
        return prompts, timeline, outbox, said

    def test_slots_take_the_scripts_defaults_where_the_call_gives_nothing(
        self, compiled: CompiledScript
    ) -> None:
        prompts, *_ = self.parts(compiled)
        prompts.begin(at("2026-11-22 10:03:00"))
        assert prompts.slots == {
            "wish": "生活愉快",
            "title": "先生/女士",
            "work_no": "",
            "holiday": "",
            "greeting": "上午好",
        }
        given, *_ = self.parts(compiled, customer_title="王先生", agent_id="A7")
        given.begin(at("2026-11-22 19:03:00"))
        assert given.slots["title"] == "王先生" and given.slots["work_no"] == "A7"
        assert given.slots["greeting"] == "晚上好"

    def test_a_new_phase_pushes_its_prompts(self, compiled: CompiledScript) -> None:
        prompts, timeline, outbox, _ = self.parts(compiled)
        t = at("2026-11-22 10:03:00")
        prompts.begin(t)
        prompts.move(Phase.GREETING, t)
        phase, prompt = [e.to_wire() for e in outbox.take()]
        assert phase == {**phase, "type": "phase", "phase": "greeting", "previous": "ringing"}
        assert prompt["rule"] == "greeting.open" and prompt["text"].startswith("上午好")
        assert prompts.pending and timeline.phase is Phase.GREETING

    def test_a_follow_up_waits_for_its_pause(self, compiled: CompiledScript) -> None:
        prompts, timeline, outbox, said = self.parts(compiled)
        t = at("2026-11-22 10:03:00")
        prompts.begin(t)
        prompts.move(Phase.CLOSING, t)
        outbox.take()
        prompts.check(normalize("请问我刚才给您的解释您明白吗").text, "a-1", True, t + 1000)
        assert types([e.to_wire() for e in outbox.take()]) == ["prompt_done", "phase"]
        assert said == ["closing.confirm"] and timeline.phase is Phase.RATING
        ((name, due),) = timeline.deadlines.items()
        assert name.startswith("prompt:") and due == t + 3000
        prompts.due(name.removeprefix("prompt:"), due)
        (rating,) = [e.to_wire() for e in outbox.take()]
        assert rating["rule"] == "rating.prompt" and timeline.deadlines == {}

    def test_on_a_partial_every_word_must_be_there(self, compiled: CompiledScript) -> None:
        prompts, _, outbox, said = self.parts(compiled)
        t = at("2026-11-22 10:03:00")
        prompts.begin(t)
        prompts.move(Phase.CLOSING, t)
        prompts.check(normalize("请问我刚才给您的解释您明白").text, "a-1", False, t)
        assert said == []
        prompts.check(normalize("请问我刚才给您的解释您明白吗").text, "a-1", False, t)
        assert said == ["closing.confirm"]

    def test_a_prompt_said_late_does_not_move_the_call_back(self, compiled: CompiledScript) -> None:
        """The greeting moves the call to answering once said; said after the call has moved
        past answering, it is done, and the call stays where it is (no illegal move)."""
        prompts, timeline, outbox, said = self.parts(compiled)
        t = at("2026-11-22 10:03:00")
        prompts.begin(t)
        prompts.move(Phase.GREETING, t)
        prompts.move(Phase.CLOSING, t)
        outbox.take()
        prompts.check(normalize("上午好,中国移动,很高兴为您服务").text, "a-1", True, t)
        assert said == ["greeting.open"] and timeline.phase is Phase.CLOSING
        assert "phase" not in types([e.to_wire() for e in outbox.take()])

    def test_a_new_call_type_takes_its_prompts(self, compiled: CompiledScript) -> None:
        prompts, timeline, outbox, _ = self.parts(compiled)
        t = at("2026-11-22 10:03:00")
        prompts.begin(t)
        prompts.move(Phase.CLOSING, t)
        timeline.call_type = CallType.COMPLAINT
        prompts.retype(t)
        confirm = prompts.by_rule("closing.confirm")
        assert confirm is not None and confirm.text == "请问我的答复能否解决您的问题?"
        timeline.call_type = CallType.HARASSMENT
        prompts.retype(t)
        assert prompts.by_rule("closing.confirm") is None  # gone: not said, no longer applies
        assert [p.rule for p in prompts.states if p.status == "due"][-1] == "closing.harassment"

    def test_said_rules_judges_every_required_phrase(self, compiled: CompiledScript) -> None:
        prompts, *_ = self.parts(compiled)
        prompts.begin(at("2026-11-22 10:03:00"))
        assert prompts.said_rules("请稍候为我的服务进行评价") == ["rating.prompt"]
        assert prompts.said_rules("好的") == []
