"""Sound-alike symbols: a character heard as each reading words give it, a phrase read once in
context."""

from __future__ import annotations

import pytest

from app.engine import phonetic


@pytest.mark.parametrize(
    ("char", "alike"),
    [
        ("地", "得"),  # di / de: the particles heard as each other
        ("的", "得"),
        ("谁", "睡"),  # shei / shui
        ("着", "找"),  # zhe / zhao (管不着), zh and z folded
        ("还", "孩"),  # hai / huan
    ],
)
def test_a_character_is_heard_as_each_of_its_readings(char: str, alike: str) -> None:
    assert set(phonetic.heard(char)) & set(phonetic.heard(alike))


def test_readings_of_old_texts_and_names_do_not_count() -> None:
    """pypinyin lists 提 as shi too (朱提, a place name): no ASR hears 事 as 提."""
    assert not set(phonetic.heard("提")) & set(phonetic.heard("事"))


def test_a_phrase_is_read_in_context() -> None:
    (hai,) = phonetic.heard("孩")
    assert phonetic.sequence("还不挂机")[0] == hai
    assert len(phonetic.sequence("ok还不a")) == 5
    assert phonetic.sequence("😀")[0] == ord("😀")


def test_the_usual_asr_confusions_are_folded() -> None:
    assert phonetic.fold_syllable("zhang") == "zan"
    assert phonetic.fold_syllable("ning") == "lin"
    assert phonetic.key("我不知道") == phonetic.key("我不之道")
