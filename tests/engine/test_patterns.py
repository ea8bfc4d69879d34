from __future__ import annotations

import pytest

from app.engine.patterns import Pattern, PatternError, expand


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("不关我的事!", [Pattern(("不关我的事",))]),
        ("我{也,}不知道", [Pattern(("我也不知道",)), Pattern(("我不知道",))]),
        (
            "{你,}问我{那,}我问谁",
            [
                Pattern(("你问我那我问谁",)),
                Pattern(("你问我问谁",)),
                Pattern(("问我那我问谁",)),
                Pattern(("问我问谁",)),
            ],
        ),
        ("有意见{0,3}找领导", [Pattern(("有意见", "找领导"), ((0, 3),))]),
    ],
)
def test_expand(phrase: str, expected: list[Pattern]) -> None:
    assert expand(phrase) == expected


@pytest.mark.parametrize(
    "phrase", ["我{不知道", "有意见{0,30}找领导", "{0,2}找领导", "，。", "有{3,1}人"]
)
def test_bad_patterns(phrase: str) -> None:
    with pytest.raises(PatternError):
        expand(phrase)


def test_gapped_label_and_length() -> None:
    (pattern,) = expand("有意见{0,3}找领导")
    assert pattern.label == "有意见{0,3}找领导"
    assert pattern.max_len == 9
