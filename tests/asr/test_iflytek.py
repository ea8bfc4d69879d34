"""iFlytek rtasr (app/asr/iflytek.py): ``data`` parsed a second time, type "1"/"0", times as
strings, ``seg_id`` not a sentence number, failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.asr.engines import brief, decoder, feed, stream


def test_the_docs_example_is_a_doubly_encoded_intermediate() -> None:
    assert brief(feed(decoder("iflytek"), stream("iflytek", "doc_examples"))) == [
        ("agent-t-0", "啊喂！你好！我是上", False, 820, None)  # ed "0" is no end
    ]


def test_a_call_sentences_end_at_their_final_whatever_seg_id_says() -> None:
    assert brief(feed(decoder("iflytek"), stream("iflytek", "agent_call"))) == [
        ("agent-t-0", "上午好，中国", False, 500, None),
        ("agent-t-0", "上午好，中国移动，很高兴为您服务", True, 500, 2500),
        ("agent-t-1", "这个真不关我的事", False, 5500, None),
        ("agent-t-1", "这个真不关我的事，您去营业厅问吧", True, 5500, 8000),
    ]


def test_data_already_an_object_is_read_as_it_is() -> None:
    message = stream("iflytek", "doc_examples")[1]
    relayed = {**message, "data": json.loads(message["data"])}
    assert brief(feed(decoder("iflytek"), [relayed]))[0][1] == "啊喂！你好！我是上"


def test_an_error_is_the_engines() -> None:
    [refused] = brief(feed(decoder("iflytek"), stream("iflytek", "doc_error")))
    assert refused == ("asr_error", "iflytek: code: 10110 invalid authorization|illegal signa")


def result(data: Any) -> dict[str, Any]:
    return {"action": "result", "code": "0", "data": data, "sid": "s"}


def st(**fields: Any) -> str:
    base: dict[str, Any] = {
        "bg": "0",
        "ed": "0",
        "rt": [{"ws": [{"cw": [{"w": "好", "wp": "n"}]}]}],
        "type": "1",
    }
    return json.dumps({"cn": {"st": {**base, **fields}}, "seg_id": 1})


BAD: list[tuple[dict[str, Any], str]] = [
    ({"code": "0"}, "iflytek: action: missing"),
    ({"action": "dance", "code": "0"}, "iflytek: action: unknown action"),
    (result('{"cn": '), "iflytek: data: not JSON"),
    (result("[1]"), "iflytek: data: must be a JSON object"),
    ({"action": "result", "code": "0"}, "iflytek: data: missing"),
    (result("{}"), "iflytek: data.cn: missing"),
    (result(st(type="2")), 'iflytek: data.cn.st.type: must be "0"'),
    (result(st(bg="eight")), "iflytek: data.cn.st.bg: must be milliseconds"),
    (result(st(bg="-1")), "iflytek: data.cn.st.bg: must be milliseconds"),
    (result(st(type="0", ed=None)), "iflytek: data.cn.st.ed: must be milliseconds"),
    (result(st(rt={})), "iflytek: data.cn.st.rt: must be an array"),
    (result(st(rt=[{"ws": [{"cw": []}]}])), "iflytek: data.cn.st.rt[0].ws[0].cw: must hold"),
    (result(st(rt=[{"ws": [{"cw": [{"w": 1}]}]}])), "iflytek: data.cn.st.rt[0].ws[0].cw[0].w"),
]


@pytest.mark.parametrize(("message", "detail"), BAD)
def test_malformed_messages_name_the_field(message: dict[str, Any], detail: str) -> None:
    [refused] = brief(feed(decoder("iflytek"), [message]))
    assert refused[0] == "invalid_message" and refused[1].startswith(detail), refused
