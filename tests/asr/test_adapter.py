"""What every ASR adapter shares (app/asr/adapter.py): the segment rules, the frame checks,
PROTOCOL's control messages on an engine's connection, and the leg the URL names."""

from __future__ import annotations

import pytest

from app.asr import DECODERS, Leg, Refused, decoder_for, leg_from_query
from app.asr.adapter import Segments, join_cjk
from app.asr.vendors import ADAPTERS
from app.config import Settings
from tests.asr.engines import SETTINGS, decoder, frame

FORMATS = [a.format for a in ADAPTERS]


def segments(offset_ms: int = 0, max_chars: int = 100) -> Segments:
    return Segments("fmt", "agent", Leg("agent", offset_ms, "t"), max_chars)


class TestSegments:
    def test_ids_are_scoped_by_leg_and_connection_and_times_shift_by_the_offset(self) -> None:
        fragment = segments(offset_ms=1000).fragment("3", "你好", False, 0, 500)
        assert fragment is not None
        assert (fragment.speaker, fragment.segment) == ("agent", "agent-t-3")
        assert (fragment.start_ms, fragment.end_ms) == (1000, 1500)

    def test_never_a_partial_after_its_segments_final(self) -> None:
        s = segments()
        assert s.fragment("0", "你好", True) is not None
        assert s.fragment("0", "你好吗", False) is None
        assert s.fragment("0", "你好", True) is None  # a repeated final counts once

    def test_an_unchanged_partial_is_sent_once(self) -> None:
        s = segments()
        assert s.fragment("0", "你好", False) is not None
        assert s.fragment("0", "你好", False) is None
        assert s.fragment("0", "你好吗", False) is not None
        assert s.fragment("0", "你好吗", True) is not None  # the final, even with the same words

    def test_an_empty_hypothesis_opens_no_segment(self) -> None:
        s = segments()
        assert s.fragment("0", "", False) is None and s.open_key is None
        assert s.fragment("0", "", True) is None
        assert s.fragment("0", "晚了", False) is None  # that sentence was closed, empty
        assert s.fragment("1", "你好", False) is not None
        assert s.fragment("1", "", False) is not None  # the engine took its words back

    def test_a_segment_superseded_by_a_later_one_is_closed(self) -> None:
        s = segments()
        s.fragment("a", "你好", False)
        s.fragment("b", "请问", False)  # the engine finalizes "a" with its last words
        assert s.fragment("a", "你好啊", True) is None

    def test_a_sentence_older_than_one_under_way_is_out_of_order(self) -> None:
        s = segments()
        s.fragment("5", "第五句", False, number=5)
        assert s.fragment("4", "第四句", True, number=4) is None
        s.new_session()  # a new engine session numbers from 0 again
        assert s.fragment("1.0", "新的", False, number=0) is not None

    def test_a_text_beyond_the_limit_is_too_large(self) -> None:
        with pytest.raises(Refused) as refused:
            segments(max_chars=3).fragment("0", "你好你好", False)
        assert refused.value.code == "too_large" and refused.value.detail.startswith("fmt: text")


@pytest.mark.parametrize(
    ("text", "joined"),
    [
        ("中国 移动", "中国移动"),
        ("上午 好  中国 移动", "上午好中国移动"),
        ("one zero zero", "one zero zero"),
        ("请 说 one two", "请说 one two"),
        (" 你好 ", "你好"),
        ("", ""),
    ],
)
def test_join_cjk(text: str, joined: str) -> None:
    assert join_cjk(text) == joined


@pytest.mark.parametrize("fmt", FORMATS)
class TestFrames:
    def test_every_engine_is_a_format(self, fmt: str) -> None:
        assert fmt in DECODERS

    def test_binary_frames_are_refused_naming_the_format(self, fmt: str) -> None:
        with pytest.raises(Refused) as refused:
            decoder(fmt).decode({"type": "websocket.receive", "bytes": b"\x00\x01"})
        assert refused.value.code == "binary_not_supported"
        assert refused.value.detail.startswith(f"{fmt}: ")

    @pytest.mark.parametrize(
        ("text", "code", "detail"),
        [
            ('{"partial": ', "invalid_json", "not JSON"),
            ("[1, 2]", "invalid_message", "message: must be a JSON object"),
            ('"text"', "invalid_message", "message: must be a JSON object"),
            ("{}", "invalid_message", "missing"),
            ('{"type": "fragment", "speaker": "agent"}', "invalid_message", "type: fragments"),
        ],
    )
    def test_unreadable_messages_name_the_format_and_the_field(
        self, fmt: str, text: str, code: str, detail: str
    ) -> None:
        with pytest.raises(Refused) as refused:
            decoder(fmt).decode(frame(text))
        assert refused.value.code == code
        assert refused.value.detail.startswith(f"{fmt}: ") and detail in refused.value.detail

    def test_an_oversized_message_is_too_large(self, fmt: str) -> None:
        with pytest.raises(Refused) as refused:
            decoder(fmt).decode(frame({"text": "好" * 30_000}))
        assert refused.value.code == "too_large"

    def test_protocols_control_messages_pass_through(self, fmt: str) -> None:
        decoded = decoder(fmt).decode(frame({"type": "ping"}))
        assert decoded.kind == "ping" and decoded.item is None
        with pytest.raises(Refused) as refused:
            decoder(fmt).decode(frame({"type": "dance"}))
        assert refused.value.code == "unknown_type"

    def test_each_connection_gets_its_own_decoder(self, fmt: str) -> None:
        assert decoder(fmt) is not decoder(fmt)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "transcribe"])
def test_an_engines_connection_names_its_leg(fmt: str) -> None:
    with pytest.raises(Refused) as refused:
        decoder_for(fmt, SETTINGS, Leg())
    assert refused.value.code == "invalid_query" and "?speaker=agent" in refused.value.detail


def test_protocols_connection_names_no_leg() -> None:
    with pytest.raises(Refused) as refused:
        decoder_for("huashu", SETTINGS, Leg("agent"))
    assert refused.value.code == "invalid_query"


@pytest.mark.parametrize(
    ("speaker", "offset", "field"),
    [
        ("robot", None, "speaker"),
        ("Agent", None, "speaker"),
        ("", None, "speaker"),
        ("agent", "-5", "offset_ms"),
        ("agent", "1.5", "offset_ms"),
        ("agent", "9" * 12, "offset_ms"),
        ("agent", "", "offset_ms"),
    ],
)
def test_a_bad_leg_is_refused(speaker: str, offset: str | None, field: str) -> None:
    with pytest.raises(Refused) as refused:
        leg_from_query(speaker, offset)
    assert refused.value.code == "invalid_query" and refused.value.detail.startswith(field)


def test_a_leg_has_a_token_of_its_own() -> None:
    first, second = leg_from_query("agent", "250"), leg_from_query("agent", None)
    assert first.offset_ms == 250 and second.offset_ms == 0
    assert first.token and first.token != second.token


def test_the_text_limit_comes_from_the_settings() -> None:
    small = decoder_for("tencent", Settings(max_text_chars=3), Leg("agent", 0, "t"))
    message = {
        "code": 0,
        "result": {
            "slice_type": 2,
            "index": 0,
            "start_time": 0,
            "end_time": 10,
            "voice_text_str": "你好你好",
        },
    }
    with pytest.raises(Refused) as refused:
        small.decode(frame(message))
    assert refused.value.code == "too_large"
