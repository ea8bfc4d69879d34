from __future__ import annotations

import pytest

from app.engine.normalize import normalize


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
