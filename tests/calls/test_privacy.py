"""Long digit runs are masked in what is stored; numbers elsewhere are kept."""

from __future__ import annotations

import orjson
import pytest

from app.calls.privacy import _JSON_STRING, mask_json, mask_text

CASES = [
    ("我的手机号是13812345678", "我的手机号是***********"),
    ("身份证号110101199003071234", "身份证号******************"),
    ("卡号是６２２２０２１２３４５６７８９０", "卡号是" + "*" * 16),
    ("幺三八幺二三四五六七八", "*" * 11),
    ("拨打10086或12580", "拨打10086或12580"),  # short numbers stay
    ("一二三四五六", "一二三四五六"),  # six: kept
    ("一二三四五六七", "*" * 7),
    ("套餐每月58元，流量30G", "套餐每月58元，流量30G"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "stored"), CASES)
def test_mask_text_keeps_the_length(text: str, stored: str) -> None:
    masked = mask_text(text)
    assert masked == stored and len(masked) == len(text)


def test_mask_json_masks_strings_and_leaves_numbers() -> None:
    event = {
        "type": "alert",
        "seq": 12345678,
        "at_ms": 987654321,
        "text": '您的号码13812345678已经"停机"',
        "span": [4, 15],
    }
    stored = orjson.loads(mask_json(orjson.dumps(event).decode()))
    assert stored == {**event, "text": '您的号码***********已经"停机"'}


def test_mask_json_leaves_text_without_long_runs_alone() -> None:
    encoded = orjson.dumps({"seq": 1234567, "text": "你好"}).decode()
    assert mask_json(encoded) == encoded


@pytest.mark.parametrize(
    "event",
    [
        {"type": "alert", "seq": 3, "at_ms": 1_002_244, "text": "我的号码13812345678"},
        {"at_ms": 1_002_244, "text": "时间:1234567,号码"},  # a run after ':' inside a string
        {"at_ms": 1_002_244, "text": 'a \\"quoted\\" 1234567'},  # escaped quotes before it
        {"text": '"', "n": 1234567, "more": "幺三八幺二三四五六七八"},
        {"list": [1234567, "1234567", 7654321]},
    ],
)
def test_mask_json_masks_runs_in_strings_past_long_numbers(event: dict[str, object]) -> None:
    """A number of 7 digits or more (a long call's ``at_ms``) does not hide a run in a string
    after it, wherever it is and whatever precedes it."""
    encoded = orjson.dumps(event).decode()
    stored = orjson.loads(mask_json(encoded))
    expected = orjson.loads(_JSON_STRING.sub(lambda m: mask_text(m.group()), encoded))
    assert stored == expected and stored != event


def test_mask_json_leaves_an_event_with_only_long_numbers_as_it_is() -> None:
    """A long call's events carry a 7-digit ``at_ms`` (its 17th minute on): kept as it is, and
    not taken for customers' words."""
    encoded = orjson.dumps(
        {"type": "alert", "seq": 9, "at_ms": 1_002_244, "text": "这个不关我的事", "span": [2, 7]}
    ).decode()
    assert mask_json(encoded) is encoded
