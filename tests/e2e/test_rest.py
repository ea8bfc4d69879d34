"""The REST API for the platform: calls, fragments over HTTP, reports, lists, scripts, ops."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.client import CallClient

_ids = itertools.count()


def test_a_call_over_http(http: httpx.Client, server: str) -> None:
    call_id = f"rest-{next(_ids)}"
    created = http.post(
        "/v1/calls",
        json={
            "call_id": call_id,
            "script": "cmcc-10086",
            "call_type": "consult",
            "agent": {"id": "A7", "work_no": "0007"},
            "customer": {"title": "李女士"},
            "ring_at": "2026-11-22T16:00:00+08:00",
        },
    )
    assert created.status_code == 201
    body = created.json()
    assert body["call_id"] == call_id and body["token"]
    assert body["stream_url"].startswith("ws://") and body["stream_url"].endswith(
        f"/v1/calls/{call_id}/stream?token={body['token']}"
    )

    events = http.post(
        f"/v1/calls/{call_id}/events", json={"name": "answered", "at": "2026-11-22T16:00:05+08:00"}
    ).json()["events"]
    assert [e["type"] for e in events] == ["phase", "prompt"]
    assert events[1]["text"] == "下午好,中国移动,很高兴为您服务!"

    def say(speaker: str, segment: str, text: str, end_ms: int) -> list[dict]:
        response = http.post(
            f"/v1/calls/{call_id}/fragments",
            json={
                "speaker": speaker,
                "segment": segment,
                "text": text,
                "final": True,
                "end_ms": end_ms,
            },
        )
        assert response.status_code == 200, response.text
        return list(response.json()["events"])

    assert [e["type"] for e in say("agent", "a1", "下午好，中国移动，很高兴为您服务", 2000)] == [
        "prompt_done",
        "phase",
    ]
    state = http.get(f"/v1/calls/{call_id}").json()
    assert state["phase"] == "answering" and state["script"] == {"id": "cmcc-10086", "version": 1}
    assert [(c["rule"], c["status"]) for c in state["checklist"]] == [
        ("greeting.open", "done"),
        ("closing.confirm", "pending"),
        ("rating.prompt", "pending"),  # or the farewell: 002 writes them as alternatives
    ]
    # The customer speaks: a silent one would turn the call into harassment (no_response).
    say("customer", "c1", "我想查一下这个月的话费", 3000)
    (alert,) = say("agent", "a2", "我也没办法", 4000)[:1]
    assert alert["rule"] == "forbidden.shirk" and alert["match"] == "exact"
    assert http.get(f"/v1/calls/{call_id}/report").status_code == 409

    events = http.post(
        f"/v1/calls/{call_id}/events",
        json={"name": "hangup", "by": "customer", "at": "2026-11-22T16:00:20+08:00"},
    ).json()["events"]
    assert [e["type"] for e in events][-2:] == ["phase", "report"]
    report = http.get(f"/v1/calls/{call_id}/report").json()
    assert report == {k: v for k, v in events[-1].items() if k not in ("type", "seq", "at_ms")}
    assert report["missed"] == ["closing.confirm", "rating.prompt"]
    # Rung at 16:00:00 and answered 5 s later, days before the wall clock: no slow answer.
    assert "behaviour.slow_answer" not in [a["rule"] for a in report["alerts"]]

    listed = http.get("/v1/calls", params={"agent": "A7", "has_alerts": True}).json()["items"]
    assert [c["call_id"] for c in listed] == [call_id]
    assert listed[0]["ended"] is True and listed[0]["alerts"] >= 1
    assert http.get("/v1/calls", params={"agent": "A7", "has_alerts": False}).json()["items"] == []
    assert http.get("/v1/calls", params={"script": "ct-10000", "agent": "A7"}).json()["items"] == []
    assert [
        c["call_id"]
        for c in http.get(
            "/v1/calls", params={"agent": "A7", "since": "2020-01-01T00:00:00Z"}
        ).json()["items"]
    ] == [call_id]
    assert (
        http.get("/v1/calls", params={"agent": "A7", "until": "2020-01-01T00:00:00Z"}).json()[
            "items"
        ]
        == []
    )


def test_a_call_created_over_rest_is_followed_over_the_socket(
    http: httpx.Client, server: str
) -> None:
    created = http.post(
        "/v1/calls", json={"script": "ct-10000", "agent": {"id": "T1", "work_no": "0101"}}
    ).json()
    with CallClient(server, created["call_id"], created["token"]) as client:
        events = client.play({"type": "event", "name": "answered"})
        assert [e["type"] for e in events] == ["phase", "prompt"]
        assert events[1]["text"] == "您好,中国电信0101号为您服务,请问有什么可以帮助您。"


def test_calls_are_kept_per_tenant(server: str, http: httpx.Client) -> None:
    from tests.e2e.conftest import KEY_B

    call_id = http.post("/v1/calls", json={"script": "cmcc-10086"}).json()["call_id"]
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {KEY_B}"}) as other:
        assert other.get(f"/v1/calls/{call_id}").status_code == 404
        assert call_id not in [c["call_id"] for c in other.get("/v1/calls").json()["items"]]


def test_scripts(http: httpx.Client) -> None:
    items = http.get("/v1/scripts").json()["items"]
    assert {i["id"] for i in items} == {"cmcc-10086", "cmcc-12580", "ct-10000"}
    assert all(i["version"] == 1 and i["name"] for i in items)
    script = http.get("/v1/scripts/cmcc-10086").json()
    assert script["greeting"]["periods"][0] == {"start": "04:00:00", "word": "早上好"}
    assert script["lexicon_summary"]["entries"] >= 40


def test_dry_run(http: httpx.Client) -> None:
    result = http.post(
        "/v1/scripts/cmcc-10086/check",
        json={"text": "这个我也没办法，你问我我问谁", "speaker": "agent"},
    ).json()
    assert [a["rule"] for a in result["alerts"]] == ["forbidden.shirk", "forbidden.shirk"]
    assert result["alerts"][0]["span"] == [2, 7] and result["alerts"][0]["state"] == "confirmed"
    result = http.post(
        "/v1/scripts/cmcc-10086/check",
        json={"text": "请问我的答复能否解决您的问题？", "call_type": "complaint"},
    ).json()
    assert result == {"alerts": [], "prompts_done": ["closing.confirm"]}
    result = http.post(
        "/v1/scripts/cmcc-10086/check", json={"text": "不关我的事", "speaker": "customer"}
    ).json()
    assert result["alerts"] == []
    result = http.post(
        "/v1/scripts/cmcc-10086/check",
        json={"text": "早上好，中国移动，很高兴为您服务", "at": "2026-11-22T06:30:00+08:00"},
    ).json()
    assert result == {"alerts": [], "prompts_done": ["greeting.open"]}


def test_ops(server: str, http: httpx.Client) -> None:
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server}/readyz").status_code == 401  # everything but /healthz needs a key
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = http.get("/metrics").text
    for name in (
        "huashu_calls_started_total",
        "huashu_calls_active",
        "huashu_messages_total",
        "huashu_alerts_total",
        "huashu_events_total",
        "huashu_message_seconds_bucket",
        "huashu_gc_pause_seconds_bucket",
    ):
        assert name in metrics, name
    young = [
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('huashu_gc_pause_seconds_count{generation="0"}')
    ]
    assert young and young[0] > 0  # the server's young collections, since start-up


def test_list_calls_by_their_own_time_rule_and_type_in_pages(http: httpx.Client) -> None:
    """Calls replayed on 1 March 2026 are listed at their own times; a page at a time."""
    agent = f"pager-{uuid.uuid4().hex[:8]}"
    ids = []
    for minute in range(5):
        created = http.post(
            "/v1/calls",
            json={
                "script": "cmcc-10086",
                "call_type": "complaint" if minute == 3 else "consult",
                "agent": {"id": agent},
                "ring_at": f"2026-03-01T10:0{minute}:00+08:00",
            },
        ).json()
        ids.append(created["call_id"])
    answered = {"name": "answered", "at": "2026-03-01T10:01:05+08:00"}
    http.post(f"/v1/calls/{ids[1]}/events", json=answered)
    http.post(
        f"/v1/calls/{ids[1]}/fragments",
        json={"speaker": "agent", "segment": "a1", "text": "这个不关我的事", "final": True},
    )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"agent": agent, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = http.get("/v1/calls", params=params)
        assert page.status_code == 200
        seen += [c["call_id"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ids

    def listed(**params: Any) -> list[str]:
        return [
            c["call_id"]
            for c in http.get("/v1/calls", params={"agent": agent, **params}).json()["items"]
        ]

    assert listed(rule="forbidden.shirk") == [ids[1]]
    assert listed(call_type="complaint") == [ids[3]]
    assert listed(since="2026-03-01T10:02:00+08:00", until="2026-03-01T10:03:00+08:00") == ids[2:4]
    assert listed(since="2026-03-01T10:05:00") == []  # no offset: the service's time zone


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "WzEsMiwzXQ"},  # a list of three
        {"cursor": "x" * 600},
        {"limit": 0},
        {"limit": 1001},
        {"limit": "many"},
        {"call_type": "robbery"},
        {"rule": "r" * 65},
    ],
)
def test_list_calls_refuses_bad_paging_and_filters(
    http: httpx.Client, params: dict[str, Any]
) -> None:
    answer = http.get("/v1/calls", params=params)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_message"
    assert next(iter(params)) in answer.json()["detail"]


def test_another_tenants_call_answers_as_a_call_that_does_not_exist(
    server: str, http: httpx.Client
) -> None:
    """Every call endpoint: tenant B asking for tenant A's call gets exactly what it gets for a
    guessed id that does not exist — the same status, error and detail shape — and changes
    nothing of A's call."""
    from tests.e2e.conftest import KEY_B

    mine = http.post("/v1/calls", json={"script": "cmcc-10086"}).json()["call_id"]
    guessed = f"c-{uuid.uuid4().hex[:16]}"
    requests = [
        ("get", "/v1/calls/{id}", None),
        ("get", "/v1/calls/{id}/report", None),
        ("post", "/v1/calls/{id}/events", {"name": "hangup", "by": "agent"}),
        (
            "post",
            "/v1/calls/{id}/fragments",
            {"speaker": "agent", "segment": "x", "text": "不关我的事", "final": True},
        ),
    ]
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {KEY_B}"}) as other:
        for method, path, body in requests:
            answers = [
                other.request(method, path.format(id=call_id), json=body)
                for call_id in (mine, guessed)
            ]
            assert [a.status_code for a in answers] == [404, 404], path
            theirs, nobodys = (a.json() for a in answers)
            assert theirs["error"] == nobodys["error"] == "unknown_call"
            assert theirs["detail"] == nobodys["detail"].replace(guessed, mine)
    state = http.get(f"/v1/calls/{mine}").json()
    assert state["phase"] == "ringing" and state["alerts"] == []
