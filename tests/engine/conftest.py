"""A small script written for the engine tests: every kind of rule, none of the real phrases'
volume, so a test shows exactly which rule produced an event."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.engine.compiled import CompiledScript
from app.engine.lexicon import Lexicon
from app.engine.messages import CallEvent, CallSetup, Event, Fragment
from app.engine.outbox import DEFAULT_BOUNDS, FragmentBounds
from app.engine.phases import CallType
from app.engine.script import Script
from app.engine.session import CallSession

SHANGHAI = ZoneInfo("Asia/Shanghai")

SCRIPT: dict[str, Any] = {
    "id": "test-line",
    "name": "test line",
    "timing": {"ring_limit_s": 15, "greeting_late_s": 5},
    "greeting": {
        "periods": [
            {"start": "04:00", "word": "早上好"},
            {"start": "08:00", "word": "上午好"},
            {"start": "12:00", "word": "下午好"},
            {"start": "18:00", "word": "晚上好"},
        ],
        "words": ["早上好", "上午好", "中午好", "下午好", "晚上好"],
        "source": "002 规范用语——10086开头语",
    },
    "prompts": [
        {
            "rule": "greeting.open",
            "phase": "greeting",
            "then": "answering",
            "text": "{greeting},中国移动,很高兴为您服务!",
            "source": "002 开头语",
            "call_types": ["consult", "complaint", "harassment"],
        },
        {
            "rule": "greeting.open",
            "phase": "greeting",
            "then": "answering",
            "text": "这里是中国移动10086,请问您是{title}吗?",
            "source": "002 回访用语",
            "call_types": ["callback"],
        },
        {
            "rule": "closing.confirm",
            "phase": "closing",
            "then": "rating",
            "text": "请问我刚才给您的解释您明白吗?",
            "source": "002 结束语",
            "call_types": ["consult"],
        },
        {
            "rule": "rating.prompt",
            "phase": "rating",
            "text": "请稍候为我的服务进行评价",
            "source": "002 结束语",
            "call_types": ["consult"],
            "due": {"after": "closing.confirm", "delay_s": 2},
        },
        {
            "rule": "closing.farewell",
            "phase": "rating",
            "text": "感谢您使用中国移动,祝您{wish},{title},再见。",
            "source": "002 结束语",
            "call_types": ["consult"],
            "due": {"after": "rating.prompt"},
        },
        {
            "rule": "closing.confirm",
            "phase": "closing",
            "then": "rating",
            "text": "请问我的答复能否解决您的问题?",
            "source": "002 投诉结束语",
            "call_types": ["complaint"],
        },
        {
            "rule": "rating.prompt",
            "phase": "rating",
            "text": "请您不要挂机,稍后请对我的服务做出评价,好吗?",
            "source": "002 投诉结束语",
            "call_types": ["complaint"],
            "due": {"after": "closing.confirm", "delay_s": 2},
        },
        {
            "rule": "closing.callback",
            "phase": "closing",
            "text": "感谢您对中国移动一如既往的支持",
            "source": "002 回访用语",
            "call_types": ["callback"],
        },
        {
            "rule": "closing.harassment",
            "phase": "closing",
            "text": "对不起,如不咨询,请您挂机,谢谢配合!",
            "source": "002 空电话",
            "call_types": ["harassment"],
        },
    ],
    "situations": [
        {
            "rule": "situation.work_no",
            "trigger": {"phrases": ["工号"]},
            "text": "我是{work_no}号客户代表,如服务不周,请您指教",
            "source": "002 其它",
        },
        {
            "rule": "situation.harassment",
            "trigger": {"phrases": ["陪我聊天"]},
            "text": "对不起,上班时间不好闲聊,如不咨询请您挂机,谢谢配合!再见!",
            "source": "002 其它",
            "call_type": "harassment",
        },
        {
            "rule": "situation.cannot_answer",
            "speaker": "agent",
            "trigger": {"phrases": ["不太清楚"]},
            "text": "对不起,请您留下联系电话,我们稍后帮您查询一下,再给您答复,好吗?",
            "source": "002 其它",
        },
        {
            "rule": "situation.repeat",
            "speaker": "agent",
            "trigger": {"phrases": ["没听清"]},
            "text": "对不起,请您再重复一遍好吗",
            "source": "002 其它",
        },
        {
            "rule": "situation.hold",
            "event": "hold",
            "text": "对不起,请您稍等,我帮您查询一下",
            "source": "002 其它",
        },
        {
            "rule": "situation.unhold",
            "event": "unhold",
            "text": "对不起,让您久等了",
            "source": "002 其它",
        },
        {
            "rule": "situation.purpose",
            "intent": "unclear_purpose",
            "call_types": ["consult", "callback", "harassment"],
            "text": "请问您需要咨询哪项业务?",
            "source": "002 当询问客户目的时 (咨询)",
        },
        {
            "rule": "situation.purpose_complaint",
            "intent": "unclear_purpose",
            "call_types": ["complaint"],
            "text": "请问您反映哪方面的问题?",
            "source": "002 当询问客户目的时 (投诉)",
        },
        {
            "rule": "situation.speak_louder",
            "event": "volume_low",
            "text": "对不起,请您说话声音大一点,好吗",
            "source": "002 其它",
        },
    ],
    "no_response": {
        "steps": [
            {
                "delay_s": 3,
                "text": "请问您需要咨询移动业务吗?这里是10086咨询热线。",
                "source": "002 空电话",
            }
        ],
        "final_delay_s": 3,
        "source": "002 空电话",
    },
    "end_signals": {"phrases": ["没有了", "好的谢谢"], "at_end": 2},
    "intent": {
        "complaint": {
            "source": "002 客户代表服务项目—投诉",
            "threshold": 2,
            "cues": [
                {"kind": "explicit", "weight": 2, "phrases": ["投诉"]},
                {"kind": "demand", "weight": 2, "phrases": ["凭什么", "给{我,}{个,}说法"]},
            ],
            "negators": ["不是"],
        },
        "unclear_purpose": {
            "source": "002 当询问客户目的时",
            "openers": ["喂", "你好", "我想", "问一下"],
            "generic": ["我", "一下"],
        },
    },
    "slot_defaults": {
        "wish": {"text": "生活愉快", "source": "002 结束语"},
        "title": {"text": "先生/女士", "source": "002 结束语"},
    },
    "behaviour": {
        "slow_answer": {
            "rule": "behaviour.slow_answer",
            "severity": "major",
            "source": "000 远程服务 2",
        },
        "hold_no_apology": {
            "rule": "behaviour.hold_no_apology",
            "severity": "major",
            "source": "002 其它",
            "apology": "让您久等了",
            "phrases": ["久等"],
        },
        "interrupting": {
            "rule": "behaviour.interrupting",
            "severity": "major",
            "source": "002 服务禁忌",
            "alert_after": 2,
            "tolerance_ms": 300,
            "back_channel": ["嗯", "对", "对的", "是的", "好的"],
        },
        "bare_what": {
            "rule": "behaviour.bare_what",
            "severity": "minor",
            "source": "002 服务禁忌",
            "phrase": "什么",
            "utterances": ["什么", "啥", "什么呀", "什么啊", "啊什么", "嗯什么"],
            "what": ["什么", "啥"],
            "around": ["你", "说", "的", "呢", "呀", "东西", "刚才"],
            "repeat": ["再说一遍", "重复一遍"],
            "polite": ["对不起", "不好意思", "请"],
        },
        "rushing_off": {
            "rule": "behaviour.rushing_off",
            "severity": "major",
            "source": "002 服务禁忌",
            "exempt_call_types": ["harassment"],
            "phrases": ["请您挂机", "挂了吧"],
            "allow": ["请您挂机后再拨"],
        },
        "agent_hung_up_first": {
            "rule": "behaviour.agent_hung_up_first",
            "severity": "major",
            "source": "002 服务禁忌",
            "exempt_call_types": ["harassment"],
        },
        "colleague_talk": {
            "rule": "behaviour.colleague_talk",
            "severity": "major",
            "source": "002 服务禁忌—行为 客户尚未挂机便与同事交谈",
            "after": ["closing.farewell", "closing.harassment"],
            "min_chars": 4,
            "to_customer": ["您", "先生", "再见"],
            "closing": ["再见", "不客气", "好的", "谢谢"],
        },
        "hold_unannounced": {
            "rule": "behaviour.hold_unannounced",
            "severity": "major",
            "source": "002 其它 请您稍等",
            "phrases": ["稍等", "等一下"],
            "within_s": 30,
            "grace_s": 3,
        },
        "no_pause": {
            "rule": "behaviour.no_pause",
            "severity": "minor",
            "source": "002 结束语 停顿2秒",
            "tolerance_ms": 200,
        },
    },
}

LEXICON: dict[str, Any] = {
    "id": "forbidden",
    "name": "test lexicon",
    "categories": {"shirk": {"name": "推诿"}, "rude": {"name": "生硬"}},
    "entries": [
        {"phrase": "不关我的事!", "category": "shirk", "source": "002 服务禁忌—禁语"},
        {
            "phrase": "我不知道",
            "category": "shirk",
            "source": "001 1.2.3",
            "suggest": "situation.cannot_answer",
        },
        {
            "phrase": "你问我,我问谁?",
            "category": "rude",
            "source": "002 服务禁忌—禁语",
            "variants": ["我问谁"],
        },
        {
            "phrase": "我不管",
            "category": "shirk",
            "source": "004 表3",
            "allow": ["我不管怎样"],
            "boundary": True,
        },
        {
            "phrase": "你去找领导",
            "category": "rude",
            "source": "002 有意见找领导去",
            "variants": ["找领导{0,2}去"],
            "unless_after": ["如果您"],
            "exempt_phases": ["rating"],
        },
    ],
}


def at(text: str) -> int:
    """Epoch ms of a Shanghai local time 'YYYY-MM-DD HH:MM:SS'."""
    return int(
        datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).timestamp() * 1000
    )


def compile_with(**behaviour: dict[str, Any] | None) -> CompiledScript:
    """The test script, with the fields given changed in its behaviour rules."""
    rules = {**SCRIPT["behaviour"]}
    for name, fields in behaviour.items():
        if fields is None:  # the rule left out
            rules.pop(name)
            continue
        rules[name] = {**rules.get(name, {}), **fields}
    script = Script.model_validate({**SCRIPT, "behaviour": rules})
    return CompiledScript(script, Lexicon.model_validate(LEXICON))


@pytest.fixture(scope="session")
def compiled() -> CompiledScript:
    return compile_with()


class Driver:
    """Feeds a session with explicit times; the wall clock follows call time exactly."""

    def __init__(self, session: CallSession, start: int) -> None:
        self.session = session
        self.answer_ms = start
        self.events: list[Event] = []

    def event(self, name: str, at_ms: int, by: str | None = None) -> list[dict[str, Any]]:
        return self._run(CallEvent(name, at_ms, by), at_ms)  # type: ignore[arg-type]

    def say(
        self,
        speaker: str,
        segment: str,
        text: str,
        end_ms: int,
        final: bool = True,
        start_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        fragment = Fragment(speaker, segment, text, final, start_ms, end_ms)  # type: ignore[arg-type]
        return self._run(fragment, self.answer_ms + end_ms)

    def arrive(
        self,
        speaker: str,
        segment: str,
        text: str,
        start_ms: int | None,
        end_ms: int | None,
        arrive_ms: int,
        final: bool = True,
    ) -> list[dict[str, Any]]:
        """A fragment with its own times that arrives at ``arrive_ms`` (since the answer):
        two ASR channels deliver finals late and out of order."""
        fragment = Fragment(speaker, segment, text, final, start_ms, end_ms)  # type: ignore[arg-type]
        return self._run(fragment, self.answer_ms + arrive_ms)

    def tick(self, offset_ms: int) -> list[dict[str, Any]]:
        events = self.session.on_timer(self.answer_ms + offset_ms)
        self.events.extend(events)
        return [e.to_wire() for e in events]

    def _run(self, item: CallEvent | Fragment, wall: int) -> list[dict[str, Any]]:
        events = self.session.handle(item, wall)
        self.events.extend(events)
        return [e.to_wire() for e in events]


def start(
    compiled: CompiledScript,
    when: str = "2026-11-22 10:03:00",
    call_type: CallType | None = CallType.CONSULT,
    answered: bool = True,
    bounds: FragmentBounds = DEFAULT_BOUNDS,
    **setup: Any,
) -> Driver:
    """A call of ``compiled`` rung at ``when`` (Shanghai), answered then unless told not to,
    with the shell's ``bounds``."""
    begin = at(when)
    fields: dict[str, Any] = {"work_no": "1001", "customer_title": "王先生", **setup}
    session = CallSession(
        compiled,
        CallSetup(
            call_id="c-1",
            script_id=compiled.script.id,
            call_type=call_type,
            ring_at_ms=begin,
            **fields,
        ),
        bounds=bounds,
    )
    driver = Driver(session, begin)
    if answered:
        driver.event("answered", begin)
    return driver


@pytest.fixture
def start_call(compiled: CompiledScript) -> Callable[..., Driver]:
    """:func:`start` for the test script."""
    return functools.partial(start, compiled)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


Start = Callable[..., Driver]


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def greet(d: Driver, end_ms: int = 2000, customer: bool = True) -> list[dict[str, Any]]:
    """The agent greets; the customer answers (unless told not to: an empty call)."""
    word = d.session.prompts.slots["greeting"]
    events = d.say("agent", "a-g", f"{word},中国移动,很高兴为您服务!", end_ms)
    if customer:
        events += d.say("customer", "c-g", "你好", end_ms + 500)
    return events


def consult_call(d: Driver) -> None:
    greet(d)
    d.say("customer", "c1", "我想问一下我的套餐", 4000)
    d.say("agent", "a2", "您的套餐是五十八元套餐", 6000)
