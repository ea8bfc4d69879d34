"""Issue 14 end to end: the norms judged as a quality team judges them, through a real server
and real WebSocket clients — two ASR channels (one connection per speaker) whose finals arrive
late and out of order, the customer's intent, the behaviour taboos, the opening's facts."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.e2e.client import CallClient, brief
from tests.e2e.conftest import KEY_A
from tests.e2e.test_calls import hangup, start

_ids = itertools.count()


def said(
    speaker: str,
    segment: str,
    text: str,
    start_ms: int | None,
    end_ms: int | None,
    final: bool = True,
) -> dict[str, Any]:
    """A fragment with its own times (or none)."""
    message: dict[str, Any] = {
        "type": "fragment",
        "speaker": speaker,
        "segment": segment,
        "text": text,
        "final": final,
    }
    if start_ms is not None:
        message["start_ms"] = start_ms
    if end_ms is not None:
        message["end_ms"] = end_ms
    return message


@pytest.fixture
def channels(server: str) -> Any:
    """A call with two ingest connections, one per ASR channel (agent, customer)."""
    opened: list[CallClient] = []

    def open_call(**fields: Any) -> tuple[CallClient, CallClient]:
        call_id = f"e2e-norms-{next(_ids)}"
        agent = CallClient(server, call_id, KEY_A)
        opened.append(agent)
        agent.play(*start(**fields))
        customer = CallClient(server, call_id, KEY_A)
        opened.append(customer)
        return agent, customer

    yield open_call
    for client in opened:
        client.__exit__()


def rules(events: list[dict[str, Any]], kind: str = "alert") -> list[str]:
    return [e["rule"] for e in events if e["type"] == kind]


def test_interruptions_from_two_channels_out_of_order(channels: Any) -> None:
    """抢话 by the segments' times: the customer's final arrives after the agent's, on the
    other connection, and the interruption is alerted then (from the 2nd one in a call)."""
    agent, customer = channels()
    agent.play(said("agent", "a1", "上午好，中国移动，很高兴为您服务", 300, 2_500))
    customer.play(said("customer", "c1", "我想查一下话费", 3_000, 4_500))
    # the agent speaks over the customer's long sentence; the agent channel's final comes first
    assert rules(agent.play(said("agent", "a2", "您说的是哪个月", 6_000, 7_500))) == []
    customer.play(said("customer", "c2", "就是上个月多扣了三十块钱那个", 5_000, 8_000))
    # back-channel words over the customer's next sentence: listening, not interrupting
    agent.play(said("agent", "a3", "嗯，对", 9_500, 10_000))
    customer.play(said("customer", "c3", "我一直用的是五十八的套餐", 9_000, 12_000))
    # the second interruption: again the agent's final first, the customer's much later
    assert rules(agent.play(said("agent", "a4", "我帮您查一下", 13_500, 15_000))) == []
    events = customer.play(said("customer", "c4", "而且短信也没有通知我", 13_000, 16_000))
    (alert,) = [e for e in events if e["type"] == "alert"]
    assert alert["rule"] == "behaviour.interrupting" and alert["segment"] == "a4"
    assert alert["detail"].startswith("the agent began at 13500 ms")
    # the agent's connection (the plugin) gets the same alert
    (seen,) = [e for e in agent.sync() if e["type"] == "alert"]
    assert seen == alert
    report = agent.play(hangup("customer", "2026-11-22T09:30:30"))[-1]
    assert report["type"] == "report" and report["not_judged"] == []
    assert ("behaviour.interrupting", 5) in [(d["rule"], d["points"]) for d in report["deductions"]]


def test_a_call_without_times_says_interruption_was_not_judged(channels: Any) -> None:
    agent, customer = channels()
    agent.play(said("agent", "a1", "上午好，中国移动，很高兴为您服务", None, None))
    customer.play(said("customer", "c1", "我想查一下话费", None, None))
    report = agent.play(hangup("customer", "2026-11-22T09:30:20"))[-1]
    (not_judged,) = report["not_judged"]
    assert not_judged["rule"] == "behaviour.interrupting"
    assert not_judged["reason"].startswith("interruption was not judged")


def test_the_pause_before_the_rating_prompt(channels: Any) -> None:
    agent, customer = channels()
    agent.play(said("agent", "a1", "上午好，中国移动，很高兴为您服务", 300, 2_500))
    customer.play(said("customer", "c1", "我想查一下话费，好的，没有了", 3_000, 5_000))
    agent.play(said("agent", "a2", "请问我刚才给您的解释您明白吗", 5_500, 7_000))
    events = agent.play(said("agent", "a3", "请稍候为我的服务进行评价", 7_500, 9_000))
    assert brief(events)[-3:] == [
        (
            "prompt",
            "rating.prompt",
            "请稍候为我的服务进行评价/感谢您使用中国移动,祝您生活愉快,王先生,再见。",
        ),
        ("prompt_done", "rating.prompt"),
        ("alert", "behaviour.no_pause", "confirmed"),
    ]
    assert events[-1]["detail"] == (
        "rating.prompt began 500 ms after closing.confirm ended; the norm's pause is 2 s"
    )


def test_the_customers_intent(channels: Any) -> None:
    agent, customer = channels()
    agent.play(said("agent", "a1", "上午好，中国移动，很高兴为您服务", 300, 2_500))
    events = customer.play(said("customer", "c1", "喂，你好", 3_000, 3_800))
    assert brief(events) == [("prompt", "situation.purpose", "请问您需要咨询哪项业务?")]
    events = customer.play(said("customer", "c2", "我不是要投诉，就想问问这个月话费", 5_000, 7_000))
    assert (
        rules(events, "call_type") == [] and [e for e in events if e["type"] == "call_type"] == []
    )
    events = customer.play(
        said("customer", "c3", "你们凭什么扣我三十块钱，今天必须给我个说法", 9_000, 12_000)
    )
    (retyped,) = [e for e in events if e["type"] == "call_type"]
    assert retyped["call_type"] == "complaint" and "demand" in retyped["reason"]


def test_behaviour_taboos(channels: Any) -> None:
    agent, customer = channels()
    agent.play(said("agent", "a1", "上午好，中国移动，很高兴为您服务", 300, 2_500))
    customer.play(said("customer", "c1", "帮我查一下账单", 3_000, 4_000))
    # a bare 什么 in one of its forms, and a polite one beside it
    assert rules(agent.play(said("agent", "a2", "你说什么", 4_500, 5_000))) == [
        "behaviour.bare_what"
    ]
    assert rules(agent.play(said("agent", "a3", "不好意思，您说什么", 5_500, 6_500))) == []
    # a hold with no 请您稍等 first: judged once its grace is over (a later message brings it)
    agent.play({"type": "event", "name": "hold", "at": "2026-11-22T09:30:12+08:00"})
    events = agent.play({"type": "event", "name": "unhold", "at": "2026-11-22T09:30:20+08:00"})
    assert "behaviour.hold_unannounced" in rules(events)
    # 催挂 announcing the hangup
    assert rules(agent.play(said("agent", "a4", "没别的事我就先挂了啊", 17_000, 18_000))) == [
        "behaviour.rushing_off"
    ]


def test_talk_with_a_colleague_after_the_farewell(channels: Any) -> None:
    agent, customer = channels()
    agent.play(said("agent", "a1", "上午好，中国移动，很高兴为您服务", 300, 2_500))
    customer.play(said("customer", "c1", "我想查一下话费，好的，没有了", 3_000, 5_000))
    agent.play(said("agent", "a2", "请问我刚才给您的解释您明白吗", 5_500, 7_000))
    agent.play(said("agent", "a3", "感谢您使用中国移动，祝您生活愉快，王先生，再见", 9_500, 12_000))
    events = agent.play(said("agent", "a4", "小王，刚才那个单子你帮我看一下", 13_000, 15_000))
    assert rules(events) == ["behaviour.colleague_talk"]
    report = agent.play(hangup("customer", "2026-11-22T09:30:25"))[-1]
    assert report["missed"] == []  # the farewell is the rating prompt's alternative


def test_the_work_number_of_the_10000_opening(channels: Any) -> None:
    agent, _ = channels(script="ct-10000", when="2026-11-22T10:00:00")
    events = agent.play(
        said("agent", "a1", "您好，中国电信1002号为您服务，请问有什么可以帮助您", 300, 3_000)
    )
    (alert,) = [e for e in events if e["type"] == "alert"]
    assert alert["rule"] == "greeting.work_no" and alert["severity"] == "major"
    assert alert["detail"] == "said work number 1002; the agent's is 1001"
