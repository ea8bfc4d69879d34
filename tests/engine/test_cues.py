"""Word lists of the script's rules: found in normalized text, or covering an utterance."""

from __future__ import annotations

import pytest

from app.engine.cues import Cues, covers, vocabulary
from app.engine.normalize import normalize_text


def test_phrases_patterns_and_gaps_with_their_values() -> None:
    cues = Cues([("投诉", "explicit"), ("找{0,3}领导", "threat"), ("{凭什么,为什么}扣", "demand")])
    text = normalize_text("我要投诉，我要找你们领导！凭什么扣我钱")
    assert [(f.phrase, f.value, text[f.start : f.end]) for f in cues.find(text)] == [
        ("投诉", "explicit", "投诉"),
        ("找{0,3}领导", "threat", "找你们领导"),
        ("{凭什么,为什么}扣", "demand", "凭什么扣"),
    ]
    assert cues.first("没有") is None and cues.find("") == []
    assert not Cues([]) and Cues([]).find("投诉") == []


def test_a_gap_too_wide_is_no_match() -> None:
    cues = Cues([("找{0,3}领导", 1)])
    assert cues.find(normalize_text("找一下你们的那个领导")) == []


@pytest.mark.parametrize(
    ("text", "covered"),
    [
        ("嗯，对对", True),
        ("好的好的", True),
        ("对的是的", True),
        ("对，我帮您查", False),
        ("嗯", False),  # normalizes to nothing: not an utterance at all
        ("", False),
    ],
)
def test_covers(text: str, covered: bool) -> None:
    words, longest = vocabulary(["嗯", "对", "对的", "是{的,}", "好的"])
    assert "嗯" not in words and longest == 2
    assert covers(normalize_text(text), words, longest) is covered


def test_digits_match_only_as_a_whole_run() -> None:
    cues = Cues([("12345", "hotline")])
    assert [f.value for f in cues.find("我打12345")] == ["hotline"]
    assert cues.find("我的号码是13812345678") == []
    assert cues.find("123456") == [] and cues.find("012345") == []
