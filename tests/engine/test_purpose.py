"""The words of an utterance that does not yet say its purpose (app/engine/purpose.py), on a
small section written here: what they cover, what names a business, what says a need."""

from __future__ import annotations

import pytest

from app.engine.intent_spec import PurposeIntent
from app.engine.normalize import normalize_text
from app.engine.purpose import PurposeCues


def cues(**fields: object) -> PurposeCues:
    spec = PurposeIntent.model_validate(
        {
            "source": "002 规范用语—当询问客户目的时",
            "openers": ["喂", "你好", "我想问一下"],
            "generic": ["这边", "就是"],
            "names": ["我姓"],
            "numbers": True,
            "topics": ["话费", "短信"],
            "said": ["谢谢"],
            "unnamed": ["短信{0,4}让我回电话"],
            **fields,
        }
    )
    return PurposeCues(spec, {})


@pytest.mark.parametrize(
    ("text", "opener", "share"),
    [
        ("喂你好", True, 1.0),
        ("你好我姓王", True, 1.0),  # a name after 我姓, up to name_length characters
        ("这边就是", False, 1.0),  # generic words open nothing
        ("你好我的号码是139", True, 0.5),  # digits count, 我的号码是 does not
        ("你好我刚从医院回来", True, 2 / 9),
    ],
)
def test_what_the_words_cover(text: str, opener: bool, share: float) -> None:
    assert cues().covered(normalize_text(text)) == (opener, pytest.approx(share))


@pytest.mark.parametrize(
    ("text", "returned"),
    [
        ("你好我收到你们的信", (True, 2 / 9, 8 / 9)),  # the notice counts apart from the openers
        ("收到你们的信就是", (False, 2 / 8, 1.0)),  # ... and opens as one does
        ("你好这边就是", (True, 1.0, 0.0)),  # none returned
        ("收到你们的信我想换个手机", (False, 0.0, 6 / 12)),
    ],
)
def test_a_returned_contact_covers_apart(text: str, returned: tuple[bool, float, float]) -> None:
    got = cues(notices=["收到{0,4}信"]).returned(normalize_text(text))
    assert got == (returned[0], pytest.approx(returned[1]), pytest.approx(returned[2]))


@pytest.mark.parametrize(
    ("text", "unclear"),
    [("喂你好", True), ("你好我姓王", True), ("这边就是", False), ("喂我想问一下话费", False)],
)
def test_unclear_needs_an_opener_and_every_character_covered(text: str, unclear: bool) -> None:
    assert cues().unclear(normalize_text(text)) is unclear


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("我想问一下话费", (True, False)),
        ("好的谢谢", (False, True)),
        ("接到个短信让我回电话", (False, False)),  # 短信 inside an unnamed phrase
        ("我的短信发不出去", (True, False)),
    ],
)
def test_a_topic_inside_an_unnamed_phrase_names_no_business(
    text: str, says: tuple[bool, bool]
) -> None:
    assert cues().says(normalize_text(text)) == says


def test_a_story_without_a_need_only_when_needs_are_given() -> None:
    story = normalize_text("你好我们家那口子去年走了以后我就一个人住")
    asking = normalize_text("你好我们家那口子去年走了以后话费怎么交")
    assert not cues().needless(story)  # no needs: the rule is off
    on = cues(needs=["怎么", "帮我"], needless_length=13)
    assert on.needless(story) and not on.needless(asking)
    assert not on.needless(normalize_text("喂你好"))  # too short to be a story
