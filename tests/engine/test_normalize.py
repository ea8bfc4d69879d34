from __future__ import annotations

import random

import pytest

from app.engine.normalize import _normalize_with_offsets, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("不关我的事!", "不关我的事"),
        ("不关 我的 事！", "不关我的事"),
        ("ＡＢＣ１２３", "abc123"),
        ("您好，中国移动。", "你好中国移动"),
        ("嗯，我不知道", "我不知道"),
        ("“我不知道”", "我不知道"),
        ("", ""),
        ("，。！", ""),
        ("這個不關我的事", "这个不关我的事"),  # traditional → simplified
        ("一零零八六", "10086"),
        ("幺零零八六", "10086"),
        ("请拨打幺零零八六", "请拨打10086"),
        ("一下", "一下"),  # a lone digit word stays
        ("我我不知道", "我不知道"),
        ("我 我 我不知道", "我不知道"),
        ("不知不知道", "不知道"),
        ("嗯我不知道啊", "我不知道"),
        ("10086", "10086"),  # digits never collapse
        ("谢谢", "谢"),  # reduplication collapses on both sides of a match alike
        ("我那个不知道", "我不知道"),
        ("那个那个，我不知道", "我不知道"),
    ],
)
def test_normalized_text(text: str, expected: str) -> None:
    assert normalize(text).text == expected


def test_offsets_point_into_the_original() -> None:
    text = "这个，真不关 我的事！"
    norm = normalize(text)
    start = norm.text.index("不关我的事")
    a, b = norm.span(start, start + len("不关我的事"))
    assert text[a:b] == "不关 我的事"


def test_offsets_of_width_folded_characters() -> None:
    norm = normalize("Ａ，Ｂ")
    assert norm.text == "ab"
    assert norm.offsets == (0, 2)


def test_offsets_survive_collapsing() -> None:
    text = "我我不知道"
    norm = normalize(text)
    a, b = norm.span(0, len(norm.text))
    assert (a, b) == (0, 5)
    assert norm.offsets == (0, 2, 3, 4)


def test_fast_path_equals_the_reference() -> None:
    """normalize() takes shortcuts; the character-by-character path is the reference."""
    rng = random.Random(3)
    alphabet = "我不知道您你一二零幺三好嗯，。！ 　ＡＢ12這關谢谢😀那个"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        fast = normalize(text)
        slow = _normalize_with_offsets(text)
        assert (fast.text, fast.offsets) == (slow.text, slow.offsets), text


@pytest.mark.parametrize(
    "alphabet",
    [
        "我不知道知不您你一二零〇幺三五3那个那个谢谢，。 ＡＢ12這關😀፩²①٣a\ud800",
        "ab1一二幺，那个",  # digit runs beside digits, stutters of digits and letters
        "a1b2一",
        "\u346e\u346e一二a1谢谢",  # a character whose simplified form is beyond the BMP
    ],
)
def test_every_rewrite_of_the_fast_path_equals_the_reference(alphabet: str) -> None:
    """Digits, the filler word and stutters are rewritten by the native pass (or, for text it
    declines, by the reference itself); the text must be the reference's, whatever mix of them
    a fragment has."""
    rng = random.Random(len(alphabet))
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert normalize(text).text == _normalize_with_offsets(text).text, repr(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abxyx", "abxyx"),
        ("ababxbx", "abx"),  # a repeat right after a dropped one
        ("a1a1a", "a1a1a"),  # a kept repeat with a digit; the next position is no repeat
        ("一二1一", "1211"),  # a lone Chinese digit beside a digit is read as one
        ("一下1", "一下1"),  # not beside one
    ],
)
def test_rewrites_in_order(text: str, expected: str) -> None:
    assert normalize(text).text == expected == _normalize_with_offsets(text).text
