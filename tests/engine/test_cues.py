"""Word lists of the script's rules: found in normalized text, or covering an utterance."""

from __future__ import annotations

import re

import pytest

from app.engine.cues import Cues, covers, vocabulary
from app.engine.normalize import normalize_text
from app.engine.patterns import PatternError


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


CLASSES = {
    "money": ["钱", "话费", "月{租,费}"],
    "restitute": ["退", "赔", "返还"],
    "fee": ["<money>", "违约金"],
}


def test_a_class_is_one_place_matched_by_any_of_its_words() -> None:
    cues = Cues([("<restitute>{0,3}<money>", "demand"), ("给我<restitute>", "demand")], CLASSES)
    found = [(f.phrase, f.value, f.start, f.end) for f in cues.find("把月费给我退了")]
    assert found == [("给我<restitute>", "demand", 3, 6)]
    text = normalize_text("赶紧返还我的话费")
    (hit,) = cues.find(text)
    assert text[hit.start : hit.end] == "返还我的话费"
    assert cues.find("退了五个月的话费") == []  # the gap is wider than three


def test_a_class_takes_in_the_words_of_another() -> None:
    cues = Cues([("<fee>{0,2}不交", 1)], CLASSES)
    assert [f.value for f in cues.find("这个违约金我不交")] == [1]
    assert [f.value for f in cues.find("月租我不交")] == [1]


def test_a_class_among_alternatives_stands_for_its_words() -> None:
    # eleventh round (tests/corpus/INTENT.md): {<kin>,他} was read as the letters "kin"
    classes = {"kin": ["邻居", "老公"]}
    cues = Cues([("{<kin>,别人,他}说{0,2}打", 1), ("{<kin>,他}说", 2)], classes)
    assert [f.value for f in cues.find("我邻居说打你们这个电话")] == [2, 1]
    assert [f.value for f in cues.find("别人说打这个")] == [1]
    assert [f.value for f in cues.find("他说")] == [2]
    assert cues.find("kin说打") == []
    with pytest.raises(PatternError, match=re.escape("unknown class <kith>")):
        Cues([("{<kith>,他}说", 1)], classes)


@pytest.mark.parametrize(
    ("phrase", "classes", "error"),
    [
        ("<nothing>退", CLASSES, "unknown class <nothing>"),
        ("{0,2}<money>", CLASSES, "a gap needs words on both sides"),
        ("<money>{0,2}", CLASSES, "a gap needs words on both sides"),
        ("<money>{0,9}退", CLASSES, "gap {0,9}"),
        ("<money", CLASSES, "unbalanced"),
        ("<a>", {"a": ["<b>"], "b": ["<a>"]}, "names itself"),
        ("<a>", {"a": ["退{0,2}钱"]}, "has a gap"),
        ("<a>", {"a": ["退<b>"], "b": ["钱"]}, "mixes a class with words"),
    ],
)
def test_a_bad_class_or_phrase_is_refused(
    phrase: str, classes: dict[str, list[str]], error: str
) -> None:
    with pytest.raises(PatternError, match=re.escape(error)):
        Cues([(phrase, 1)], classes)


def test_alternatives_beside_a_gap_are_one_place_not_a_product_of_readings() -> None:
    cues = Cues([("{不,再不}{解决,处理}{0,5}{我就,就}{去,找,打}", "ultimatum")])
    assert len(cues._gapped) == 1  # five places, where spelt out it would be 24 readings
    assert [f.value for f in cues.find("你们再不处理我明天就去工信部")] == ["ultimatum"]
    assert cues.find("你们处理我就去") == []
    # an empty alternative is still spelt out: the place is optional
    optional = Cues([("给{我,}{0,2}说法", 1)])
    assert len(optional._gapped) == 2
    assert [f.value for f in optional.find("给个说法")] == [1]


def test_a_code_in_a_class_matches_only_as_a_whole_run_of_digits() -> None:
    cues = Cues(
        [("<regulator>", "threat"), ("<count>次", "repeated")],
        {"regulator": ["12345", "工信部"], "count": ["3", "45"]},
    )
    assert [f.value for f in cues.find("我打12345")] == ["threat"]
    assert cues.find("我的号码是13912345678") == []
    assert [f.value for f in cues.find("打了45次")] == ["repeated"]  # a number, not a code
