"""Alerts on the agent's words, driven through a call: forbidden phrases, 催挂, the wrong
greeting word; provisional on partials, confirmed or retracted by the final."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine.compiled import CompiledScript
from app.engine.index import Hit
from app.engine.lexicon import Lexicon
from app.engine.matcher import SegmentHit
from app.engine.messages import CallEvent, CallSetup, Fragment
from app.engine.normalize import normalize
from app.engine.outbox import MAX_ALERTS_PER_FRAGMENT, FragmentBounds
from app.engine.phases import CallType
from app.engine.script import Script
from app.engine.segment import SegmentState
from app.engine.session import CallSession
from tests.engine.conftest import (
    SCRIPT,
    Start,
    compile_with,
    consult_call,
    greet,
    of,
    start,
    types,
)
from tests.engine.test_index import SHIRK


class TestForbidden:
    """Forbidden phrases of the lexicon, provisional on partials, settled by the final."""

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

    def test_a_retracted_alert_is_kept_but_does_not_stand(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        (kept,) = d.say("agent", "a2", "这个真不关我的事", 5000, final=False)
        d.say("agent", "a2", "这个真不关我的事，您再看看", 6000)
        (dropped,) = d.say("agent", "a3", "这个真不关我的事", 7000, final=False)
        d.say("agent", "a3", "这个真不关乎我们", 8000)
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


class TestGreetingWord:
    """A time-of-day greeting word that is not the one for the time of the answer."""

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


class TestRushingOff:
    """催挂 phrases, outside the nuisance calls where the norm prescribes them."""

    def test_rushing_off_outside_harassment(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        (alert,) = d.say("agent", "a3", "没事的话您挂了吧", 8000)
        assert alert["rule"] == "behaviour.rushing_off" and alert["category"] == "behaviour"

    def test_rushing_off_allow_phrase(self, start_call: Start) -> None:
        d = start_call()
        consult_call(d)
        assert d.say("agent", "a3", "请您挂机后再拨", 8000) == []


#: One fragment of a forbidden phrase said over and over, as long as a fragment may be.
REPEATED = ("不关我的事" * 820)[:4096]


class TestWhatAFragmentsAlertsCarry:
    """An alert carries its match and a bounded window of its segment, not the whole segment;
    one hypothesis raises at most ``per_fragment`` new alerts (``FragmentBounds``)."""

    def test_an_alert_carries_its_match_and_the_words_around_it(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        text = "前面的话" * 20 + "这个真不关我的事" + "后面的话" * 20
        (alert,) = d.say("agent", "a2", text, 5000)
        first, end = alert["span"]
        assert text[first:end] == "不关我的事"  # the span counts in the segment, as sent
        assert alert["text_from"] == first - 40
        assert alert["text"] == text[first - 40 : end + 40]
        begins = alert["text_from"]
        assert alert["text"][first - begins : end - begins] == "不关我的事"

    @pytest.mark.parametrize(
        "text",
        ["这个真不关我的事", "这个真不关我的事" + "后面的话" * 20, "前面" * 20 + "不关我的事"],
    )
    def test_within_reach_of_the_start_the_window_begins_there(
        self, start_call: Start, text: str
    ) -> None:
        d = start_call()
        greet(d)
        (alert,) = d.say("agent", "a2", text, 5000)
        first, end = alert["span"]
        assert "text_from" not in alert  # the text begins where the segment does
        assert alert["text"] == text[: end + 40] and alert["text"][first:end] == "不关我的事"

    def test_a_fragment_of_one_phrase_over_and_over_raises_a_few_small_alerts(
        self, start_call: Start
    ) -> None:
        d = start_call()
        greet(d)
        partial = of(d.say("agent", "a2", REPEATED, 5000, final=False), "alert")
        assert len(partial) == MAX_ALERTS_PER_FRAGMENT == 16
        assert all(len(a["text"]) <= 40 + 5 + 40 for a in partial)
        # The next hypothesis raises the next ones; the final confirms every one raised and
        # raises as many again.
        later = of(d.say("agent", "a2", REPEATED, 5500, final=False), "alert")
        assert len(later) == 16 and not {a["span"][0] for a in later} & {
            a["span"][0] for a in partial
        }
        final = d.say("agent", "a2", REPEATED, 6000)
        assert len(of(final, "alert")) == 16
        assert {u["state"] for u in of(final, "alert_update")} == {"confirmed"}
        assert len(of(final, "alert_update")) == 32
        # The call goes on as ever.
        (alert,) = of(d.say("agent", "a3", "这个真不关我的事", 7000), "alert")
        assert alert["text"] == "这个真不关我的事" and alert["segment"] == "a3"

    def test_the_bounds_are_the_sessions(self, compiled: CompiledScript) -> None:
        session = CallSession(
            compiled,
            CallSetup(call_id="b-1", script_id="test-line", call_type=CallType.CONSULT),
            bounds=FragmentBounds(context_chars=3, per_fragment=2),
        )
        session.handle(CallEvent("answered", 1_000), 1_000)
        session.handle(Fragment("customer", "c-1", "你好", True), 1_500)
        events = session.handle(Fragment("agent", "a-1", "好的" + REPEATED, True), 2_000)
        alerts = [e.body for e in events if e.type == "alert" and e.body["category"] == "forbidden"]
        # 好的不关我的事不关我的事…: three characters either side, two alerts.
        assert [(a["text"], a["span"], a.get("text_from")) for a in alerts] == [
            ("好的不关我的事不关我", [2, 7], None),
            ("我的事不关我的事不关我", [7, 12], 4),
        ]


class TestPhraseAlertsAlone:
    """The phrase alerts of a call driven directly, and what the script decides of them."""

    def test_settle_confirms_what_is_still_said_and_retracts_the_rest(
        self, compiled: CompiledScript
    ) -> None:
        session = CallSession(compiled, CallSetup(call_id="u-1", script_id="test-line"))
        outbox = session.outbox
        said = outbox.alert(1, "forbidden", "forbidden.shirk", "critical", "002", provisional=True)
        revised = outbox.alert(
            1, "forbidden", "forbidden.rude", "critical", "002", provisional=True
        )
        outbox.take()
        segment = SegmentState("a-1", "agent")
        segment.provisional = {("forbidden:0", 0): said, ("forbidden:2", 0): revised}
        norm = normalize("不关我的事")
        segment.hits = [SegmentHit(Hit(0, 5, "不关我的事", SHIRK), 0, 0, 5, norm)]
        session.phrases.settle(segment, 2)
        assert [(e.body["id"], e.body["state"]) for e in outbox.take()] == [
            ("al-1", "confirmed"),
            ("al-2", "retracted"),
        ]

    def test_the_rule_severity_and_source_of_rushing_off_are_the_scripts(self) -> None:
        changed = {"rule": "behaviour.hurrying", "severity": "minor", "source": "002 催挂"}
        d = start(compile_with(rushing_off=changed))
        consult_call(d)
        (alert,) = d.say("agent", "a3", "没事的话您挂了吧", 8000)
        assert (alert["rule"], alert["severity"], alert["source"]) == (
            "behaviour.hurrying",
            "minor",
            "002 催挂",
        )

    @pytest.mark.parametrize(("exempt", "alerts"), [(["harassment"], 0), ([], 1)])
    def test_the_call_types_exempt_from_rushing_off_are_the_scripts(
        self, exempt: list[str], alerts: int
    ) -> None:
        compiled = compile_with(rushing_off={"exempt_call_types": exempt})
        d = start(compiled, call_type=CallType.HARASSMENT)
        greet(d)
        assert len(of(d.say("agent", "a3", "请您挂机", 8000), "alert")) == alerts


#: A company's own list, as one would write it: '/' alternatives, curt replies forbidden only
#: on their own, a phrase an offer to help softens, phrases overlapping the norms' own.
COMPANY: dict[str, Any] = {
    "id": "acme",
    "name": "ACME 客服忌语",
    "categories": {
        "curt": {"name": "生硬", "severity": "major"},
        "shirk": {"name": "推诿", "severity": "critical"},
    },
    "entries": [
        {
            "phrase": "不行/不可以/办不了",
            "category": "curt",
            "source": "ACME 忌语表 1",
            "whole_utterance": True,
        },
        {
            "phrase": "不知道/不清楚",
            "category": "curt",
            "source": "ACME 忌语表 2",
            "whole_utterance": True,
        },
        {
            "phrase": "我不知道",
            "category": "shirk",
            "source": "ACME 忌语表 3",
            "softened_by": ["{我,我们}{帮你,给你}{查,问}", "帮你{查,问}一下"],
            "suggest": "situation.cannot_answer",
        },
        {
            "phrase": "我不知道怎么办",
            "category": "shirk",
            "source": "ACME 忌语表 4",
            "reworded": False,
        },
        {"phrase": "烦死了", "category": "curt", "source": "ACME 忌语表 5"},
    ],
}


@pytest.fixture(scope="module")
def company() -> CompiledScript:
    return CompiledScript(Script.model_validate(SCRIPT), Lexicon.model_validate(COMPANY))


def _alerts(compiled: CompiledScript, text: str) -> list[dict[str, Any]]:
    d = start(compiled)
    greet(d)
    return of(d.say("agent", "a2", text, 5000), "alert")


class TestWholeUtterance:
    """A curt reply forbidden only on its own: not inside an ordinary sentence."""

    @pytest.mark.parametrize(
        "text",
        [
            "不行。",
            "嗯，不行吧！",
            "不行，不行",
            "办不了",
            "那个……不清楚啊",
            "不 知 道",
            "不可以呢",
        ],
    )
    def test_on_its_own(self, company: CompiledScript, text: str) -> None:
        (alert,) = _alerts(company, text)
        assert alert["rule"] == "forbidden.curt" and alert["severity"] == "major"

    @pytest.mark.parametrize(
        "text",
        [
            "不行的话我帮您换一个套餐",
            "这个不行，我帮您看看别的",
            "这个业务线上办不了，需要去营业厅",
            "您不清楚的地方随时问我",
            "不可以用别人的身份证办理",
            "您知道不知道您的服务密码",
        ],
    )
    def test_quiet_inside_a_sentence(self, company: CompiledScript, text: str) -> None:
        assert _alerts(company, text) == []

    def test_judged_on_the_final(self, company: CompiledScript) -> None:
        d = start(company)
        greet(d)
        assert d.say("agent", "a2", "不行", 5000, final=False) == []
        assert d.say("agent", "a2", "不行的话", 5300, final=False) == []
        assert of(d.say("agent", "a2", "不行的话我帮您换一个", 5600), "alert") == []
        (alert,) = of(d.say("agent", "a3", "不行", 6000), "alert")
        assert alert["state"] == "confirmed"

    def test_not_across_the_join_with_the_segment_before(self, company: CompiledScript) -> None:
        d = start(company)
        greet(d)
        d.say("agent", "a2", "这个套餐办", 5000)
        assert of(d.say("agent", "a3", "不了", 5500), "alert") == []


class TestSoftened:
    """004 forbids saying 我不知道 bluntly: followed by an offer to find out, it is a lesser
    finding with the suggestion."""

    def test_an_offer_after_it_softens_it(self, company: CompiledScript) -> None:
        d = start(company)
        greet(d)
        events = d.say("agent", "a2", "我不知道，我帮您查一下", 5000)
        (alert,) = of(events, "alert")
        assert alert["severity"] == "minor" and alert["rule"] == "forbidden.shirk"
        assert "softened" in alert["detail"]
        assert [p["rule"] for p in of(events, "prompt")] == ["situation.cannot_answer"]

    def test_said_bluntly_it_is_critical(self, company: CompiledScript) -> None:
        (alert,) = _alerts(company, "我不知道。")
        assert alert["severity"] == "critical" and "detail" not in alert

    def test_an_offer_said_long_after_does_not_soften(self, company: CompiledScript) -> None:
        (alert,) = _alerts(company, "我不知道，这个您得去营业厅，他们能帮您查")
        assert alert["severity"] == "critical"

    def test_a_partial_alerts_at_once_and_the_final_softens_it(
        self, company: CompiledScript
    ) -> None:
        """The alert is instant; the offer that follows, heard by the final, makes the
        critical alert retracted and raised again as the lesser finding."""
        d = start(company)
        greet(d)
        events = d.say("agent", "a2", "我不知道", 5000, final=False)
        (critical,) = of(events, "alert")
        assert critical["severity"] == "critical" and critical["state"] == "provisional"
        assert len(of(events, "prompt")) == 1  # the suggestion, once
        final = d.say("agent", "a2", "我不知道，我帮您查一下", 6000)
        assert types(final) == ["alert_update", "alert"]
        assert final[0] == {**final[0], "id": critical["id"], "state": "retracted"}
        assert final[1]["severity"] == "minor" and final[1]["state"] == "confirmed"
        assert [a["severity"] for a in d.session.report()["alerts"]] == ["minor"]

    def test_an_offer_heard_with_it_softens_the_partial(self, company: CompiledScript) -> None:
        d = start(company)
        greet(d)
        (alert,) = of(d.say("agent", "a2", "我不知道我帮您查", 5000, final=False), "alert")
        assert alert["severity"] == "minor" and alert["state"] == "provisional"
        (update,) = d.say("agent", "a2", "我不知道我帮您查一下", 6000)
        assert update == {**update, "type": "alert_update", "state": "confirmed"}


class TestOneAlertPerStretchOfSpeech:
    """Entries that overlap on the same words raise one alert: the most specific."""

    def test_the_entry_naming_more_of_the_words_stands(self, company: CompiledScript) -> None:
        (alert,) = _alerts(company, "我不知道怎么办")
        assert alert["phrase"] == "我不知道怎么办"

    def test_superseded_provisional_alert_is_retracted(self) -> None:
        lexicon = {
            **COMPANY,
            "entries": [
                {"phrase": "不关我事", "category": "shirk", "source": "ACME 1"},
                {"phrase": "不关我事你找别人", "category": "shirk", "source": "ACME 2"},
            ],
        }
        compiled = CompiledScript(Script.model_validate(SCRIPT), Lexicon.model_validate(lexicon))
        d = start(compiled)
        greet(d)
        (short,) = of(d.say("agent", "a2", "这个不关我事", 5000, final=False), "alert")
        (long,) = of(d.say("agent", "a2", "这个不关我事你找别人", 5300, final=False), "alert")
        assert long["phrase"] == "不关我事你找别人"
        updates = of(d.say("agent", "a2", "这个不关我事你找别人", 5600), "alert_update")
        states = {u["id"]: u["state"] for u in updates}
        assert states == {short["id"]: "retracted", long["id"]: "confirmed"}


def test_three_character_phrases_are_heard_by_sound(company: CompiledScript) -> None:
    (alert,) = _alerts(company, "真是凡死了")
    assert alert["match"] == "phonetic" and alert["phrase"] == "烦死了"


def test_a_reworded_match_is_a_pattern_match(company: CompiledScript) -> None:
    (alert,) = _alerts(company, "这个我真的不知道。")
    assert alert["match"] == "pattern" and alert["span"] == [2, 8]
