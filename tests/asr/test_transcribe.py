"""Amazon Transcribe's TranscriptEvent (app/asr/transcribe.py): results by ResultId, IsPartial,
seconds, several results per event, channels."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asr.engines import brief, decoder, feed, stream


def test_the_sdks_example_is_a_partial_in_seconds() -> None:
    assert brief(feed(decoder("transcribe"), stream("transcribe", "sdk_example"))) == [
        ("agent-t-foobar83-265d-4c95-9056-50d14db14710", "Wanted Chief", False, 110, 860)
    ]


def test_a_final_and_the_next_partial_in_one_event_and_no_partial_after_a_final() -> None:
    out = brief(feed(decoder("transcribe"), stream("transcribe", "agent_call")))
    assert [(o[1], o[2]) for o in out] == [
        ("上午好中国移动", False),
        ("上午好，中国移动，很高兴为您服务", True),
        ("这个真不关我的事", False),
        ("这个真不关我的事，您去营业厅问吧", True),
        ("请问", False),
    ]  # the late partial of the second result is dropped


def test_a_dual_channel_stream_carries_both_legs() -> None:
    out = brief(feed(decoder("transcribe", None), stream("transcribe", "dual_channel_call")))
    assert [(o[0].split("-")[0], o[1], o[2]) for o in out] == [
        ("agent", "上午好，中国移动，很高兴为您服务", True),
        ("customer", "我想查一下", False),
        ("customer", "我想查一下这个月的话费", True),
        ("agent", "这个真不关我的事", False),
        ("agent", "这个真不关我的事，您去营业厅问吧", True),
    ]


def test_an_exception_is_the_engines_error() -> None:
    [refused] = brief(feed(decoder("transcribe"), stream("transcribe", "exception")))
    assert refused == ("asr_error", "transcribe: Message: The request was bad.")


GOOD = {
    "ResultId": "r1",
    "IsPartial": True,
    "StartTime": 0.5,
    "EndTime": 1.0,
    "Alternatives": [{"Transcript": "好"}],
}


def event(**fields: Any) -> dict[str, Any]:
    return {"Transcript": {"Results": [{**GOOD, **fields}]}}


BAD: list[tuple[dict[str, Any], str]] = [
    ({"Transcript": {}}, "transcribe: Transcript.Results: missing"),
    ({"Transcript": {"Results": {}}}, "transcribe: Transcript.Results: must be an array"),
    ({"Transcript": {"Results": [1]}}, "transcribe: Transcript.Results[0]: must be an object"),
    (event(ResultId=7), "transcribe: Transcript.Results[0].ResultId: must be a string"),
    (event(ResultId=""), "transcribe: Transcript.Results[0].ResultId: must be 1 to 100"),
    (event(IsPartial="true"), "transcribe: Transcript.Results[0].IsPartial: must be true or false"),
    (event(Alternatives=[]), "transcribe: Transcript.Results[0].Alternatives: must hold"),
    (
        event(Alternatives=[{}]),
        "transcribe: Transcript.Results[0].Alternatives[0].Transcript: missing",
    ),
    (event(StartTime="0.5"), "transcribe: Transcript.Results[0].StartTime: must be seconds"),
    (event(EndTime=-1), "transcribe: Transcript.Results[0].EndTime: must be seconds"),
]


@pytest.mark.parametrize(("message", "detail"), BAD)
def test_malformed_messages_name_the_field(message: dict[str, Any], detail: str) -> None:
    [refused] = brief(feed(decoder("transcribe"), [message]))
    assert refused[0] == "invalid_message" and refused[1].startswith(detail), refused


@pytest.mark.parametrize(
    ("channel", "detail"),
    [
        (None, "ChannelId: missing"),
        ("ch_2", "ChannelId: must be ch_0"),
        (0, "ChannelId: must be ch_0"),
    ],
)
def test_a_dual_channel_stream_needs_known_channels(channel: Any, detail: str) -> None:
    message = event(ChannelId=channel) if channel is not None else event()
    [refused] = brief(feed(decoder("transcribe", None), [message]))
    assert refused[0] == "invalid_message" and detail in refused[1]
