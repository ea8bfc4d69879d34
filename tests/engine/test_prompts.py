from __future__ import annotations

import random

import pytest

from app.engine.normalize import normalize_text
from app.engine.prompts import fill, matcher_for

FAREWELL = "感谢您使用中国移动,祝您{wish},{title},再见。"
FREE = frozenset({"wish"})


def test_fill_replaces_slots() -> None:
    assert (
        fill(FAREWELL, {"wish": "生活愉快", "title": "王先生"})
        == "感谢您使用中国移动,祝您生活愉快,王先生,再见。"
    )


@pytest.mark.parametrize(
    ("spoken", "least", "most"),
    [
        ("感谢您使用中国移动，祝您生活愉快，王先生，再见", 1.0, 1.0),
        ("感谢你使用中国移动祝你工作顺利王先生再见", 1.0, 1.0),  # free slot, 你 for 您
        ("嗯感谢您使用中国移动啊祝您周末愉快王先生再见", 1.0, 1.0),  # fillers and extra words
        ("感谢您使用中国移动，再见", 0.5, 0.95),  # title and 祝您 left out: deviated
        ("好的再见", 0.0, 0.3),
    ],
)
def test_similarity(spoken: str, least: float, most: float) -> None:
    matcher = matcher_for(FAREWELL, {"title": "王先生", "wish": "生活愉快"}, FREE)
    assert least <= matcher.similarity(normalize_text(spoken)) <= most


def test_order_matters() -> None:
    matcher = matcher_for("请问我的答复能否解决您的问题?", {}, FREE)
    assert matcher.similarity(normalize_text("您的问题能否解决我的答复请问")) < 0.75


def test_in_order_on_growing_speech_agrees_with_the_similarity() -> None:
    """The search that goes on from where it stopped (partials that extend the last one) tells
    "every token in order" exactly when the similarity is 1, however the speech grew."""
    matcher = matcher_for("请问我刚才给您的解释您明白吗?", {}, frozenset())
    rng = random.Random(5)
    pieces = ["请问", "我", "刚才", "给您", "的", "解释", "您", "明白", "吗", "好", "请", "的解"]
    for _ in range(2000):
        spoken = ""
        done = pos = 0
        for _ in range(rng.randint(1, 12)):
            grown = spoken + normalize_text(rng.choice(pieces))
            if not grown.startswith(spoken):  # normalization joined a repeat: start again
                done = pos = 0
            spoken = grown
            done, pos = matcher.in_order(spoken, done, pos)
            assert (done == len(matcher.tokens)) == (matcher.similarity(spoken) == 1.0), spoken
            assert (done, pos) == matcher.in_order(spoken)


@pytest.mark.parametrize(
    ("spoken", "similarity"),
    [
        ("感谢您的支持欢迎随时拨打10086", 1.0),
        ("感谢您的支持欢迎随时拨打12580", 1.0),
        ("感谢您的支持欢迎随时拨打", 0.71),
    ],
)
def test_alternatives_either_one_counts(spoken: str, similarity: float) -> None:
    template = "感谢您的支持,欢迎随时拨打{10086|12580}"
    assert fill(template, {}) == "感谢您的支持,欢迎随时拨打10086/12580"
    matcher = matcher_for(template, {}, FREE)
    assert ("10086", "12580") in matcher.tokens
    assert matcher.similarity(normalize_text(spoken)) == pytest.approx(similarity, abs=0.01)


def test_a_slot_value_may_hold_alternatives() -> None:
    values = {"title": "{先生|女士}", "wish": "生活愉快"}
    assert fill(FAREWELL, values) == "感谢您使用中国移动,祝您生活愉快,先生/女士,再见。"
    matcher = matcher_for(FAREWELL, values, FREE)
    assert matcher.similarity(normalize_text("感谢您使用中国移动祝您顺利女士再见")) == 1.0
