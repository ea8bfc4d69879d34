"""The behaviour rules driven through a call with explicit times: no server, no sleeping."""

from __future__ import annotations

import functools
import random

import pytest

from app.engine.behaviour_words import BehaviourWords
from app.engine.compiled import CompiledScript
from app.engine.cues import covers
from app.engine.messages import CallSetup
from app.engine.offline import check_utterance
from app.engine.phases import CallType
from app.engine.session import CallSession
from app.scripts.loader import load_library
from tests.corpus.build import ROOT
from tests.engine.conftest import Driver, Start, compile_with, consult_call, of, start, types


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
        d.say("agent", "a2b", "请您稍等", 6500)
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


class TestHangup:
    """Who hung up first, and the prompts never said."""

    def test_hangup_during_answering_misses_closing_and_rating(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        events = d.event("hangup", d.answer_ms + 9000, "customer")
        assert [e["rule"] for e in of(events, "alert")] == ["closing.missing", "rating.missing"]
        report = of(events, "report")[0]
        assert report["missed"] == ["closing.confirm", "rating.prompt", "closing.farewell"]
        # three phrases missed, each charged once; the alerts announcing them are not charged
        assert report["score"] == 100 - 30

    def test_agent_hangs_up_first(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        events = d.event("hangup", d.answer_ms + 9000, "agent")
        assert of(events, "alert")[0]["rule"] == "behaviour.agent_hung_up_first"


class TestBehaviourRulesAlone:
    """The behaviour rules of a call driven directly, and what the script decides of them."""

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
        d.say("agent", "a2b", "请您稍等", 6500)
        d.event("hold", d.answer_ms + 7000)
        assert types(d.event("unhold", d.answer_ms + 11999)) == []  # hold_apology_min_s: 5
        assert d.session.next_deadline() is None

    def test_an_outbound_call_has_no_slow_answer(self, start_call: Start) -> None:
        inbound = start_call(answered=False)
        assert inbound.session.next_deadline() == inbound.answer_ms + 15000
        outbound = start_call(answered=False, call_type=None, direction="outbound")
        assert outbound.session.next_deadline() is None


#: (speaker, segment, text, start_ms, end_ms, arrives at ms): the finals of two ASR channels,
#: in the order they arrive.
Final = tuple[str, str, str, int | None, int | None, int]

CUSTOMER = ("customer", "c9", "我上个月的话费好像多扣了三十块钱", 10_000, 14_000)


def customer_at(arrive: int, start: int | None = 10_000, end: int | None = 14_000) -> Final:
    return ("customer", "c9", "我上个月的话费好像多扣了三十块钱", start, end, arrive)


def agent_at(
    text: str, start: int | None, end: int | None, arrive: int, segment: str = "a9"
) -> Final:
    return ("agent", segment, text, start, end, arrive)


class TestInterrupting:
    """抢话 from the segments' own times, whatever order two channels deliver them in; from
    the script's count on (here 1), past its tolerance (300 ms), never for back-channel words."""

    @pytest.mark.parametrize(
        ("finals", "alerted"),
        [
            # in order: the customer's final, then the agent's that began inside it
            ([customer_at(14_100), agent_at("我帮您查一下", 12_000, 15_000, 15_100)], ["a9"]),
            # out of order: the agent's final first, the customer's (which it interrupted) later
            ([agent_at("我帮您查一下", 12_000, 15_000, 15_100), customer_at(15_200)], ["a9"]),
            # the agent began within the tolerance of the customer's end: taking the turn
            ([customer_at(14_100), agent_at("我帮您查一下", 13_800, 15_000, 15_100)], []),
            # ... and just past it
            ([customer_at(14_100), agent_at("我帮您查一下", 13_699, 15_000, 15_100)], ["a9"]),
            # after the customer finished
            ([customer_at(14_100), agent_at("我帮您查一下", 14_500, 15_000, 15_100)], []),
            # the agent spoke first and the customer spoke over the agent: not the agent's fault
            ([agent_at("我帮您查一下", 9_000, 15_000, 15_100), customer_at(15_200)], []),
            # back-channel words while the customer speaks: listening, in either order
            ([customer_at(14_100), agent_at("嗯，对对", 11_000, 11_500, 14_200)], []),
            ([agent_at("好的好的", 11_000, 11_500, 11_600), customer_at(14_100)], []),
            ([customer_at(14_100), agent_at("嗯", 11_000, 11_500, 14_200)], []),
            # ... but a back-channel word that goes on is a turn of its own
            ([customer_at(14_100), agent_at("对，我帮您查", 11_000, 12_500, 14_200)], ["a9"]),
            # times missing or broken: nothing to judge
            ([customer_at(14_100), agent_at("我帮您查一下", None, 15_000, 15_100)], []),
            ([customer_at(14_100, end=None), agent_at("我帮您查一下", 12_000, 15_000, 15_100)], []),
            ([customer_at(14_100), agent_at("我帮您查一下", 15_000, 12_000, 15_100)], []),
            # negative and huge times are times like any other
            (
                [
                    customer_at(1_000, start=-2_000, end=900),
                    agent_at("我帮您查一下", -1_000, 1_500, 1_600),
                ],
                ["a9"],
            ),
            (
                [
                    customer_at(10**12 + 5_000, start=10**12, end=10**12 + 4_000),
                    agent_at("我帮您查一下", 10**12 + 1_000, 10**12 + 6_000, 10**12 + 6_100),
                ],
                ["a9"],
            ),
            # two overlapping customer segments (the ASR split one breath): one interruption
            (
                [
                    customer_at(14_100),
                    ("customer", "c10", "而且流量也不对", 12_000, 16_000, 16_100),
                    agent_at("我帮您查一下", 13_000, 17_000, 17_100),
                ],
                ["a9"],
            ),
        ],
    )
    def test_interruptions_by_the_segments_times(
        self, finals: list[Final], alerted: list[str]
    ) -> None:
        d = start(compile_with(interrupting={"alert_after": 1}))
        consult_call(d)
        events = []
        for speaker, seg, text, start_ms, end_ms, arrive in finals:
            events += d.arrive(speaker, seg, text, start_ms, end_ms, arrive)
        alerts = [a for a in of(events, "alert") if a["rule"] == "behaviour.interrupting"]
        assert [a["segment"] for a in alerts] == alerted
        for alert in alerts:
            assert alert["speaker"] == "agent" and alert["severity"] == "major"
            assert alert["source"] == "002 服务禁忌"

    def test_the_alert_comes_when_the_later_final_arrives(self) -> None:
        d = start(compile_with(interrupting={"alert_after": 1}))
        consult_call(d)
        # the customer's segment is still open (a partial): nothing is judged on it yet
        d.arrive("customer", "c9", "我上个月的话费", 10_000, 12_000, 12_100, final=False)
        assert of(d.arrive("agent", "a9", "我帮您查一下", 11_000, 13_000, 13_100), "alert") == []
        events = d.arrive(*CUSTOMER, 14_100)
        (alert,) = of(events, "alert")
        assert alert["segment"] == "a9" and alert["at_ms"] == 14_000
        assert alert["detail"] == (
            "the agent began at 11000 ms while the customer spoke (10000–14000 ms): 1 times"
        )

    def test_alerted_from_the_scripts_count_on(self, start_call: Start) -> None:
        d = start_call()  # alert_after: 2
        consult_call(d)
        d.arrive("agent", "a9", "我帮您查一下", 11_000, 13_000, 13_100)
        assert of(d.arrive(*CUSTOMER, 14_100), "alert") == []
        d.arrive("agent", "a10", "您说的是哪个月", 21_000, 22_000, 22_100)
        events = d.arrive("customer", "c10", "上个月", 20_000, 23_000, 23_100)
        (alert,) = of(events, "alert")
        assert alert["segment"] == "a10" and alert["detail"].endswith("2 times")

    @pytest.mark.parametrize(
        ("timed", "reason"),
        [
            (False, "interruption was not judged: 6 of 6 segments had no start_ms/end_ms"),
            (True, "interruption was judged in part: 1 of 6 segments had no start_ms/end_ms"),
        ],
    )
    def test_a_call_without_times_says_so_in_its_report(self, timed: bool, reason: str) -> None:
        d = start(compile_with(interrupting={"alert_after": 1}))
        lines = [
            ("agent", "a1", "上午好,中国移动,很高兴为您服务!"),
            ("customer", "c1", "你好"),
            ("customer", "c2", "我想问一下我的套餐"),
            ("agent", "a2", "您的套餐是五十八元套餐"),
            ("customer", "c3", "好的谢谢"),
            ("agent", "a3", "请问我刚才给您的解释您明白吗"),
        ]
        for k, (speaker, seg, text) in enumerate(lines):
            times = (k * 2000, k * 2000 + 1500) if timed and k else (None, None)
            d.arrive(speaker, seg, text, times[0], times[1], k * 2000 + 1600)
        report = of(d.event("hangup", d.answer_ms + 20_000, "customer"), "report")[0]
        (not_judged,) = [n for n in report["not_judged"] if n["rule"] == "behaviour.interrupting"]
        assert not_judged["reason"] == reason


CONFIRM = "请问我刚才给您的解释您明白吗"
RATING = "请稍候为我的服务进行评价"


class TestPause:
    """停顿2秒: the rating prompt must begin two seconds (the prompt's ``due.delay_s``) after
    the closing question ended, by the segments' times, less the script's tolerance (200 ms)."""

    @pytest.mark.parametrize(
        ("rating_start", "detail"),
        [
            (11_600, None),
            (11_300, None),  # 1.8 s: within the tolerance
            (
                11_299,
                "rating.prompt began 1799 ms after closing.confirm ended; the norm's pause is 2 s",
            ),
            (
                10_000,
                "rating.prompt began 500 ms after closing.confirm ended; the norm's pause is 2 s",
            ),
            (
                9_000,
                "rating.prompt began -500 ms after closing.confirm ended; the norm's pause is 2 s",
            ),
        ],
    )
    def test_the_pause_by_the_segments_times(
        self, start_call: Start, rating_start: int, detail: str | None
    ) -> None:
        d = start_call()
        consult_call(d)
        d.arrive("agent", "a3", CONFIRM, 8_000, 9_500, 9_600)
        events = d.arrive("agent", "a4", RATING, rating_start, rating_start + 2_000, 14_000)
        alerts = [a for a in of(events, "alert") if a["rule"] == "behaviour.no_pause"]
        assert [a["detail"] for a in alerts] == ([detail] if detail else [])
        if alerts:
            assert alerts[0]["severity"] == "minor" and alerts[0]["segment"] == "a4"
            assert alerts[0]["source"] == "002 结束语 停顿2秒"

    def test_both_in_one_breath(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        events = d.arrive("agent", "a3", CONFIRM + "，" + RATING, 8_000, 12_000, 12_100)
        (alert,) = [a for a in of(events, "alert") if a["rule"] == "behaviour.no_pause"]
        assert alert["detail"] == "rating.prompt said in the same breath as closing.confirm"

    def test_a_follow_up_without_a_delay_needs_no_pause(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        d.arrive("agent", "a3", CONFIRM, 8_000, 9_500, 9_600)
        d.arrive("agent", "a4", RATING, 12_000, 13_000, 13_100)
        events = d.arrive(
            "agent", "a5", "感谢您使用中国移动，祝您生活愉快，王先生，再见", 13_100, 15_000, 15_100
        )
        assert [a for a in of(events, "alert") if a["rule"] == "behaviour.no_pause"] == []

    def test_without_times_the_pause_is_not_judged_and_the_report_says_so(
        self, start_call: Start
    ) -> None:
        d = start_call()
        consult_call(d)
        d.arrive("agent", "a3", CONFIRM, 8_000, None, 9_600)
        events = d.arrive("agent", "a4", RATING, None, None, 10_000)
        assert [a for a in of(events, "alert") if a["rule"] == "behaviour.no_pause"] == []
        (not_judged,) = [
            n for n in d.session.report()["not_judged"] if n["rule"] == "behaviour.no_pause"
        ]
        assert not_judged["reason"] == (
            "1 of 1 pauses were not judged: the segments had no start_ms/end_ms"
        )

    def test_a_script_without_the_rule_judges_no_pause(self) -> None:
        d = start(compile_with(no_pause=None))
        consult_call(d)
        d.arrive("agent", "a3", CONFIRM, 8_000, 9_500, 9_600)
        events = d.arrive("agent", "a4", RATING, 9_600, 11_000, 11_100)
        assert [a for a in of(events, "alert") if a["rule"] == "behaviour.no_pause"] == []


class TestBareWhat:
    """A bare 什么 in its common forms; the compliant forms beside it raise nothing."""

    @pytest.mark.parametrize(
        ("words", "bare"),
        [
            ("什么？", True),
            ("你说什么", True),
            ("您说啥", True),
            ("说什么呢", True),
            ("什么东西", True),
            ("啊？什么？再说一遍", True),
            ("你说什么，重复一遍", True),
            ("你刚才说的什么呀", True),
            ("什么业务", False),
            ("您说的是什么业务", False),
            ("请问您说什么", False),
            ("不好意思您说什么", False),
            ("对不起，请您再重复一遍好吗", False),
            ("为什么", False),
            ("什么时候", False),
            ("再说一遍", False),
            ("", False),
        ],
    )
    def test_bare_what(self, start_call: Start, words: str, bare: bool) -> None:
        d = start_call()
        consult_call(d)
        alerts = of(d.say("agent", "a3", words, 8000), "alert") if words else []
        assert [a["rule"] for a in alerts] == (["behaviour.bare_what"] if bare else [])
        if bare:
            assert alerts[0]["severity"] == "minor" and alerts[0]["match"] == "pattern"


class TestHoldUnannounced:
    """A hold without 请您稍等 first: judged by the segments' times, 3 s (the grace) after the
    hold, so the final of words said as the hold began still counts."""

    @pytest.mark.parametrize(
        ("said", "hold_at", "alerted"),
        [
            # (text, start_ms, end_ms, arrives_ms) of the agent's words before the hold
            ([("请您稍等，我帮您查一下", 8_000, 9_500, 9_600)], 10_000, False),
            ([], 10_000, True),
            ([("好的我看一下", 8_000, 9_500, 9_600)], 10_000, True),
            # asked long before (more than 30 s): not this hold's announcement
            ([("请您稍等", 8_000, 9_000, 9_100)], 45_000, True),
            # its final arrives after the hold event, within the grace: it counts
            ([("请您稍等一下", 9_000, 10_200, 12_000)], 10_000, False),
            # begun after the hold and its grace: too late
            ([("请您稍等", 14_000, 15_000, 15_100)], 10_000, True),
            # no times: placed when it arrived
            ([("您稍等", None, None, 9_000)], 10_000, False),
        ],
    )
    def test_hold_announced(
        self,
        start_call: Start,
        said: list[tuple[str, int | None, int | None, int]],
        hold_at: int,
        alerted: bool,
    ) -> None:
        d = start_call()
        consult_call(d)
        events = []
        late = [s for s in said if s[3] > hold_at]
        for text, begin, end, arrive in [s for s in said if s[3] <= hold_at]:
            events += d.arrive("agent", "a9", text, begin, end, arrive)
        events += d.event("hold", d.answer_ms + hold_at)
        for text, begin, end, arrive in late:
            events += d.arrive("agent", "a9", text, begin, end, arrive)
        wall = d.session.next_deadline()  # the grace, unless a late final already passed it
        if wall is not None:
            events += [e.to_wire() for e in d.session.on_timer(wall)]
        alerts = [a for a in of(events, "alert") if a["rule"] == "behaviour.hold_unannounced"]
        assert len(alerts) == (1 if alerted else 0)
        if alerts:
            assert alerts[0]["at_ms"] == hold_at + 3_000
            assert alerts[0]["source"] == "002 其它 请您稍等"

    def test_words_still_a_partial_when_judged_count(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        d.arrive("agent", "a9", "请您稍等", 9_000, 9_800, 9_900, final=False)
        d.event("hold", d.answer_ms + 10_000)
        assert d.tick(13_000) == []

    def test_a_hangup_before_the_grace_judges_the_hold(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        d.event("hold", d.answer_ms + 10_000)
        events = d.event("hangup", d.answer_ms + 11_000, "customer")
        assert "behaviour.hold_unannounced" in [a["rule"] for a in of(events, "alert")]


FAREWELL = "感谢您使用中国移动，祝您生活愉快，王先生，再见"


def to_the_farewell(d: Driver) -> None:
    consult_call(d)
    d.say("agent", "a3", CONFIRM, 8_000, start_ms=7_000)
    d.say("agent", "a4", RATING, 11_000, start_ms=10_000)
    d.say("agent", "a5", FAREWELL, 13_000, start_ms=11_500)


class TestColleagueTalk:
    """客户尚未挂机便与同事交谈: after the farewell, before the hangup."""

    @pytest.mark.parametrize(
        ("lines", "alerted"),
        [
            ([("agent", "小王你帮我看一下那个单子")], ["a9"]),
            ([("agent", "刚才那个人真是烦死了")], ["a9"]),
            # to the customer, or closing words, or too short
            ([("agent", "您还有别的问题吗")], []),
            ([("agent", "好的，再见")], []),
            ([("agent", "好的谢谢")], []),
            ([("agent", "嗯对")], []),
            # the customer takes the call up again: the agent answers them
            ([("customer", "还有个事，我的流量怎么查"), ("agent", "发短信到这个号码就行")], []),
            # ... but the customer's own goodbye does not
            ([("customer", "好的谢谢"), ("agent", "小王你帮我看一下那个单子")], ["a9"]),
            # once per call
            ([("agent", "小王你帮我看一下那个单子"), ("agent", "这个单子怎么填啊")], ["a9"]),
        ],
    )
    def test_after_the_farewell(
        self, start_call: Start, lines: list[tuple[str, str]], alerted: list[str]
    ) -> None:
        d = start_call()
        to_the_farewell(d)
        events = []
        for k, (speaker, text) in enumerate(lines):
            segment = "a9" if speaker == "agent" and k == 0 else f"{speaker[0]}{10 + k}"
            if speaker == "agent" and k > 0:
                segment = f"a{10 + k}" if lines[0][0] == "agent" else "a9"
            events += d.say(speaker, segment, text, 15_000 + 2_000 * k)
        alerts = [a for a in of(events, "alert") if a["rule"] == "behaviour.colleague_talk"]
        assert [a["segment"] for a in alerts] == alerted

    def test_before_the_farewell_it_is_not_judged(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        events = d.say("agent", "a9", "小王你帮我看一下那个单子", 8_000)
        assert "behaviour.colleague_talk" not in [a["rule"] for a in of(events, "alert")]


@functools.cache
def real_script(script_id: str) -> CompiledScript:
    library = load_library(ROOT / "scripts_data")
    script = library.scripts[script_id]
    return CompiledScript(script, library.lexicon_for(script))


class TestRushingOffInTheScripts:
    """催挂 in the scripts' wordings, and the compliant forms beside them: on every script."""

    @pytest.mark.parametrize("script_id", ["cmcc-10086", "cmcc-12580", "ct-10000"])
    @pytest.mark.parametrize(
        ("words", "rushing"),
        [
            ("那我先挂了啊", True),
            ("没什么事我就挂了", True),
            ("我这边先挂了", True),
            ("您快点说，后面还有好多人在排队", True),
            ("还有很多客户在等着呢", True),
            ("您长话短说", True),
            ("如不咨询，请您挂机", True),
            # beside them, compliant
            ("您挂了以后重启一下手机就好了", False),
            ("我先不挂，等您查好", False),
            ("不好意思让您久等了，刚才排队的人比较多", False),
            ("请您挂机后再拨", False),
            ("请您不要挂机，稍后请对我的服务做出评价", False),
        ],
    )
    def test_rushing_off(self, script_id: str, words: str, rushing: bool) -> None:
        rules = [a["rule"] for a in check_utterance(real_script(script_id), words).alerts]
        assert ("behaviour.rushing_off" in rules) is rushing, rules


class TestOpeningFacts:
    """000 远程服务: the work number the 10000 opening gives is the call's agent's; a wrong or
    missing one is a live alert."""

    @pytest.mark.parametrize(
        ("work_no", "said", "detail"),
        [
            ("1001", "您好，中国电信1001号为您服务，请问有什么可以帮助您", None),
            ("1001", "您好，中国电信幺零零幺号为您服务，请问有什么可以帮助您", None),
            ("0735", "您好，中国电信735号为您服务，请问有什么可以帮助您", None),
            (
                "1001",
                "您好，中国电信1002号为您服务，请问有什么可以帮助您",
                "said work number 1002; the agent's is 1001",
            ),
            (
                "1001",
                "您好，中国电信为您服务，请问有什么可以帮助您",
                "no work number said; the agent's is 1001",
            ),
        ],
    )
    def test_the_work_number_said(self, work_no: str, said: str, detail: str | None) -> None:
        d = start(real_script("ct-10000"), work_no=work_no)
        events = d.say("agent", "a1", said, 3000, start_ms=500)
        assert [e["type"] for e in events][:1] == ["prompt_done"]
        alerts = [a for a in of(events, "alert") if a["rule"] == "greeting.work_no"]
        assert [a["detail"] for a in alerts] == ([detail] if detail else [])
        if alerts:
            assert alerts[0]["category"] == "script" and alerts[0]["severity"] == "major"
            assert alerts[0]["source"].startswith("000 第二节远程服务规范用语 2")

    def test_a_call_without_a_work_number_says_it_was_not_checked(self) -> None:
        d = start(real_script("ct-10000"), work_no=None)
        events = d.say("agent", "a1", "您好，中国电信1001号为您服务，请问有什么可以帮助您", 3000)
        assert [a for a in of(events, "alert") if a["rule"] == "greeting.work_no"] == []
        (not_judged,) = [
            n for n in d.session.report()["not_judged"] if n["rule"] == "greeting.work_no"
        ]
        assert "names no agent work_no" in not_judged["reason"]

    def test_the_callback_lead_is_suggested_after_its_opening(self) -> None:
        d = start(real_script("cmcc-10086"), call_type=CallType.CALLBACK, direction="outbound")
        events = d.say(
            "agent", "a1", "这里是中国移动10086，您现在接听的电话是免费的，请问您是王先生吗", 3000
        )
        assert [(e["type"], e.get("rule"), e.get("kind")) for e in events] == [
            ("prompt_done", "greeting.open", None),
            ("phase", None, None),
            ("prompt", "answering.callback_lead", "suggested"),
        ]
        assert events[2]["text"] == (
            "您好,您所向我们反映的问题,经我公司查实……/您好,刚才对您的解释有误,此业务是……"
        )
        assert events[2]["source"] == "002 规范用语——回访引导语"


def test_the_severity_of_a_prompt_alert_is_the_scripts() -> None:
    from app.engine.lexicon import Lexicon
    from app.engine.script import Script
    from tests.engine.conftest import LEXICON, SCRIPT

    script = Script.model_validate({**SCRIPT, "prompt_alerts": {"greeting.late": "minor"}})
    d = start(CompiledScript(script, Lexicon.model_validate(LEXICON)))
    (alert,) = d.tick(5000)
    assert (alert["rule"], alert["severity"]) == ("greeting.late", "minor")


def test_bare_what_agrees_with_its_reference() -> None:
    """The bare 'what' judged with its shortcuts (a character outside every word it may be made
    of) gives the same answer as the rule written out, on texts made of its words and others."""
    library = load_library(ROOT / "scripts_data")
    compiled = CompiledScript(library.scripts["cmcc-10086"], None)
    call = CallSession(compiled, CallSetup(call_id="c", script_id="cmcc-10086"))
    words = BehaviourWords(compiled.script)

    def reference(text: str) -> bool:
        if text in words.bare_utterances:
            return True
        if words.polite.first(text) is not None:
            return False
        for demand in words.repeat:
            text = text.replace(demand, "")
        return any(word in text for word in words.what) and covers(
            text, words.around, words.around_longest
        )

    pieces = [*words.around, *words.repeat, "请", "对不起", "业务", "为", "时候", "您", "好"]
    rng = random.Random(3)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 5)))
        assert call.behaviour.is_bare_what(text) == reference(text), text
