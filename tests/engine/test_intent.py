"""The customer's intent alone (a small model of each mechanism), then in a call."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from app.engine.intent import IntentModel
from app.engine.intent_spec import Intent
from app.engine.normalize import normalize
from app.engine.outbox import FragmentBounds
from tests.engine.conftest import Start, compile_with, greet, of, start

MODEL = IntentModel(
    Intent.model_validate(
        {
            "complaint": {
                "source": "002 客户代表服务项目—投诉",
                "threshold": 2,
                "cues": [
                    {"kind": "explicit", "weight": 2, "phrases": ["投诉"]},
                    {"kind": "demand", "weight": 2, "phrases": ["凭什么", "给{我,}{个,}说法"]},
                    {"kind": "threat", "weight": 2, "phrases": ["工信部", "找{0,5}领导"]},
                    {"kind": "repeated", "weight": 1, "cap": 2, "phrases": ["又断", "好几次"]},
                    {"kind": "intensifier", "weight": 0.5, "cap": 0.5, "phrases": ["到底", "究竟"]},
                ],
                "negators": ["不是", "不用", "没打算"],
                "negation_window": 5,
                "rhetorical": ["不是{0,8}吗"],
                "past": ["上次", "之前"],
                "settled": ["已经解决", "处理好了"],
                "unresolved": ["到现在", "还没"],
                "third_party": ["帮{0,4}问"],
                "topic": ["投诉电话", "怎么投诉"],
                "breaks": ["但是"],
            },
            "unclear_purpose": {
                "source": "002 当询问客户目的时",
                "openers": ["喂", "你好", "我想", "问一下", "有个"],
                "generic": ["我", "一下", "事", "业务", "办", "个"],
            },
        }
    )
)


@pytest.mark.parametrize(
    ("text", "complaint", "reasons"),
    [
        ("我要投诉", True, ("explicit “投诉”",)),
        ("凭什么扣我钱", True, ("demand “凭什么”",)),
        ("再不处理我就找你们领导", True, ("threat “找你们领导”",)),
        ("网又断了，好几次了", True, ("repeated “又断”", "repeated “好几次”")),
        # weak cues alone do not make a complaint; the intensifier counts once
        ("网又断了", False, ()),
        ("到底究竟", False, ()),
        ("网又断了，到底究竟怎么回事", False, ()),  # 1 + 0.5: the intensifiers' cap
        # denied in its own clause, but not in the next one
        ("我不是要投诉", False, ()),
        ("不用找领导", False, ()),
        ("我不是投诉，我就想知道凭什么扣钱", True, ("demand “凭什么”",)),
        ("我不是投诉但是凭什么扣钱", True, ("demand “凭什么”",)),
        # too far from the cue to deny it
        ("我不是很清楚你们到底凭什么扣钱", True, ("demand “凭什么”",)),
        # a question that asks rather than denies
        ("这不是逼我去工信部吗", True, ("threat “工信部”",)),
        # past: settled, not settled, said to be unresolved
        ("上次投诉的已经解决了", False, ()),
        ("我投诉的那个处理好了", False, ()),
        ("之前投诉过", False, ()),
        ("之前投诉过，到现在还没人管", True, ("explicit “投诉”",)),
        # someone else's complaint, a question about the channel
        ("我帮我朋友问一下怎么投诉", False, ()),
        ("投诉电话是多少", False, ()),
        ("我要投诉，你们投诉电话多少", True, ("explicit “投诉”",)),
        # ASR text: no punctuation, traditional characters, fillers
        ("嗯那个我要投訴你們", True, ("explicit “投诉”",)),
        ("", False, ()),
        ("。。。", False, ()),
        # a pause the ASR writes as a space ends a clause as a comma does: the denial stays in
        # its own (without it, 凭什么 is within the denial's reach)
        ("我不是要投诉 凭什么扣钱", True, ("demand “凭什么”",)),
        ("我不是要投诉凭什么扣钱", False, ()),
        ("我不是要投诉\u3000凭什么扣钱", True, ("demand “凭什么”",)),
        ("我不是 要投诉", True, ("explicit “投诉”",)),
        # a space between Latin letters or digits separates words, not clauses
        ("不是A B凭什么扣钱", False, ()),
        ("不是5 G凭什么扣钱", False, ()),
        # white space only, or around the words
        ("   ", False, ()),
        (" \t投诉 \n", True, ("explicit “投诉”",)),
        ("  不是  ", False, ()),
    ],
)
def test_complaint(text: str, complaint: bool, reasons: tuple[str, ...]) -> None:
    judged = MODEL.judge(text)
    assert judged.complaint is complaint, judged
    assert judged.reasons == reasons


@pytest.mark.parametrize(
    ("text", "unclear"),
    [
        ("喂", True),
        ("喂，你好", True),
        ("你好，我想问一下", True),
        ("我有个事", True),
        ("我想办个业务", True),
        ("我想问一下话费", False),  # says what it is about
        ("好的", False),  # no opener: an answer, not an opening
        ("我要投诉", False),  # a complaint is a purpose
        ("", False),
        ("喂 喂 喂", True),
        ("   ", False),
    ],
)
def test_unclear_purpose(text: str, unclear: bool) -> None:
    assert MODEL.judge(text).unclear_purpose is unclear


CLASSES = IntentModel(
    Intent.model_validate(
        {
            "words": {
                "money": ["钱", "话费", "月租"],
                "restitute": ["退", "赔", "返还"],
                "authority": ["领导", "经理"],
                "summon": ["找", "叫"],
                "regulator": ["工信部", "12315"],
                "span": ["天", "周"],
                "many": ["两", "三", "几"],
                "surname": ["王", "张"],
            },
            "complaint": {
                "source": "002 客户代表服务项目—投诉",
                "threshold": 2,
                "cues": [
                    {"kind": "explicit", "weight": 2, "phrases": ["投诉"]},
                    {"kind": "restitution", "weight": 2, "phrases": ["<money>{0,4}<restitute>"]},
                    {"kind": "threat", "weight": 2, "phrases": ["<summon>{0,5}<authority>"]},
                    {"kind": "regulator", "weight": 2, "phrases": ["<regulator>"]},
                    {"kind": "duration", "weight": 1, "phrases": ["<many><span>了"]},
                    {"kind": "repeated", "weight": 1.5, "phrases": ["<many><span>了"]},
                    {"kind": "addressee", "weight": 0.5, "phrases": ["你们"]},
                    {"kind": "anger", "weight": 2, "phrases": ["不满意"]},
                ],
                "neutral": ["客户经理", "退订"],
                "askable": ["explicit", "restitution", "regulator"],
                "asking": ["吗", "多久", "想问"],
                "committing": ["我要", "我就"],
                "hypothetical": ["如果"],
                "past": ["上次", "后来"],
                "settled": ["后来{0,5}退"],
            },
            "unclear_purpose": {
                "source": "002 当询问客户目的时",
                "openers": ["你好", "我是", "我姓"],
                "generic": ["我", "的", "号码是", "<surname>先生"],
                "names": ["我姓"],
                "name_length": 2,
                "numbers": True,
            },
        }
    )
)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        # a class is any of its words, in a pattern that says the meaning
        ("月租给我退了", True),
        ("多扣的话费赶紧返还", True),
        ("叫你们经理来", True),
        # a word that holds a cue's word with another meaning
        ("我想找你们的客户经理办业务", False),
        ("帮我把这个话费包退订", False),
        # asking about the channel is not using it, unless the customer commits to it
        ("投诉一般多久有结果", False),
        ("12315管这个吗", False),
        ("我要投诉，投诉多久有结果", True),
        ("我想问话费能退吗", False),
        # a question about what would be, unless the customer commits to it
        ("如果我不满意多久能处理", False),
        ("我不满意，多久能处理", True),
        ("如果今天不处理我就不满意，多久能处理", True),
        # the same words read as two cues count once, as the heavier
        ("三天了", False),
        ("你们三天了", True),
        # settling words may hold the cue
        ("上次说要去工信部，后来给我退了", False),
        # a code of a class is no code inside a phone number
        ("我的号码是13812315678", False),
    ],
)
def test_complaint_by_word_classes(text: str, complaint: bool) -> None:
    assert CLASSES.judge(text).complaint is complaint, CLASSES.judge(text)


@pytest.mark.parametrize(
    ("text", "unclear"),
    [
        ("你好，我是王先生", True),
        ("你好，我姓李", True),  # a name after 姓
        ("你好，我的号码是13812345678", True),  # a number given first
        ("你好，我是王先生，我的号码", False),  # 号码 alone says something else
        ("我姓李，查话费", False),  # the name is at most name_length characters
    ],
)
def test_unclear_purpose_with_names_and_numbers(text: str, unclear: bool) -> None:
    assert CLASSES.judge(text).unclear_purpose is unclear


#: A purpose not said (seventh round): mostly openers and generic words, no topic.
UNSAID = IntentModel(
    Intent.model_validate(
        {
            "complaint": {
                "source": "002 客户代表服务项目—投诉",
                "threshold": 2,
                "cues": [
                    {"kind": "explicit", "weight": 2, "phrases": ["投诉"]},
                    {"kind": "anger", "weight": 1, "phrases": ["累死"]},
                    {"kind": "addressee", "weight": 0.5, "phrases": ["你们"]},
                ],
                "negators": ["不是"],
            },
            "unclear_purpose": {
                "source": "002 当询问客户目的时",
                "openers": ["喂", "你好", "我想"],
                "generic": ["我", "你们", "刚", "回来", "问问", "那边", "能不能"],
                "topics": ["话费", "<device>{0,4}断"],
                "said": ["谢谢"],
                "coverage": 0.6,
            },
            "words": {"device": ["网", "电话"]},
        }
    )
)


@pytest.mark.parametrize(
    ("text", "unclear"),
    [
        ("喂 我刚从医院回来 想问问", True),  # 从医院 and 想 uncovered: 6 of 10 characters covered
        ("喂 我刚从老家的医院回来", False),  # too much of the caller's story: 5 of 11
        ("你好 我刚回来 家里网断了", False),  # a fault said without a business word
        ("喂 我刚回来 问问话费", False),  # a topic said
        ("你好 我刚回来 谢谢", False),  # an answer, not an opening
        ("我刚从医院回来 想问问", False),  # no opener
        ("喂 我刚回来 累死了", False),  # a complaint cue that weighs
        ("喂 我刚回来 不是投诉", False),  # a complaint cue taken back
        ("喂 你们那边能不能", True),  # 你们 alone weighs too little
    ],
)
def test_a_purpose_not_said(text: str, unclear: bool) -> None:
    assert UNSAID.judge(text).unclear_purpose is unclear, UNSAID.judge(text)


#: Ninth round: who the anger is aimed at, praise, what a settling or ironic word holds, and a
#: topic's word that names no business.
AIMED = IntentModel(
    Intent.model_validate(
        {
            "complaint": {
                "source": "002 客户代表服务项目—投诉",
                "threshold": 2,
                "cues": [
                    {"kind": "explicit", "weight": 2, "phrases": ["投诉"]},
                    {"kind": "anger", "weight": 2, "phrases": ["气死"]},
                    {"kind": "threat", "weight": 2, "phrases": ["12315", "经理{0,2}过来"]},
                    {"kind": "irony", "weight": 1, "phrases": ["真是谢谢你们了"]},
                    {"kind": "repeated", "weight": 1, "phrases": ["跑了三趟"]},
                    {"kind": "against_you", "weight": 2, "phrases": ["态度"]},
                ],
                "past": ["当时"],
                "settled": ["谢谢你们", "解决了", "{这事,}就过去了"],
                "unresolved": ["过去了"],
                "neutral": ["客户经理"],
                "elsewhere": ["快递", "冒充你们"],
                "carrier": ["你们", "营业厅"],
                "aimable": ["anger", "threat"],
                "ironic": ["irony"],
                "praise": ["表扬"],
            },
            "unclear_purpose": {
                "source": "002 当询问客户目的时",
                "openers": ["喂", "接到", "让我回电话"],
                "generic": ["我", "个", "就", "打过来了"],
                "topics": ["短信"],
                "unnamed": ["短信{0,4}让我回电话"],
                "coverage": 0.6,
            },
        }
    )
)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("气死我了 快递把我手机摔坏了", False),  # aimed at the courier
        ("气死我了 你们快递把我手机摔坏了", True),  # the company's courier: the company
        ("快递丢了 你们气死我了", True),  # the anger's clause names the company
        ("有人冒充你们打电话 气死我了", False),  # 你们 inside the culprit's words
        ("快递丢了 我要投诉", True),  # an explicit complaint is aimed at nobody else
        ("客服态度很好 我要表扬她", False),  # praise
        ("客服态度很好 我要表扬她 也要投诉", True),  # explicit survives praise
        ("我是客户经理介绍过来的", False),  # a cue starting inside a neutral word
        ("我是经理介绍过来的", True),
        ("我当时打了12315 后来解决了 这事就过去了", False),  # 过去了 settles here
        ("我当时打了12315 现在过去了", True),  # ... and is unresolved here
        ("我真是谢谢你们了 跑了三趟", True),  # ironic thanks settle nothing
    ],
)
def test_who_the_complaint_is_aimed_at(text: str, complaint: bool) -> None:
    assert AIMED.judge(text).complaint is complaint, AIMED.judge(text)


@pytest.mark.parametrize(
    ("text", "unclear"),
    [
        ("喂 我接到个短信让我回电话 就打过来了", True),  # 短信 names no business here
        ("喂 我接到个短信", False),  # a topic said
    ],
)
def test_a_topic_word_that_names_no_business(text: str, unclear: bool) -> None:
    assert AIMED.judge(text).unclear_purpose is unclear, AIMED.judge(text)


#: Thirteenth round: a caller coming over from a rival operator.
JOINING = IntentModel(
    Intent.model_validate(
        {
            "complaint": {
                "source": "002 客户代表服务项目—投诉",
                "threshold": 2,
                "cues": [
                    {"kind": "anger", "weight": 2, "phrases": ["气死"]},
                    {"kind": "leaving", "weight": 1, "phrases": ["转网"]},
                    {"kind": "threat", "weight": 2, "phrases": ["转{0,4}经理"]},
                    {"kind": "addressee", "weight": 0.5, "phrases": ["你们"]},
                ],
                "joining": ["转到你们{这,这边}", "转网过来"],
                "rivals": ["联通那边"],
                "carrier": ["你们", "联通"],
                "aimable": ["anger"],
            },
        }
    )
)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("联通那边气死我了 我要转网过来", False),  # the rival is the culprit, no leaving
        ("联通那边气死我了 转到你们这", False),
        ("联通那边气死我了", True),  # no one coming over: 联通 may be the company
        ("你们气死我了 我要转网", True),
        ("转到你们经理", True),  # being put through to a manager is no coming over
    ],
)
def test_a_caller_coming_over(text: str, complaint: bool) -> None:
    assert JOINING.judge(text).complaint is complaint, JOINING.judge(text)


#: Thirteenth round: a contact of the company's that the caller returns opens the call.
RETURNED = IntentModel(
    Intent.model_validate(
        {
            "unclear_purpose": {
                "source": "002 当询问客户目的时",
                "openers": ["喂"],
                "generic": ["我", "你们", "的", "还没拆"],
                "topics": ["话费", "积分"],
                "notices": ["收到{0,4}信"],
                "coverage": 0.6,
            },
        }
    )
)


@pytest.mark.parametrize(
    ("text", "unclear"),
    [
        ("我收到你们的信 还没拆", True),  # no opener but the notice, nothing else said
        ("我收到你们的信 说我积分要过期", False),  # what it is about, named
        ("我收到你们的信 说换新卡送东西", False),  # named in words the topics lack: 8 of 14
        ("我们家刚搬来", False),  # nothing returned, no opener
    ],
)
def test_a_returned_contact(text: str, unclear: bool) -> None:
    assert RETURNED.judge(text).unclear_purpose is unclear, RETURNED.judge(text)


def test_the_purpose_is_judged_only_when_asked() -> None:
    assert CLASSES.judge("你好").unclear_purpose is True
    assert CLASSES.judge("你好", purpose=False).unclear_purpose is False


@pytest.mark.parametrize(
    ("words", "phrase", "error"),
    [
        ({"a": ["钱"]}, "<b>退", "unknown class <b>"),
        ({"a": ["天天"]}, "<a>", "normalizes to the one character"),
        ({"a": ["<b>"], "b": ["<a>"]}, "<a>", "names itself"),
        ({"A": ["钱"]}, "钱", "lower-case letters"),
        ({"a": ["钱"]}, "{0,2}<a>", "a gap needs words on both sides"),
    ],
)
def test_a_bad_word_class_or_phrase_is_refused_at_load(
    words: dict[str, list[str]], phrase: str, error: str
) -> None:
    spec = {
        "words": words,
        "complaint": {
            "source": "002 客户代表服务项目—投诉",
            "threshold": 2,
            "cues": [{"kind": "demand", "weight": 2, "phrases": [phrase]}],
        },
    }
    with pytest.raises(ValidationError, match=re.escape(error)):
        Intent.model_validate(spec)


def test_a_script_without_intent_recognises_nothing() -> None:
    assert IntentModel(None).judge("我要投诉，凭什么扣我钱").complaint is False


class TestInACall:
    """The scripts' intent drives the call: the call type, the purpose question."""

    def test_a_complaint_without_the_word_retypes_the_call(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        events = d.say("customer", "c1", "你们凭什么扣我钱，今天必须给我个说法", 5000)
        (retyped,) = of(events, "call_type")
        assert retyped["call_type"] == "complaint"
        assert retyped["reason"].startswith("customer: ")

    def test_a_denied_complaint_leaves_the_call_a_consultation(self, start_call: Start) -> None:
        d = start_call()
        greet(d)
        assert of(d.say("customer", "c1", "我不是要投诉，就想查下话费", 5000), "call_type") == []

    def test_the_purpose_is_asked_at_the_opening_only(self) -> None:
        d = start(compile_with())
        greet(d, customer=False)
        (prompt,) = of(d.say("customer", "c1", "喂，你好", 3000), "prompt")
        assert prompt["rule"] == "situation.purpose" and prompt["kind"] == "suggested"
        assert prompt["text"] == "请问您需要咨询哪项业务?"
        d.say("customer", "c2", "我想查一下话费", 6000)
        # the purpose is known now: a later 喂 is a bad line, not an unclear purpose
        assert of(d.say("customer", "c3", "喂", 20000), "prompt") == []

    def test_only_sounds_from_the_customer_leave_the_purpose_unclear(self) -> None:
        d = start(compile_with())
        greet(d, customer=False)
        (prompt,) = of(d.say("customer", "c1", "嗯……那个……", 3000), "prompt")
        assert prompt["rule"] == "situation.purpose"
        assert d.session.next_deadline() is None  # the empty-call steps stop: someone is there

    def test_a_complaint_call_asks_which_problem(self) -> None:
        d = start(compile_with(), call_type=None)
        d.session.suggestions.retype(d.session.timeline.call_type.COMPLAINT, "test", d.answer_ms)
        greet(d, customer=False)
        (prompt,) = of(d.say("customer", "c1", "我想问一下", 3000), "prompt")
        assert prompt["text"] == "请问您反映哪方面的问题?"


class TestALongFinal:
    """A final longer than the bound is judged by its start and its end, never whole
    (``HUASHU_INTENT_MAX_CHARS``): the check's cost grows with the text."""

    FILLER = "然后那个就是说" * 20  # 140 characters that say nothing

    def test_a_complaint_at_either_end_counts(self) -> None:
        for text in ("我要投诉，" + self.FILLER, self.FILLER + "，我要投诉"):
            assert MODEL.judge_within(text, normalize(text), 40).complaint is True

    def test_a_complaint_in_the_middle_is_not_read(self) -> None:
        text = self.FILLER + "，我要投诉，" + self.FILLER
        assert MODEL.judge(text).complaint is True
        assert MODEL.judge_within(text, normalize(text), 40).complaint is False

    def test_the_purpose_is_unclear_only_if_neither_end_says_it(self) -> None:
        opener = "喂，你好，我想问一下，" * 10
        assert MODEL.judge_within(opener, normalize(opener), 20).unclear_purpose is True
        said = opener + "我想问一下话费"
        assert MODEL.judge_within(said, normalize(said), 20).unclear_purpose is False

    def test_within_the_bound_it_is_the_whole_judgement(self) -> None:
        for text in ("我要投诉", "喂，你好", "我想问一下话费", "我不是要投诉，就想查下话费"):
            assert MODEL.judge_within(text, normalize(text), 40) == MODEL.judge(text)

    def test_the_bound_is_the_sessions(self) -> None:
        text = self.FILLER + "，你们凭什么扣我钱，今天必须给我个说法，" + self.FILLER
        for chars, retyped in ((4_096, ["complaint"]), (64, [])):
            d = start(compile_with(), bounds=FragmentBounds(intent_chars=chars))
            greet(d)
            events = d.say("customer", "c1", text, 5000)
            assert [e["call_type"] for e in of(events, "call_type")] == retyped
