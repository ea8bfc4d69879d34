"""The forms a phrase is heard in, derived from its words: what each rewording gives, and what
it never gives (a negation left out, an allow phrase said shorter)."""

from __future__ import annotations

import pytest

from app.engine import forms
from app.engine.native import Gap


def texts(phrase: str, full: bool = True) -> set[str]:
    return {form.text for form in forms.derive(phrase, full=full)}


class TestDerivedForms:
    @pytest.mark.parametrize(
        ("phrase", "said"),
        [
            ("我也没办法", "我没办法"),  # an adverb of scope left out
            ("你的电话怎么回事", "你电话怎么回事"),  # a structural particle
            ("我不是跟你说得很清楚了吗", "我不是跟你说得很清楚了"),  # a modal particle, freely
            ("刚才跟你说过了", "刚才说过了"),  # the addressee with its preposition
            ("你到底想怎么样", "到底想怎么样"),  # the addressee opening a curt question
            ("刚才跟你说过了", "刚跟你说过了"),  # a time word contracted
            ("我也没办法", "我也没法"),  # 没 + 法 is a word (jieba's dictionary)
            ("你到底想怎么样", "你到底想咋样"),  # colloquial
            ("你们怎么啥工具都没有", "你们怎么什么工具都没有"),  # and back
            ("你有完没完", "有完没完你"),  # the addressee said last
            ("你小声点行不行", "行不行你小声点"),  # the tag question first
            ("你到底想怎么样", "到底你想怎么样"),  # a pronoun and an adverb swapped
            ("你问我,我问谁", "我问谁你问我"),  # the clauses swapped
            ("开发人员/销售人员,怎么这样", "销售怎么这样"),  # the head of a compound left out
        ],
    )
    def test_a_rewording_is_a_form(self, phrase: str, said: str) -> None:
        assert said in texts(phrase)

    @pytest.mark.parametrize(
        ("phrase", "never"),
        [
            ("我不知道", "我知道"),  # a negation is never left out
            ("我也没办法", "也没办法"),  # nor 我: without it the fault is anyone's
            ("我不清楚", "不清楚"),
            ("你怎么这样", "怎么这样"),  # the rest alone names no fault
            ("干嘛还不挂机", "干嘛不挂机"),  # 还 (still) is the point
            ("我怎么知道", "我知道怎么"),  # a question word stays where it is
            ("就是你的错", "你的错"),  # three characters left of five: too often other words
        ],
    )
    def test_what_a_rewording_never_gives(self, phrase: str, never: str) -> None:
        assert never not in texts(phrase)

    def test_words_may_be_slipped_in_between_words_only(self) -> None:
        (written,) = [f for f in forms.derive("我不知道") if not f.derived]
        assert written.items == ("我", Gap(0, 2, True), "不", Gap(0, 2, True), "知", "道")
        assert written.length == 4 + forms.INSERT_BUDGET

    def test_characters_jieba_cannot_cut_stay_together(self) -> None:
        """Two single characters that are no words of their own (a name, a rare word) leave no
        room between them."""
        (written,) = [f for f in forms.derive("餐消谢") if not f.derived]
        assert not any(isinstance(step, Gap) for step in written.items)

    def test_a_qualifying_phrase_is_never_said_shorter(self) -> None:
        """Allow and softening phrases: colloquial equivalents and words slipped in, never a
        word left out (an allow said shorter would excuse the phrase itself)."""
        said = texts("我不管{你,}是", full=False)
        assert said == {"我不管你是", "我不管是"}
        assert all(len(text) >= 4 for text in texts("我没有办法直接", full=False))

    def test_short_and_reworded_forms_are_matched_on_their_characters(self) -> None:
        by_text = {form.text: form for form in forms.derive("我也没办法")}
        assert by_text["我也没办法"].sound and by_text["我没办法"].sound
        (short,) = forms.derive("闭嘴")
        assert not short.sound and not short.derived and short.items == ("闭", "嘴")
        assert not any(form.sound for form in forms.derive("我也没办法", sound=False))

    def test_gapped_patterns_are_the_authors_tolerance(self) -> None:
        (form,) = forms.derive("有意见{0,4}去找领导")
        assert form.items[3] == Gap(0, 4, False) and not form.derived


class TestLimits:
    @pytest.mark.parametrize(
        ("phrase", "derived", "insertions", "homophones"),
        [
            ("闭嘴", False, 0, 0),
            ("我不管", False, 1, 1),
            ("我不知道", False, 2, 1),
            ("我没办法", True, 1, 1),
            ("我也没办法", False, 3, 1),
            ("我不是跟你说得很清楚了吗", False, 3, 2),
        ],
    )
    def test_the_shorter_the_form_the_fewer(
        self, phrase: str, derived: bool, insertions: int, homophones: int
    ) -> None:
        form = next(f for f in forms.derive("我也没办法") if f.text == phrase) if derived else None
        form = form or next(f for f in forms.derive(phrase) if not f.derived)
        assert forms.allowed(form) == (insertions, homophones)


@pytest.mark.parametrize(
    ("slipped", "complement"),
    [("听", True), ("看得", True), ("也", False), ("确实", False), ("是", False), ("可", False)],
)
def test_a_verb_before_a_negation_makes_it_a_complement(slipped: str, complement: bool) -> None:
    assert forms.makes_a_complement(slipped) is complement
