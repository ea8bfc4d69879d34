"""Every bad input of PROTOCOL on a live call: an error event on that connection, the connection
stays open, the call goes on, nothing accepted is lost. REST answers 4xx with a reason."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.client import ANSWERED, START, CallClient, agent, customer
from tests.e2e.conftest import KEY_A, KEY_B

_ids = itertools.count()

BAD: list[tuple[str, Any, str, str]] = [
    ("unparsable JSON", '{"type": "fragment", ', "invalid_json", "not JSON"),
    ("binary frame", b'{"type":"ping"}', "binary_not_supported", "text frames"),
    ("not an object", "[1, 2]", "invalid_message", "JSON object"),
    ("no type", {"speaker": "agent"}, "invalid_message", "type"),
    ("unknown type", {"type": "dance"}, "unknown_type", "dance"),
    (
        "missing field",
        {"type": "fragment", "speaker": "agent", "text": "你好"},
        "invalid_message",
        "fragment.segment",
    ),
    (
        "wrong field type",
        {"type": "fragment", "speaker": "agent", "segment": "x", "text": "你好", "final": "maybe"},
        "invalid_message",
        "fragment.final",
    ),
    (
        "unknown speaker",
        {"type": "fragment", "speaker": "robot", "segment": "x", "text": "你好"},
        "invalid_message",
        "fragment.speaker: must be agent or customer",
    ),
    (
        "oversized text",
        {"type": "fragment", "speaker": "agent", "segment": "x", "text": "好" * 4097},
        "too_large",
        "4096",
    ),
    ("oversized message", {"type": "ping", "pad": "x" * 70_000}, "too_large", "65536"),
    ("unknown event name", {"type": "event", "name": "explode"}, "invalid_message", "event.name"),
    (
        "bad time",
        {"type": "event", "name": "hold", "at": "yesterday"},
        "invalid_message",
        "event.at",
    ),
    (
        "negative offset",
        {"type": "fragment", "speaker": "agent", "segment": "x", "text": "你", "start_ms": -5},
        "invalid_message",
        "fragment.start_ms",
    ),
    # Issue 11: out-of-range values, booleans read as numbers, numbers read as times.
    (
        "year 9999",
        {"type": "event", "name": "hold", "at": "9999-12-31T23:59:59+08:00"},
        "invalid_message",
        "event.at: must be within",
    ),
    (
        "a number as a time",
        {"type": "event", "name": "hold", "at": 123},
        "invalid_message",
        "event.at",
    ),
    (
        "a float as a time",
        {"type": "event", "name": "hold", "at": -4.7e-18},
        "invalid_message",
        "event.at",
    ),
    (
        "end_ms of 2^64-1",
        {"type": "fragment", "speaker": "agent", "segment": "x", "text": "你", "end_ms": 2**64 - 1},
        "invalid_message",
        "fragment.end_ms",
    ),
    (
        "end_ms past the call's length",
        {"type": "fragment", "speaker": "agent", "segment": "x", "text": "你", "end_ms": 10**12},
        "invalid_message",
        "fragment.end_ms: at most",
    ),
    (
        "true as a seq",
        {"type": "fragment", "speaker": "agent", "segment": "x", "text": "你", "seq": True},
        "invalid_message",
        "fragment.seq",
    ),
    (
        "true as an offset",
        {"type": "fragment", "speaker": "agent", "segment": "x", "text": "你", "start_ms": True},
        "invalid_message",
        "fragment.start_ms",
    ),
    (
        "true as a resume seq",
        {"type": "resume", "last_event_seq": True},
        "invalid_message",
        "last_event_seq",
    ),
]


@pytest.fixture
def live(server: str) -> Any:
    call_id = f"bad-{next(_ids)}"
    with CallClient(server, call_id, KEY_A) as client:
        client.play(
            START,
            ANSWERED,
            agent("a1", "上午好，中国移动，很高兴为您服务", 2000),
            customer("c1", "你好", 3000),
        )
        client.call_id = call_id  # type: ignore[attr-defined]
        yield client


@pytest.mark.parametrize(("name", "frame", "code", "detail"), BAD, ids=[b[0] for b in BAD])
def test_bad_frame_gets_an_error_and_the_call_goes_on(
    live: CallClient, http: httpx.Client, name: str, frame: Any, code: str, detail: str
) -> None:
    before = http.get(f"/v1/calls/{live.call_id}").json()  # type: ignore[attr-defined]
    live.send(frame)
    error = live.recv()
    assert error["type"] == "error" and error["code"] == code, error
    assert detail in error["detail"], error
    assert "seq" not in error
    # The connection is open and the call goes on: a forbidden phrase still alerts, in sequence.
    (alert,) = live.play(agent("a2", "不关我的事", 5000))
    assert (alert["type"], alert["rule"], alert["segment"]) == ("alert", "forbidden.shirk", "a2")
    after = http.get(f"/v1/calls/{live.call_id}").json()  # type: ignore[attr-defined]
    assert after["phase"] == before["phase"] == "answering"
    assert len(after["alerts"]) == len(before["alerts"]) + 1


def test_fragment_for_a_final_segment(live: CallClient) -> None:
    live.send(agent("a1", "again", 4000))
    error = live.recv()
    assert (error["type"], error["code"]) == ("error", "segment_closed")
    assert live.sync() == []


def test_duplicate_seq_is_acknowledged_and_ignored(live: CallClient) -> None:
    first = live.play({**agent("a2", "不关我的事", 5000), "seq": 7})
    assert [e["type"] for e in first] == ["alert", "ack"] and first[-1]["seq"] == 7
    again = live.play({**agent("a2", "不关我的事", 5000), "seq": 7})
    assert again == [{"type": "ack", "seq": 7}]


def test_resume_replays_exactly_once_in_order(live: CallClient, server: str) -> None:
    live.play(agent("a2", "不关我的事", 5000))
    with CallClient(server, live.call_id, KEY_A) as late:  # type: ignore[attr-defined]
        replay = late.play({"type": "resume", "last_event_seq": 2})
        seqs = [e["seq"] for e in replay]
        assert seqs == list(range(3, seqs[-1] + 1)) and replay[-1]["type"] == "alert"
        live.play(agent("a3", "好的", 6000))
        assert late.sync() == []  # nothing new, nothing twice


@pytest.mark.parametrize(("fmt", "code"), [("nope", 1003), ("huashu", None)])
def test_the_format_is_chosen_per_connection_and_an_unknown_one_closes_1003(
    server: str, fmt: str, code: int | None
) -> None:
    with CallClient(server, f"fmt-{next(_ids)}", f"{KEY_A}&format={fmt}") as client:
        if code is None:  # PROTOCOL's own format, named
            client.send({**START, "seq": 1})
            assert client.recv() == {"type": "ack", "seq": 1}
            return
        with pytest.raises(ConnectionClosed) as info:
            client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == code
        assert "huashu" in info.value.rcvd.reason  # the formats there are


def test_unknown_call_without_start_closes_4404(server: str) -> None:
    with CallClient(server, f"nobody-{next(_ids)}", KEY_A) as client:
        client.send({"type": "ping"})
        with pytest.raises(ConnectionClosed) as info:
            client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4404


def test_start_with_an_unknown_script_closes_4404_with_the_reason(server: str) -> None:
    with CallClient(server, f"noscript-{next(_ids)}", KEY_A) as client:
        client.send({**START, "script": "nope"})
        error = client.recv()
        assert error["code"] == "unknown_script" and "cmcc-10086" in error["detail"]
        with pytest.raises(ConnectionClosed) as info:
            client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4404


@pytest.mark.parametrize(("token", "code"), [(None, 4401), ("wrong", 4401)])
def test_bad_or_missing_token_closes_4401(server: str, token: str | None, code: int) -> None:
    with CallClient(server, f"auth-{next(_ids)}", token) as client:
        with pytest.raises(ConnectionClosed) as info:
            client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == code


def test_token_of_another_call_closes_4403_and_another_tenants_call_4404(
    server: str, http: httpx.Client
) -> None:
    """A call token for another call is refused (4403) before any call is looked up; another
    tenant's key names that tenant's own calls, where this id is no call (4404, as a guessed
    id: nothing says the id exists elsewhere)."""
    mine = http.post(
        "/v1/calls", json={"script": "cmcc-10086", "call_id": f"auth-{next(_ids)}"}
    ).json()
    other = http.post(
        "/v1/calls", json={"script": "cmcc-10086", "call_id": f"auth-{next(_ids)}"}
    ).json()
    with (
        CallClient(server, other["call_id"], mine["token"]) as client,
        pytest.raises(ConnectionClosed) as info,
    ):
        client.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 4403
    with (
        CallClient(server, mine["call_id"], KEY_B) as client,
        pytest.raises(ConnectionClosed) as info,
    ):
        client.send({"type": "ping"})
        client.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 4404
    with CallClient(server, mine["call_id"], mine["token"]) as client:
        assert client.sync() == []


REST_BAD = [
    ("post", "/v1/calls", "not json", 422, "invalid_message"),
    ("post", "/v1/calls", {"script": 5}, 422, "script"),
    ("post", "/v1/calls", {"script": "nope"}, 404, "unknown_script"),
    ("post", "/v1/calls", {"script": "cmcc-10086", "timezone": "Mars/Olympus"}, 422, "time zone"),
    ("post", "/v1/calls", {"script": "cmcc-10086", "call_id": "bad id!"}, 422, "call_id"),
    ("get", "/v1/calls/none-such", None, 404, "unknown_call"),
    ("post", "/v1/calls/none-such/events", {"name": "hold"}, 404, "unknown_call"),
    ("post", "/v1/scripts/cmcc-10086/check", {"speaker": "agent"}, 422, "text"),
    ("post", "/v1/scripts/nope/check", {"text": "你好"}, 404, "unknown_script"),
    ("get", "/v1/scripts/nope", None, 404, "unknown_script"),
    ("get", "/v1/calls?since=notatime", None, 422, "since"),
    ("get", "/v1/calls?until=0.5", None, 422, "ISO-8601"),
    ("get", "/v1/calls?since=1795312980", None, 422, "ISO-8601"),
    ("post", "/v1/calls", b"\xff\xfe{", 400, "invalid_message"),
    ("get", "/v1/no-such-path", None, 404, "not_found"),
    ("delete", "/v1/calls", None, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"),
    REST_BAD,
    ids=[f"{r[0]} {r[1]} {r[3]}" for r in REST_BAD],
)
def test_rest_bad_input_is_4xx_with_a_reason(
    http: httpx.Client, method: str, path: str, body: Any, status: int, reason: str
) -> None:
    if isinstance(body, (str, bytes)):
        response = http.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = http.request(method, path, json=body)
    assert response.status_code == status, response.text
    payload = response.json()
    assert reason in json.dumps(payload, ensure_ascii=False), payload
    assert set(payload) == {"error", "detail"} and payload["detail"]


def test_rest_needs_a_key(server: str) -> None:
    assert httpx.get(f"{server}/v1/calls").status_code == 401
    assert (
        httpx.get(f"{server}/v1/calls", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_duplicate_call_id_is_409(http: httpx.Client) -> None:
    call_id = f"dup-{next(_ids)}"
    assert (
        http.post("/v1/calls", json={"script": "cmcc-10086", "call_id": call_id}).status_code == 201
    )
    response = http.post("/v1/calls", json={"script": "cmcc-10086", "call_id": call_id})
    assert response.status_code == 409 and response.json()["error"] == "call_exists"


def test_fragment_after_hangup_over_rest_is_409(http: httpx.Client) -> None:
    call_id = http.post("/v1/calls", json={"script": "cmcc-10086"}).json()["call_id"]
    http.post(f"/v1/calls/{call_id}/events", json={"name": "answered"})
    http.post(f"/v1/calls/{call_id}/events", json={"name": "hangup", "by": "customer"})
    response = http.post(
        f"/v1/calls/{call_id}/fragments", json={"speaker": "agent", "segment": "a", "text": "你好"}
    )
    assert response.status_code == 409 and response.json()["error"] == "call_ended"


def test_a_refused_input_with_a_seq_is_acknowledged(live: CallClient) -> None:
    live.send({**agent("a1", "again", 4000), "seq": 3})
    ack, error = live.recv(), live.recv()
    assert ack == {"type": "ack", "seq": 3}
    assert (error["type"], error["code"]) == ("error", "segment_closed")


def test_a_ping_with_a_processed_seq_still_gets_its_pong(live: CallClient) -> None:
    for _ in range(2):
        live.send({"type": "ping", "seq": 4})
        assert live.recv_until(lambda e: e["type"] == "pong") == [
            {"type": "ack", "seq": 4},
            {"type": "pong"},
        ]


def test_resume_after_the_latest_event_replays_nothing(live: CallClient, server: str) -> None:
    with CallClient(server, live.call_id, KEY_A) as late:  # type: ignore[attr-defined]
        assert late.play({"type": "resume", "last_event_seq": 10_000}) == []
        (alert,) = live.play(agent("a2", "不关我的事", 5000))
        assert late.sync() == [alert]


def test_a_replayed_ring_long_ago_is_not_a_slow_answer(server: str) -> None:
    """The ring time of ``start`` places the call in time: a call replayed days later is not
    'not answered within 15 s' before its answer arrives."""
    with CallClient(server, f"replay-{next(_ids)}", KEY_A) as client:
        assert client.play(START) == []
        events = client.play(ANSWERED)
        assert [e["type"] for e in events] == ["phase", "prompt"]


def test_rest_fragment_text_too_long_is_413(http: httpx.Client) -> None:
    call_id = http.post("/v1/calls", json={"script": "cmcc-10086"}).json()["call_id"]
    response = http.post(
        f"/v1/calls/{call_id}/fragments",
        json={"speaker": "agent", "segment": "a", "text": "好" * 4097},
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "too_large" and "4096" in response.json()["detail"]


def test_rest_with_a_call_token(server: str, http: httpx.Client) -> None:
    mine = http.post("/v1/calls", json={"script": "cmcc-10086"}).json()
    other = http.post("/v1/calls", json={"script": "cmcc-10086"}).json()
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {mine['token']}"}
    ) as client:
        assert client.get(f"/v1/calls/{mine['call_id']}").json()["phase"] == "ringing"
        forbidden = client.get(f"/v1/calls/{other['call_id']}")
        assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
        assert client.get("/v1/calls").status_code == 401  # a call token lists nothing
    assert (
        httpx.get(
            f"{server}/v1/calls/{mine['call_id']}", headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )


def test_a_start_far_in_time_is_refused_and_creates_nothing(
    server: str, http: httpx.Client
) -> None:
    call_id = f"far-{next(_ids)}"
    with CallClient(server, call_id, KEY_A) as client:
        client.send({**START, "ring_at": "9999-12-31T23:59:59+08:00", "seq": 1})
        error = client.recv()
        assert (error["type"], error["code"]) == ("error", "invalid_message")
        assert "start.ring_at" in error["detail"]
        assert http.get(f"/v1/calls/{call_id}").status_code == 404  # nothing half made
        assert client.play({**START, "seq": 2})[0] == {"type": "ack", "seq": 2}


def test_the_dry_run_refuses_a_time_it_cannot_place(http: httpx.Client) -> None:
    for at in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", 1795312980):
        answer = http.post("/v1/scripts/cmcc-10086/check", json={"text": "你好", "at": at})
        assert answer.status_code == 422 and "at" in answer.json()["detail"], answer.text


REST_RANGES = [
    ("post", "/v1/calls", {"script": "cmcc-10086", "ring_at": "9999-12-31T23:59:59Z"}, "ring_at"),
    ("post", "/v1/calls", {"script": "cmcc-10086", "ring_at": 1795312980}, "ring_at"),
    ("post", "/v1/calls/{id}/events", {"name": "answered", "at": "9999-12-31T23:59:59Z"}, "at"),
    ("post", "/v1/calls/{id}/events", {"name": "answered", "at": 123}, "at"),
    (
        "post",
        "/v1/calls/{id}/fragments",
        {"speaker": "agent", "segment": "x", "text": "你", "end_ms": 10**30},
        "end_ms",
    ),
    (
        "post",
        "/v1/calls/{id}/fragments",
        {"speaker": "agent", "segment": "x", "text": "你", "end_ms": 10**12},
        "end_ms",
    ),
    (
        "post",
        "/v1/calls/{id}/fragments",
        {"speaker": "agent", "segment": "x", "text": "你", "start_ms": True},
        "start_ms",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), REST_RANGES)
def test_rest_refuses_out_of_range_values_naming_the_field_and_changes_nothing(
    http: httpx.Client, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    call_id = http.post("/v1/calls", json={"script": "cmcc-10086"}).json()["call_id"]
    before = http.get(f"/v1/calls/{call_id}").json()
    answer = http.request(method, path.format(id=call_id), json=body)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_message", answer.text
    assert field in answer.json()["detail"]
    assert http.get(f"/v1/calls/{call_id}").json() == before
    # The call goes on: answered and a report, no internal error.
    assert http.post(f"/v1/calls/{call_id}/events", json={"name": "answered"}).status_code == 200
    report = http.post(f"/v1/calls/{call_id}/events", json={"name": "hangup", "by": "customer"})
    assert report.status_code == 200 and report.json()["events"][-1]["type"] == "report"
    assert http.get(f"/v1/calls/{call_id}/report").status_code == 200
