"""Vosk's partial/result messages (app/asr/vosk.py): cumulative partials, finals with word
times in seconds, numbered utterances, repeats sent once, spaces between Chinese words dropped."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asr.engines import brief, decoder, feed, stream


def test_the_api_docs_examples() -> None:
    assert brief(feed(decoder("vosk"), stream("vosk", "api_doc"))) == [
        ("agent-t-0", "cyril one eight zero", False, None, None),
        ("agent-t-0", "what zero zero zero one", True, None, None),
    ]


def test_repeated_partials_are_sent_once_and_word_times_are_seconds() -> None:
    assert brief(feed(decoder("vosk"), stream("vosk", "issue_155_trace"))) == [
        ("agent-t-0", "one", False, None, None),
        ("agent-t-0", "one zero", False, None, None),
        ("agent-t-0", "one zero zero", False, None, None),
        ("agent-t-0", "one zero zero zero", False, None, None),
        ("agent-t-0", "one zero zero zero one", False, None, None),
        ("agent-t-0", "one zero zero zero one", True, 840, 2610),
        ("agent-t-1", "nine", False, None, None),
    ]


def test_the_same_result_sent_twice_is_one_utterance() -> None:
    out = brief(feed(decoder("vosk"), stream("vosk", "issue_40_repeat")))
    assert out[-1] == ("agent-t-0", "i usually get up at eight o'clock", True, 1590, 5040)
    assert len(out) == 3


def test_a_chinese_models_call() -> None:
    out = brief(feed(decoder("vosk"), stream("vosk", "agent_call")))
    assert out == [
        ("agent-t-0", "上午好中国移动", False, None, None),
        ("agent-t-0", "上午好中国移动很高兴为您服务", True, 500, 2500),
        ("agent-t-1", "这个真不关我的事", False, None, None),
        ("agent-t-1", "这个真不关我的事您去营业厅问吧", True, 5500, 8000),
    ]


def test_alternatives_take_the_best_one_and_an_empty_final_is_nothing() -> None:
    out = brief(feed(decoder("vosk", "customer"), stream("vosk", "customer_call")))
    assert out == [
        ("customer-t-0", "我想查", False, None, None),
        ("customer-t-0", "我想查一下这个月的话费", True, 3000, 5000),
    ]


def test_the_same_words_said_again_later_are_a_new_utterance() -> None:
    said = {
        "text": "好 的",
        "result": [
            {"word": "好", "start": 1.0, "end": 1.2},
            {"word": "的", "start": 1.2, "end": 1.4},
        ],
    }
    again = {
        "text": "好 的",
        "result": [
            {"word": "好", "start": 9.0, "end": 9.2},
            {"word": "的", "start": 9.2, "end": 9.4},
        ],
    }
    assert [f[0] for f in brief(feed(decoder("vosk"), [said, again]))] == ["agent-t-0", "agent-t-1"]


BAD: list[tuple[dict[str, Any], str]] = [
    ({"partial": 1}, "vosk: partial: must be a string"),
    ({"text": None}, "vosk: text: must be a string"),
    ({"alternatives": []}, "vosk: alternatives: must not be empty"),
    ({"alternatives": ["x"]}, "vosk: alternatives[0]: must be an object"),
    ({"alternatives": [{"confidence": 1}]}, "vosk: alternatives[0].text: missing"),
    ({"text": "好", "result": "好"}, "vosk: result: must be an array"),
    ({"text": "好", "result": [1]}, "vosk: result[0]: must be an object"),
    ({"text": "好", "result": [{"word": "好", "start": "0", "end": 1}]}, "vosk: result[0].start"),
    ({"text": "好", "result": [{"word": "好", "start": -1, "end": 1}]}, "vosk: result[0].start"),
    ({"text": "好", "result": [{"word": "好", "start": 0, "end": True}]}, "vosk: result[0].end"),
    ({"eof": 1}, "vosk: partial: missing"),
]


@pytest.mark.parametrize(("message", "detail"), BAD)
def test_malformed_messages_name_the_field(message: dict[str, Any], detail: str) -> None:
    [refused] = brief(feed(decoder("vosk"), [message]))
    assert refused[0] == "invalid_message" and refused[1].startswith(detail), refused
