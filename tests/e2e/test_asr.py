"""ASR engines' own messages through a real server and WebSocket client: one connection per leg
(``?format=…&speaker=…``), both feeding one call; each engine's examples and pitfalls
(tests/data/asr) and its malformed messages."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from app.asr.vendors import ADAPTERS
from tests.asr.engines import recorded, stream
from tests.e2e.client import ANSWERED, START, CallClient, Event
from tests.e2e.conftest import KEY_A

FORMATS = [a.format for a in ADAPTERS]
_ids = itertools.count()
HANGUP = {"type": "event", "name": "hangup", "by": "customer", "at": "2026-11-22T10:00:30+08:00"}


def leg(server: str, call_id: str, fmt: str, speaker: str | None, extra: str = "") -> CallClient:
    query = f"{KEY_A}&format={fmt}" + (f"&speaker={speaker}" if speaker else "") + extra
    return CallClient(server, call_id, query)


def play(client: CallClient, messages: list[dict[str, Any]]) -> list[Event]:
    for message in messages:
        client.send(message)
    return client.sync()


def errors(events: list[Event]) -> list[Event]:
    return [e for e in events if e["type"] == "error"]


def report(server: str, call_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server}/v1/calls/{call_id}/report", headers={"Authorization": f"Bearer {KEY_A}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_legs_of_one_call_and_an_alert_on_the_agents(server: str, fmt: str) -> None:
    call_id = f"asr-{fmt}-{next(_ids)}"
    with leg(server, call_id, fmt, "agent") as agent:
        assert errors(play(agent, [START, ANSWERED])) == []
        said = play(agent, stream(fmt, "agent_call"))
        assert errors(said) == []
        alerts = [e for e in said if e["type"] == "alert"]
        assert [(a["rule"], a["speaker"], a["state"]) for a in alerts] == [
            ("forbidden.shirk", "agent", "provisional")
        ]
        assert alerts[0]["segment"].startswith("agent-")
        updates = [e for e in said if e["type"] == "alert_update"]
        assert [(u["id"], u["state"]) for u in updates] == [(alerts[0]["id"], "confirmed")]
        with leg(server, call_id, fmt, "customer") as customer:
            heard = play(customer, stream(fmt, "customer_call"))
            assert errors(heard) == []
            # The customer's leg follows the call from its first message on.
            assert [e["type"] for e in heard if e["type"] == "alert"] == []
            play(customer, [HANGUP])
    lines = report(server, call_id)["transcript"]
    speakers = {line["speaker"] for line in lines}
    assert speakers == {"agent", "customer"}, lines
    for line in lines:
        assert line["segment"].startswith(line["speaker"] + "-")
    [question] = [line for line in lines if line["speaker"] == "customer"]
    # ms after the answer, whatever the engine's unit (Vosk's and Transcribe's are seconds).
    assert (question["text"], question["start_ms"], question["end_ms"]) == (
        "我想查一下这个月的话费",
        3000,
        5000,
    )


def test_a_dual_channel_transcribe_stream_carries_both_legs(server: str) -> None:
    call_id = f"asr-dual-{next(_ids)}"
    with leg(server, call_id, "transcribe", None) as both:
        play(both, [START, ANSWERED])
        said = play(both, stream("transcribe", "dual_channel_call"))
        assert errors(said) == []
        assert [(e["rule"], e["speaker"]) for e in said if e["type"] == "alert"] == [
            ("forbidden.shirk", "agent")
        ]
        play(both, [HANGUP])
    lines = report(server, call_id)["transcript"]
    assert [(line["speaker"], line["start_ms"], line["end_ms"]) for line in lines] == [
        ("agent", 500, 2500),
        ("customer", 3000, 5000),
        ("agent", 5500, 8000),
    ]


def test_offset_ms_places_a_leg_that_began_after_the_answer(server: str) -> None:
    call_id = f"asr-offset-{next(_ids)}"
    with leg(server, call_id, "tencent", "customer", "&offset_ms=60000") as customer:
        play(customer, [START, ANSWERED])
        play(customer, stream("tencent", "customer_call") + [HANGUP])
    [line] = report(server, call_id)["transcript"]
    assert (line["start_ms"], line["end_ms"]) == (63000, 65000)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_engines_own_examples_decode_or_say_what_the_engine_said(server: str, fmt: str) -> None:
    """Every verbatim example of the engine's docs or source: read without an error, except
    the engine's own failure reports, which come back as ``asr_error`` naming the format."""
    call_id = f"asr-doc-{fmt}-{next(_ids)}"
    with leg(server, call_id, fmt, "agent") as agent:
        play(agent, [START, ANSWERED])
        for name, example in recorded(fmt)["streams"].items():
            if not example["verbatim"]:
                continue
            got = errors(play(agent, example["messages"]))
            if "error" in name:
                assert [e["code"] for e in got] == ["asr_error"], (name, got)
                assert got[0]["detail"].startswith(f"{fmt}: ")
            else:
                assert got == [], (name, got)


MALFORMED: dict[str, list[tuple[Any, str]]] = {
    "funasr": [({"mode": "2pass-online", "text": 5}, "funasr: text")],
    "vosk": [({"partial": ["一"]}, "vosk: partial"), ({"eof": 1}, "vosk: partial: missing")],
    "aliyun": [({"header": {"name": "SentenceEnd"}}, "aliyun: payload: missing")],
    "tencent": [({"code": 0, "result": {"slice_type": 9}}, "tencent: result.slice_type")],
    "iflytek": [({"action": "result", "code": "0", "data": "{oops"}, "iflytek: data: not JSON")],
    "transcribe": [({"Transcript": {"Results": [{}]}}, "transcribe: Transcript.Results[0].")],
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_malformed_messages_are_errors_naming_format_and_field_and_the_call_goes_on(
    server: str, fmt: str
) -> None:
    call_id = f"asr-bad-{fmt}-{next(_ids)}"
    with leg(server, call_id, fmt, "agent") as agent:
        play(agent, [START, ANSWERED])
        bad: list[tuple[Any, str]] = [
            *MALFORMED[fmt],
            ("{not json", f"{fmt}: not JSON"),
            ("[1]", f"{fmt}: message: must be a JSON object"),
            (b"\x00\x01", f"{fmt}: send the engine's JSON as text frames"),
            (
                {"type": "fragment", "speaker": "agent", "segment": "x", "text": "你"},
                f"{fmt}: type",
            ),
        ]
        for message, detail in bad:
            [error] = play(agent, [message])
            assert error["type"] == "error" and error["detail"].startswith(detail), error
        # Still open, and the call goes on.
        said = play(agent, stream(fmt, "agent_call"))
        assert errors(said) == [] and any(e["type"] == "alert" for e in said)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("&format=tencent", "speaker"),
        ("&format=vosk&speaker=robot", "speaker: must be agent or customer"),
        ("&format=aliyun&speaker=agent&offset_ms=soon", "offset_ms"),
        ("&speaker=agent", "only for ASR formats"),
    ],
)
def test_a_leg_the_format_cannot_take_closes_1003(server: str, query: str, reason: str) -> None:
    with CallClient(server, f"asr-leg-{next(_ids)}", KEY_A + query) as client:
        with pytest.raises(ConnectionClosed) as info:
            client.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1003
    assert reason in info.value.rcvd.reason


def test_an_engines_leg_of_an_unknown_call_closes_4404(server: str) -> None:
    with leg(server, f"asr-none-{next(_ids)}", "tencent", "agent") as agent:
        agent.send(stream("tencent", "doc_examples")[0])
        with pytest.raises(ConnectionClosed) as info:
            agent.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 4404
