"""FunASR's 2pass messages (app/asr/funasr.py): online pieces are increments, the offline
message replaces them and ends the sentence, ``is_final`` is no sentence end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asr.engines import brief, decoder, feed, stream


def test_the_protocol_docs_example_is_an_online_increment() -> None:
    assert brief(feed(decoder("funasr"), stream("funasr", "doc_example"))) == [
        ("agent-t-0", "asr ouputs", False, None, None)  # is_final true: still a partial
    ]


def test_online_pieces_accumulate_and_the_offline_text_replaces_them() -> None:
    assert brief(feed(decoder("funasr"), stream("funasr", "issue_2396_trace"))) == [
        ("agent-t-0", "请问", False, None, None),
        ("agent-t-0", "请问有什么", False, None, None),
        ("agent-t-0", "请问有什么事", True, None, None),
        ("agent-t-1", "呃", False, None, None),
        ("agent-t-1", "呃是不是那", False, None, None),
        ("agent-t-1", "呃，是不是那个的呢个", True, None, None),
    ]


def test_is_final_on_an_online_piece_does_not_end_the_sentence() -> None:
    dec = decoder("funasr")
    messages = stream("funasr", "python_1x_is_final") * 2
    assert brief(feed(dec, messages)) == [
        ("agent-t-0", "二零一", False, None, None),
        ("agent-t-0", "二零一二零一", False, None, None),
    ]


def test_the_flush_after_is_speaking_false_carries_nothing() -> None:
    assert feed(decoder("funasr"), stream("funasr", "cpp_flush")) == []


def test_sentence_numbers_and_times_of_the_cpp_server() -> None:
    assert brief(feed(decoder("funasr", "customer"), stream("funasr", "customer_call"))) == [
        ("customer-t-0", "我想查一下", False, None, None),
        ("customer-t-0", "我想查一下这个月的话费", False, None, None),
        ("customer-t-0", "我想查一下这个月的话费", True, 3000, 5000),
    ]


def test_leading_punctuation_of_an_offline_text_is_dropped() -> None:
    out = brief(feed(decoder("funasr", "customer", 250), stream("funasr", "late_punctuation")))
    assert out[-1] == ("customer-t-1", "没有了", True, 9250, 10250)  # stamp_sents, dummy skipped


def test_online_mode_without_sentence_ends_is_cut_at_the_text_limit() -> None:
    from app.asr import Leg, decoder_for
    from app.config import Settings

    dec = decoder_for("funasr", Settings(max_text_chars=6), Leg("agent", 0, "t"))
    pieces = [{"mode": "online", "text": t, "wav_name": "w"} for t in ("你好", "请问", "有什么")]
    assert brief(feed(dec, pieces)) == [
        ("agent-t-0", "你好", False, None, None),
        ("agent-t-0", "你好请问", False, None, None),
        ("agent-t-0", "你好请问", True, None, None),
        ("agent-t-1", "有什么", False, None, None),
    ]


def test_a_new_index_starts_a_new_sentence_even_without_an_offline_message() -> None:
    messages = [
        {"mode": "2pass-online", "text": "你好", "index": 4, "slice_type": 0},
        {"mode": "2pass-online", "text": "请问", "index": 5, "slice_type": 0},
        {"mode": "2pass-offline", "text": "你好。", "index": 4, "slice_type": 2},  # too late
    ]
    assert brief(feed(decoder("funasr"), messages)) == [
        ("agent-t-4", "你好", False, None, None),
        ("agent-t-5", "请问", False, None, None),
    ]


BAD: list[tuple[dict[str, Any], str]] = [
    ({"mode": "2pass-online"}, "funasr: text: missing"),
    ({"mode": "2pass-online", "text": 5}, "funasr: text: must be a string"),
    ({"text": "你好"}, "funasr: mode: missing"),
    ({"mode": ["2pass"], "text": "你好"}, "funasr: mode: must be a string"),
    ({"mode": "3pass", "text": "你好"}, "funasr: mode: unknown mode '3pass'"),
    ({"mode": "2pass-online", "text": "你", "index": "1"}, "funasr: index: must be an integer"),
    ({"mode": "2pass-online", "text": "你", "index": -1}, "funasr: index: must be an integer"),
    (
        {"mode": "2pass-offline", "text": "你", "start_time": "0", "end_time": 10},
        "funasr: start_time: must be an integer",
    ),
    (
        {"mode": "2pass-offline", "text": "你", "stamp_sents": {}},
        "funasr: stamp_sents: must be an array",
    ),
    (
        {"mode": "2pass-offline", "text": "你", "stamp_sents": [{"start": "a", "end": 1}]},
        "funasr: stamp_sents[0].start",
    ),
]


@pytest.mark.parametrize(("message", "detail"), BAD)
def test_malformed_messages_name_the_field(message: dict[str, Any], detail: str) -> None:
    [refused] = brief(feed(decoder("funasr"), [message]))
    assert refused[0] == "invalid_message" and refused[1].startswith(detail), refused
