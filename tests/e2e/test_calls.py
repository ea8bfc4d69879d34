"""Whole calls through a real server and a real WebSocket client, asserting the exact events."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.e2e.client import CallClient, agent, brief, customer
from tests.e2e.conftest import KEY_A

_ids = itertools.count()


def start(
    script: str = "cmcc-10086", when: str = "2026-11-22T09:30:00", ring_s: int = 4, **fields: Any
) -> list[dict[str, Any]]:
    ring = f"{when}+08:00"
    hh, mm, ss = (int(x) for x in when[11:].split(":"))
    total = hh * 3600 + mm * 60 + ss + ring_s
    answered = f"{when[:11]}{total // 3600 % 24:02d}:{total // 60 % 60:02d}:{total % 60:02d}+08:00"
    message = {
        "type": "start",
        "script": script,
        "call_type": "consult",
        "direction": "inbound",
        "agent": {"id": "A1001", "work_no": "1001"},
        "customer": {"title": "王先生"},
        "ring_at": ring,
        **fields,
    }
    return [message, {"type": "event", "name": "answered", "at": answered}]


def hangup(by: str, when: str) -> dict[str, Any]:
    return {"type": "event", "name": "hangup", "by": by, "at": f"{when}+08:00"}


@pytest.fixture
def call(server: str) -> Any:
    clients: list[CallClient] = []

    def open_call(call_id: str | None = None) -> CallClient:
        client = CallClient(server, call_id or f"e2e-{next(_ids)}", KEY_A)
        clients.append(client)
        return client

    yield open_call
    for client in clients:
        client.__exit__()


GREETING = "上午好,中国移动,很高兴为您服务!"


def test_consultation_call_in_the_morning(call: Any) -> None:
    c = call()
    assert brief(c.play(*start())) == [
        ("phase", "greeting"),
        ("prompt", "greeting.open", GREETING),
    ]
    events = c.play(
        agent("a1", "上午好中国移", 1500, final=False),
        agent("a1", "上午好，中国移动，很高兴为您服务", 2500),
    )
    assert brief(events) == [("prompt_done", "greeting.open"), ("phase", "answering")]
    assert events[0]["similarity"] == 1.0 and events[0]["segment"] == "a1"
    events = c.play(
        customer("c1", "我想问一下我这个月的流量还剩多少", 5000),
        agent("a2", "好的，我帮您查一下，您这个月还剩", 7000, final=False),
        agent("a2", "好的，我帮您查一下，您这个月还剩三个G的流量", 8000),
        customer("c2", "好的，没有了，谢谢", 10000),
    )
    assert brief(events) == [
        ("prompt", "situation.thanks", "不客气"),
        ("phase", "closing"),
        ("prompt", "closing.confirm", "请问我刚才给您的解释您明白吗?"),
    ]
    assert events[0]["kind"] == "suggested" and events[2]["kind"] == "required"
    events = c.play(agent("a3", "请问我刚才给您的解释您明白吗？", 11000))
    assert brief(events) == [("prompt_done", "closing.confirm"), ("phase", "rating")]
    # The rating prompt is due 2 s after the closing question (停顿2秒); the next message, 3 s
    # later in call time, brings it.
    events = c.play(customer("c3", "明白了", 13000), agent("a4", "请稍候为我的服务进行评价", 14000))
    # 002 writes 请稍候为我的服务进行评价/感谢您使用中国移动…: either one ends the call
    assert brief(events) == [
        (
            "prompt",
            "rating.prompt",
            "请稍候为我的服务进行评价/感谢您使用中国移动,祝您生活愉快,王先生,再见。",
        ),
        ("prompt_done", "rating.prompt"),
    ]
    assert events[0]["at_ms"] == 13000
    events = c.play(
        agent("a5", "感谢您使用中国移动，祝您工作顺利，王先生，再见", 16000),
        hangup("customer", "2026-11-22T09:30:22"),
    )
    assert brief(events) == [("phase", "ended"), ("report",)]
    report = events[-1]
    assert report["score"] == 100 and report["missed"] == [] and report["alerts"] == []
    assert report["deductions"] == [] and report["not_judged"] == []
    assert report["phases"] == ["ringing", "greeting", "answering", "closing", "rating", "ended"]
    assert [line["segment"] for line in report["transcript"]] == [
        "a1",
        "c1",
        "a2",
        "c2",
        "a3",
        "c3",
        "a4",
        "a5",
    ]


def test_complaint_call_in_the_evening_with_a_forbidden_phrase(call: Any, http: Any) -> None:
    c = call("e2e-complaint")
    events = c.play(*start(when="2026-11-22T19:40:00", call_type="consult"))
    assert events[1]["text"] == "晚上好,中国移动,很高兴为您服务!"
    c.play(agent("a1", "晚上好，中国移动，很高兴为您服务", 2000))
    events = c.play(customer("c1", "我要投诉，你们乱扣我话费", 5000))
    assert brief(events) == [("call_type", "complaint")]
    assert "投诉" in events[0]["reason"]
    events = c.play(
        agent("a2", "这个真不关", 6000, final=False),
        agent("a2", "这个真不关我的事", 6500, final=False),
    )
    (alert,) = events
    assert {
        k: alert[k]
        for k in (
            "rule",
            "phrase",
            "text",
            "span",
            "speaker",
            "segment",
            "match",
            "state",
            "category",
            "severity",
        )
    } == {
        "rule": "forbidden.shirk",
        "phrase": "不关我的事!",
        "text": "这个真不关我的事",
        "span": [3, 8],
        "speaker": "agent",
        "segment": "a2",
        "match": "exact",
        "state": "provisional",
        "category": "forbidden",
        "severity": "critical",
    }
    events = c.play(agent("a2", "这个真不关我的事，您去营业厅问吧", 7500))
    assert events == [
        {
            "type": "alert_update",
            "seq": events[0]["seq"],
            "at_ms": 7500,
            "id": alert["id"],
            "state": "confirmed",
        }
    ]
    events = c.play(customer("c2", "好吧，就这些", 9000))
    assert brief(events) == [
        ("phase", "closing"),
        ("prompt", "closing.confirm", "请问我的答复能否解决您的问题?"),
    ]
    c.play(agent("a3", "请问我的答复能否解决您的问题", 10000))
    events = c.play(agent("a4", "请您不要挂机，稍后请对我的服务做出评价，好吗", 13000))
    # 002's complaint closing ends with the rating prompt or the farewell: either one will do
    assert brief(events)[:2] == [
        (
            "prompt",
            "rating.prompt",
            "请您不要挂机,稍后请对我的服务做出评价,好吗?/感谢您使用中国移动。王先生,再见。",
        ),
        ("prompt_done", "rating.prompt"),
    ]
    events = c.play(hangup("agent", "2026-11-22T19:40:20"))
    assert brief(events) == [
        ("alert", "behaviour.agent_hung_up_first", "confirmed"),
        ("phase", "ended"),
        ("report",),
    ]
    report = http.get("/v1/calls/e2e-complaint/report").json()
    assert (
        report == events[-1] | {"type": report.get("type")} or report["call_id"] == "e2e-complaint"
    )
    assert report["call_type"] == "complaint" and report["missed"] == []
    assert [a["rule"] for a in report["alerts"]] == [
        "forbidden.shirk",
        "behaviour.agent_hung_up_first",
    ]


def test_callback_call(call: Any) -> None:
    c = call()
    events = c.play(*start(when="2026-11-22T15:00:00", call_type="callback", direction="outbound"))
    assert brief(events)[1] == (
        "prompt",
        "greeting.open",
        "这里是中国移动10086,您现在接听的电话是免费的.请问您是王先生吗?",
    )
    events = c.play(
        agent("a1", "这里是中国移动10086，您现在接听的电话是免费的，请问您是王先生吗", 3000),
        customer("c1", "是我，什么事", 4000),
        agent("a2", "您上周反映的宽带问题已经处理好了，请问现在使用正常吗", 8000),
        customer("c2", "正常了，没有了", 10000),
    )
    assert brief(events) == [
        ("prompt_done", "greeting.open"),
        ("phase", "answering"),
        # 002 回访引导语, suggested once the return visit's opening is said
        (
            "prompt",
            "answering.callback_lead",
            "您好,您所向我们反映的问题,经我公司查实……/您好,刚才对您的解释有误,此业务是……",
        ),
        ("phase", "closing"),
        (
            "prompt",
            "closing.callback",
            "感谢您对中国移动一如既往的支持,欢迎您有疑问随时拨打10086/12580我们将竭诚为您服务",
        ),
    ]
    events = c.play(
        agent(
            "a3",
            "感谢您对中国移动一如既往的支持，欢迎您有疑问随时拨打10086或12580，我们将竭诚为您服务。感谢您使用中国移动，祝您生活愉快，王先生，再见",
            15000,
        ),
        hangup("customer", "2026-11-22T15:00:20"),
    )
    assert brief(events) == [
        ("prompt_done", "closing.callback"),
        ("prompt", "closing.farewell", "感谢您使用中国移动,祝您生活愉快,王先生,再见。"),
        ("prompt_done", "closing.farewell"),
        ("phase", "ended"),
        ("report",),
    ]
    assert events[-1]["missed"] == [] and "rating" not in events[-1]["phases"]


def test_empty_call_becomes_harassment(call: Any) -> None:
    c = call()
    c.play(*start(when="2026-11-22T14:00:00"))
    c.play(agent("a1", "下午好，中国移动，很高兴为您服务", 2000))
    # Silence: the agent's next words, 3.5 s later, arrive after the first no-response step.
    events = c.play(agent("a2", "喂，您好", 5500))
    assert brief(events) == [
        ("prompt", "situation.no_response", "请问您需要咨询移动业务吗?这里是10086咨询热线。")
    ]
    events = c.play(agent("a3", "请问您需要咨询移动业务吗？这里是10086咨询热线", 9000))
    assert brief(events) == [
        ("call_type", "harassment"),
        ("phase", "closing"),
        ("prompt", "closing.harassment", "对不起,如不咨询,请您挂机,谢谢配合!"),
    ]
    events = c.play(
        agent("a4", "对不起，如不咨询，请您挂机，谢谢配合", 11000),
        hangup("agent", "2026-11-22T14:00:16"),
    )
    assert brief(events) == [("prompt_done", "closing.harassment"), ("phase", "ended"), ("report",)]
    assert events[-1]["alerts"] == [] and events[-1]["call_type"] == "harassment"


def test_nuisance_call_and_rushing_off_elsewhere(call: Any) -> None:
    c = call()
    c.play(*start(when="2026-11-22T14:00:00"))
    c.play(agent("a1", "下午好，中国移动，很高兴为您服务", 2000), customer("c1", "你好", 2500))
    events = c.play(agent("a2", "没什么事就挂了吧", 4000))
    assert brief(events) == [("alert", "behaviour.rushing_off", "confirmed")]
    events = c.play(customer("c2", "美女陪我聊聊天呗", 6000))
    assert brief(events) == [
        ("call_type", "harassment"),
        (
            "prompt",
            "situation.harassment",
            "对不起,上班时间不好闲聊,如不咨询请您挂机,谢谢配合!再见!",
        ),
    ]
    assert (
        c.play(agent("a3", "对不起，上班时间不好闲聊，如不咨询请您挂机，谢谢配合，再见", 8000))[0][
            "type"
        ]
        == "phase"
    )


def test_ct_10000_slow_answer_and_farewell(call: Any) -> None:
    c = call()
    events = c.play(
        *start(
            script="ct-10000",
            when="2026-11-22T10:00:00",
            ring_s=16,
            agent={"id": "T7", "work_no": "0735"},
        )
    )
    assert brief(events) == [
        ("alert", "behaviour.slow_answer", "confirmed"),
        ("phase", "greeting"),
        ("prompt", "greeting.open", "您好,中国电信0735号为您服务,请问有什么可以帮助您。"),
    ]
    assert events[0]["source"].startswith("000")
    events = c.play(
        agent("a1", "您好，中国电信0735号为您服务，请问有什么可以帮助您", 2000),
        customer("c1", "我家宽带断网了", 4000),
    )
    assert brief(events) == [
        ("prompt_done", "greeting.open"),
        ("phase", "answering"),
        ("prompt", "situation.fault_detail", "您好,可否麻烦您再简要描述一下故障情况好吗?"),
    ]
    events = c.play(customer("c2", "好的，知道了，谢谢", 9000))
    assert brief(events) == [
        ("prompt", "situation.thanks", "感谢您选择并使用中国电信的业务,谢谢。"),
        ("phase", "closing"),
        (
            "prompt",
            "closing.farewell",
            "很高兴为您服务,今后如有需要,请您拨10000号或与客户经理联络,再见!",
        ),
    ]
    events = c.play(
        agent("a2", "很高兴为您服务，今后如有需要，请您拨10000号或与客户经理联络，再见", 11000),
        hangup("customer", "2026-11-22T10:00:30"),
    )
    assert brief(events) == [("prompt_done", "closing.farewell"), ("phase", "ended"), ("report",)]
    assert events[-1]["phases"] == ["ringing", "greeting", "answering", "closing", "ended"]
    assert [a["rule"] for a in events[-1]["alerts"]] == ["behaviour.slow_answer"]


def test_12580_secretary_client(call: Any) -> None:
    c = call()
    events = c.play(
        *start(
            script="cmcc-12580",
            customer={"title": "张总", "class": "secretary"},
            agent={"id": "B2", "work_no": "2002", "name": "卢布"},
        )
    )
    assert brief(events)[1] == ("prompt", "greeting.open", "您好!张总我是卢布,请问有什么可以帮您?")
    events = c.play(agent("a1", "您好张总，我是小卢，请问有什么可以帮您", 2000))
    assert brief(events) == [("prompt_done", "greeting.open"), ("phase", "answering")]
    c.play(customer("c1", "帮我订一张明天去北京的机票", 4000), customer("c2", "好的就这些", 9000))
    c.play(agent("a2", "请问您还有其他需要吗", 10000))
    events = c.play(
        agent("a3", "祝您心情愉快，张总", 13000), hangup("customer", "2026-11-22T09:30:20")
    )
    assert brief(events) == [
        ("prompt", "closing.farewell", "祝您心情愉快!张总"),
        ("prompt_done", "closing.farewell"),
        ("phase", "ended"),
        ("report",),
    ]
    assert events[-1]["missed"] == []


@pytest.mark.parametrize(
    ("when", "text"),
    [
        ("2026-10-01T11:00:00", "您好,国庆节快乐!很高兴为您服务!"),
        ("2026-10-05T11:00:00", "您好,国庆节快乐!很高兴为您服务!"),  # every day of it
        ("2027-02-06T09:00:00", "您好,春节快乐!很高兴为您服务!"),  # 正月初一, a lunar date
        # 除夕 2026: inside the official 春节 period as announced (02-15 to 02-23)
        ("2026-02-16T23:59:00", "您好,春节快乐!很高兴为您服务!"),
        ("2026-02-24T09:00:00", "您好!很高兴为您服务!"),  # the period is over
        ("2027-02-17T09:00:00", "您好!很高兴为您服务!"),  # 2026's 春节 date, a year later
        ("2035-09-16T10:00:00", "您好,中秋节快乐!很高兴为您服务!"),  # 八月十五, computed
    ],
)
def test_12580_holiday_greeting(call: Any, when: str, text: str) -> None:
    c = call()
    events = c.play(*start(script="cmcc-12580", when=when))
    assert brief(events)[1] == ("prompt", "greeting.open", text)


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
    ],
)
def test_greeting_at_every_period_boundary(call: Any, clock: str, word: str) -> None:
    c = call()
    events = c.play(*start(when=f"2026-11-22T{clock}", ring_s=0))
    assert brief(events) == [
        ("phase", "greeting"),
        ("prompt", "greeting.open", f"{word},中国移动,很高兴为您服务!"),
    ]


def test_wrong_time_of_day_greeting(call: Any) -> None:
    c = call()
    c.play(*start(when="2026-11-22T20:15:00"))
    events = c.play(agent("a1", "上午好，中国移动，很高兴为您服务", 2000))
    assert brief(events)[0] == ("alert", "greeting.wrong_time", "confirmed")
    assert events[0]["span"] == [0, 3] and events[0]["phrase"] == "晚上好"


def test_bare_what_and_work_number(call: Any) -> None:
    c = call()
    c.play(*start())
    c.play(
        agent("a1", "上午好，中国移动，很高兴为您服务", 2000), customer("c1", "喂，我想问下", 3000)
    )
    events = c.play(agent("a2", "什么？", 4000))
    assert brief(events) == [
        ("alert", "behaviour.bare_what", "confirmed"),
        ("prompt", "situation.repeat", "对不起,请您再重复一遍好吗"),
    ]
    events = c.play(customer("c2", "你工号多少", 6000))
    assert brief(events) == [
        ("prompt", "situation.work_no", "我是1001号客户代表,如服务不周,请您指教")
    ]


def test_hold_without_apology(call: Any) -> None:
    c = call()
    c.play(*start())
    c.play(
        agent("a1", "上午好，中国移动，很高兴为您服务", 2000),
        customer("c1", "帮我查下账单", 3000),
        agent("a1b", "好的，请您稍等，我帮您查一下", 5500),
    )
    events = c.play({"type": "event", "name": "hold", "at": "2026-11-22T09:30:10+08:00"})
    assert brief(events) == [("prompt", "situation.hold", "对不起,请您稍等,我帮您查询一下")]
    events = c.play({"type": "event", "name": "unhold", "at": "2026-11-22T09:30:40+08:00"})
    assert brief(events) == [("prompt", "situation.unhold", "对不起,让您久等了")]
    events = c.play(agent("a2", "您这个月的账单是五十八元", 48000))
    assert brief(events) == [("alert", "behaviour.hold_no_apology", "confirmed")]


def test_a_second_connection_sees_the_same_events(call: Any, server: str) -> None:
    c = call("e2e-shared")
    c.play(*start())
    with CallClient(server, "e2e-shared", KEY_A) as board:
        history = board.play({"type": "resume", "last_event_seq": 0})
        assert [e["seq"] for e in history] == [1, 2]
        c.play(agent("a1", "不关我的事", 2000))
        (alert,) = board.sync()
        assert alert["type"] == "alert" and alert["seq"] == 3


def test_asr_noise_goes_through_the_same_alert_flow(call: Any) -> None:
    """A homophone on a partial is provisional, then retracted when the ASR revises it away;
    noisy words in a final are confirmed at once, the span pointing into the text as sent."""
    c = call()
    c.play(*start())
    c.play(
        agent("a1", "上午好，中国移动，很高兴为您服务", 2000),
        customer("c1", "我的流量怎么没了", 3000),
    )
    alert, suggestion = c.play(agent("a2", "这个我不知到", 4000, final=False))
    assert (suggestion["rule"], suggestion["kind"]) == ("situation.cannot_answer", "suggested")
    assert (alert["rule"], alert["match"], alert["state"], alert["span"]) == (
        "forbidden.shirk",
        "phonetic",
        "provisional",
        [2, 6],
    )
    assert (
        c.play(agent("a2", "这个我不知到啊", 4300, final=False)) == []
    )  # the same words: no second alert
    (update,) = c.play(agent("a2", "这个我不知道流量去哪了", 5000))
    assert (update["type"], update["id"], update["state"]) == (
        "alert_update",
        alert["id"],
        "confirmed",
    )
    (alert,) = c.play(agent("a3", "嗯 我 我 也 沒 辦 法", 7000))[:1]
    assert (alert["rule"], alert["match"], alert["state"]) == (
        "forbidden.shirk",
        "normalized",
        "confirmed",
    )
    assert alert["text"][alert["span"][0] : alert["span"][1]] == "我 我 也 沒 辦 法"
    (alert,) = c.play(agent("a4", "有意见你找领导去", 9000, final=False))
    assert (alert["match"], alert["state"]) == ("pattern", "provisional")
    (update,) = c.play(agent("a4", "有意见的话，您可以拨打投诉电话", 10000))
    assert (update["id"], update["state"]) == (alert["id"], "retracted")


def test_a_burst_of_fragments_is_answered_in_order_each_once(call: Any) -> None:
    """Sixty fragments sent back to back, without reading: some arrive while the connection's
    loop is busy and wait in uvicorn's queue, others are handled the moment they arrive
    (``app.ops.websocket``). Either way each is acknowledged once, in order, and its alert
    comes before its ``ack``, as PROTOCOL says (an ack follows the events of its input)."""
    c = call()
    c.play(*start())
    burst = []
    for n in range(1, 61):
        text = "不关我的事" if n % 3 == 0 else "您好请讲"
        burst.append({**agent(f"b{n}", text, 5000 + n * 1000), "seq": n})
    for message in burst:
        c.send(message)
    events = c.recv_until(lambda e: e["type"] == "ack" and e["seq"] == 60, timeout=10)
    acks = [e["seq"] for e in events if e["type"] == "ack"]
    assert acks == list(range(1, 61))
    # Before the ack of fragment n, the alerts of every forbidden fragment up to n.
    shirks = 0
    for e in events:
        if e["type"] == "alert" and e["rule"] == "forbidden.shirk":
            shirks += 1
        elif e["type"] == "ack":
            assert shirks >= e["seq"] // 3, f"ack {e['seq']} came before its alert"
    assert shirks == 20
