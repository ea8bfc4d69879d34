"""Tencent's real-time ASR (app/asr/tencent.py): slice sequences 0-1-2, 0-2 and a lone 2,
the handshake, the end, a repeated final, failures."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asr.engines import brief, decoder, feed, stream


def test_the_docs_examples() -> None:
    assert brief(feed(decoder("tencent"), stream("tencent", "doc_examples"))) == [
        ("agent-t-0", "实时", False, 0, 1240),
        ("agent-t-0", "实时语音识别", True, 0, 2840),
    ]  # the handshake and the end carry nothing


def test_the_three_slice_sequences_a_repeated_final_and_a_partial_after_it() -> None:
    assert brief(feed(decoder("tencent"), stream("tencent", "agent_call"))) == [
        ("agent-t-0", "上午好", False, 500, 1200),
        ("agent-t-0", "上午好中国移动", False, 500, 1900),
        ("agent-t-0", "上午好，中国移动，很高兴为您服务", True, 500, 2500),
        ("agent-t-1", "这个真不关我的事", False, 5500, 6500),
        ("agent-t-1", "这个真不关我的事，您去营业厅问吧", True, 5500, 8000),
        ("agent-t-2", "请问我刚才给您的解释您明白吗", True, 10500, 12000),
    ]


def test_a_new_voice_id_on_the_connection_opens_a_new_series() -> None:
    dec = decoder("tencent")
    first = stream("tencent", "doc_examples")[:3]
    again = [{**m, "voice_id": "another"} for m in first]
    assert [o[0] for o in brief(feed(dec, first + again))] == [
        "agent-t-0",
        "agent-t-0",
        "agent-t-1.0",
        "agent-t-1.0",
    ]


def test_a_failure_is_the_engines_error() -> None:
    [refused] = brief(feed(decoder("tencent"), stream("tencent", "doc_error")))
    assert refused == ("asr_error", "tencent: code: 4008 后台识别服务器音频分片等待超时")


RESULT = {"slice_type": 1, "index": 0, "start_time": 0, "end_time": 10, "voice_text_str": "好"}
BAD: list[tuple[dict[str, Any], str]] = [
    ({"message": "success"}, "tencent: code: missing"),
    ({"code": "0"}, "tencent: code: must be an integer"),
    ({"code": 0, "result": []}, "tencent: result: must be an object"),
    (
        {"code": 0, "result": {**RESULT, "slice_type": 3}},
        "tencent: result.slice_type: must be 0, 1 or 2",
    ),
    ({"code": 0, "result": {**RESULT, "slice_type": True}}, "tencent: result.slice_type"),
    ({"code": 0, "result": {**RESULT, "index": 1.5}}, "tencent: result.index: must be an integer"),
    ({"code": 0, "result": {**RESULT, "voice_text_str": None}}, "tencent: result.voice_text_str"),
    (
        {"code": 0, "result": {k: v for k, v in RESULT.items() if k != "end_time"}},
        "tencent: result.end_time: missing",
    ),
]


@pytest.mark.parametrize(("message", "detail"), BAD)
def test_malformed_messages_name_the_field(message: dict[str, Any], detail: str) -> None:
    [refused] = brief(feed(decoder("tencent"), [message]))
    assert refused[0] == "invalid_message" and refused[1].startswith(detail), refused
