"""Alibaba NLS SpeechTranscriber events (app/asr/aliyun.py): sentences by ``payload.index``,
cumulative results, ``stash_result`` never appended, tasks, failures."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.asr.engines import brief, decoder, feed, stream


def test_the_real_messages_of_fs_mod_asr_alinls() -> None:
    dec = decoder("aliyun")
    assert brief(feed(dec, stream("aliyun", "readme_sentence_end"))) == [
        ("agent-t-3", "你好。", True, 3600, 4950)
    ]
    # Another task on the same connection: its sentence 1 is a segment of its own.
    assert brief(feed(dec, stream("aliyun", "readme_result_changed"))) == [
        ("agent-t-1.1", "结果是100还是150 ？", False, None, 6340)
    ]


def test_a_call_stash_result_is_not_appended_and_late_partials_are_dropped() -> None:
    out = brief(feed(decoder("aliyun"), stream("aliyun", "agent_call")))
    assert out == [
        ("agent-t-1", "上午好中国移动", False, 500, 1500),
        ("agent-t-1", "上午好，中国移动，很高兴为您服务", True, 500, 2500),
        ("agent-t-2", "这个真不关我的事", False, 5500, 6500),
        ("agent-t-2", "这个真不关我的事，您去营业厅问吧", True, 5500, 8000),
    ]


def test_a_partial_of_an_earlier_sentence_is_out_of_order() -> None:
    messages = copy.deepcopy(stream("aliyun", "agent_call"))
    # Sentence 2 begins before sentence 1's end arrives: the late end is dropped, not
    # mistaken for a new sentence that would close sentence 2.
    reordered = [messages[0], messages[1], messages[2], messages[4], messages[5], messages[3]]
    out = brief(feed(decoder("aliyun"), reordered))
    assert [o[0] for o in out] == ["agent-t-1", "agent-t-2"]


def test_a_failed_task_is_the_engines_error() -> None:
    [refused] = brief(feed(decoder("aliyun"), stream("aliyun", "task_failed")))
    assert refused[0] == "asr_error" and refused[1].startswith("aliyun: header.status: 40000004")


BAD: list[tuple[dict[str, Any], str]] = [
    ({"payload": {}}, "aliyun: header: missing"),
    ({"header": []}, "aliyun: header: must be an object"),
    ({"header": {"status": 20000000}}, "aliyun: header.name: missing"),
    ({"header": {"name": "Dance", "status": 20000000}}, "aliyun: header.name: unknown event"),
    ({"header": {"name": "SentenceEnd", "status": "ok"}}, "aliyun: header.status: must be"),
    ({"header": {"name": "SentenceEnd", "status": 20000000}}, "aliyun: payload: missing"),
    (
        {
            "header": {"name": "SentenceEnd", "status": 20000000},
            "payload": {"index": "1", "time": 5},
        },
        "aliyun: payload.index: must be an integer",
    ),
    (
        {"header": {"name": "SentenceEnd", "status": 20000000}, "payload": {"index": 1, "time": 5}},
        "aliyun: payload.result: missing",
    ),
    (
        {
            "header": {"name": "SentenceEnd", "status": 20000000},
            "payload": {"index": 1, "time": -5, "result": ""},
        },
        "aliyun: payload.time: must be an integer",
    ),
    (
        {
            "header": {"name": "SentenceEnd", "status": 20000000},
            "payload": {"index": 1, "time": 5, "result": "好", "begin_time": "0"},
        },
        "aliyun: payload.begin_time: must be an integer",
    ),
]


@pytest.mark.parametrize(("message", "detail"), BAD)
def test_malformed_messages_name_the_field(message: dict[str, Any], detail: str) -> None:
    [refused] = brief(feed(decoder("aliyun"), [message]))
    assert refused[0] == "invalid_message" and refused[1].startswith(detail), refused
