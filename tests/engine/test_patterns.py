from __future__ import annotations

import pytest

from app.engine.patterns import Pattern, PatternError, clauses, expand, slashes


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


class TestSlashAlternatives:
    """'/' between whole clauses, as norms and company lists write alternatives; refused, not
    stored as a literal, when it cannot be read one way only."""

    @pytest.mark.parametrize(
        ("phrase", "braces", "literals"),
        [
            ("开发人员/销售人员,怎么这样", "{开发人员,销售人员},怎么这样", 2),
            ("不行/不可以/办不了", "{不行,不可以,办不了}", 3),
            ("不知道／不清楚", "{不知道,不清楚}", 2),  # the full-width slash too
            ("我不知道 / 我不清楚", "{我不知道,我不清楚}", 2),
            ("没有{0,3}就是没有", "没有{0,3}就是没有", 1),  # no slash: as written
        ],
    )
    def test_whole_clause_alternatives(self, phrase: str, braces: str, literals: int) -> None:
        assert slashes(phrase) == braces
        assert len(expand(phrase)) == literals

    @pytest.mark.parametrize(
        ("phrase", "reason"),
        [
            ("不知道/", "empty alternative"),
            ("/不知道", "empty alternative"),
            ("不知道//不清楚", "empty alternative"),
            ("，/。", "empty alternative"),
            ("我不知道/清楚", "ambiguous"),  # 我不清楚, or 清楚 alone?
            ("你/您怎么这样", "ambiguous"),
            ("{不知道/不清楚}", "inside braces"),
            ("我{也,}不知道/我不清楚", "braces"),
        ],
    )
    def test_refused(self, phrase: str, reason: str) -> None:
        with pytest.raises(PatternError, match=reason):
            expand(phrase)


def test_clauses_are_cut_at_their_marks_outside_braces() -> None:
    assert clauses("刚才跟你说过了,怎么还问?") == ["刚才跟你说过了", "怎么还问"]
    assert clauses("我{也,}不知道！") == ["我{也,}不知道"]
    assert clauses("你的电话怎么回事?!一会儿大,一会儿小的!") == [
        "你的电话怎么回事",
        "一会儿大",
        "一会儿小的",
    ]
