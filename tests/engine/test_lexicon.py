"""The real script library against the norms: every 禁语 alerts when the agent says it, however it
is punctuated or split; never when the customer says it; no prescribed phrase alerts."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, CallSetup, Fragment
from app.engine.normalize import normalize_text
from app.engine.offline import DEFAULT_AT_MS, check_utterance
from app.engine.phases import CallType
from app.engine.session import CallSession
from app.scripts.loader import Library, load_library

ROOT = Path(__file__).resolve().parents[2]
LIBRARY: Library = load_library(ROOT / "scripts_data")
LEXICON = LIBRARY.lexicons["forbidden"]


class _Compiled(dict[str, CompiledScript]):
    """Each script compiled at its first use, not as the module is collected (every test process
    collects every module)."""

    def __missing__(self, sid: str) -> CompiledScript:
        script = LIBRARY.scripts[sid]
        compiled = self[sid] = CompiledScript(script, LIBRARY.lexicon_for(script))
        return compiled


COMPILED = _Compiled()
ENTRIES = [pytest.param(e, id=e.phrase) for e in LEXICON.entries]


def _readings(phrase: str) -> list[str]:
    """The phrase as an agent would say it: the norm's text, minus any parenthesised aside."""
    if "(" not in phrase and "（" not in phrase:
        return [phrase]
    import re

    plain = re.sub(r"[(（][^)）]*[)）]", "", phrase)
    inner = re.sub(r"[(（]([^)）]*)[)）]", r"\1", phrase)
    return [plain, inner]


def forbidden_rules(script: str, text: str, speaker: str = "agent") -> list[str]:
    result = check_utterance(COMPILED[script], text, speaker)  # type: ignore[arg-type]
    return [a["rule"] for a in result.alerts if a["category"] == "forbidden"]


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("script", sorted(LIBRARY.scripts))
def test_every_forbidden_phrase_alerts_as_written(script: str, entry: object) -> None:
    for reading in _readings(entry.phrase):  # type: ignore[attr-defined]
        assert forbidden_rules(script, reading) == [f"forbidden.{entry.category}"], reading  # type: ignore[attr-defined]


@pytest.mark.parametrize("entry", ENTRIES)
def test_without_punctuation_and_inside_a_sentence(entry: object) -> None:
    for reading in _readings(entry.phrase):  # type: ignore[attr-defined]
        bare = normalize_text(reading)
        assert forbidden_rules("cmcc-10086", bare), bare
        assert forbidden_rules("cmcc-10086", f"好的，{reading}这个我也说不好"), reading


@pytest.mark.parametrize("entry", ENTRIES)
def test_split_over_two_segments(entry: object) -> None:
    for reading in _readings(entry.phrase):  # type: ignore[attr-defined]
        bare = normalize_text(reading)
        cut = len(bare) // 2
        session = CallSession(
            COMPILED["cmcc-10086"],
            CallSetup(call_id="split", script_id="cmcc-10086", call_type=CallType.CONSULT),
        )
        at = DEFAULT_AT_MS
        session.handle(CallEvent("answered", at), at)
        session.handle(Fragment("customer", "c", "你好", True, 0, 0), at)
        first = session.handle(Fragment("agent", "a1", bare[:cut], True, 100, 200), at)
        second = session.handle(Fragment("agent", "a2", bare[cut:], True, 300, 400), at)
        alerts = [
            e.body
            for e in first + second
            if e.type == "alert" and e.body["category"] == "forbidden"
        ]
        assert alerts and alerts[-1]["segment"] == "a2", reading


@pytest.mark.parametrize("entry", ENTRIES)
def test_customer_saying_it_raises_nothing(entry: object) -> None:
    for reading in _readings(entry.phrase):  # type: ignore[attr-defined]
        result = check_utterance(COMPILED["cmcc-10086"], reading, "customer")
        assert result.alerts == [], reading


def _prescribed(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (ROOT / "tests" / "engine" / name).read_text(encoding="utf-8").splitlines():
        if line.strip():
            source, phrase = line.split("\t")
            rows.append((source, phrase))
    return rows


def _script_phrases() -> list[tuple[str, str, str]]:
    """Every prompt and situation text of every script, slots filled with plausible values."""
    values = {
        "greeting": "上午好",
        "work_no": "1001",
        "title": "王先生",
        "wish": "生活愉快",
        "holiday": ",新年快乐",
        "agent_name": "小李",
        "company_phone": "10086",
    }
    out = []
    for sid, script in LIBRARY.scripts.items():
        texts = [(p.rule, p.text, p.call_types) for p in script.prompts]
        texts += [(s.rule, s.text, s.call_types or tuple(CallType)) for s in script.situations]
        for rule, text, call_types in texts:
            filled = text
            for key, value in values.items():
                filled = filled.replace("{" + key + "}", value)
            call_type = (
                CallType.HARASSMENT
                if CallType.HARASSMENT in call_types and "挂机" in filled
                else call_types[0]
            )
            out.append((sid, f"{rule}:{call_type}", filled))
    return out


@pytest.mark.parametrize(("source", "phrase"), _prescribed("prescribed_phrases.txt"))
def test_prescribed_phrases_raise_nothing(source: str, phrase: str) -> None:
    for script in LIBRARY.scripts:
        alerts = check_utterance(COMPILED[script], phrase).alerts
        assert [a for a in alerts if a["category"] in ("forbidden", "behaviour")] == [], (
            script,
            phrase,
        )


@pytest.mark.parametrize(("source", "phrase"), _prescribed("prescribed_harassment.txt"))
def test_harassment_phrases_are_prescribed_on_harassment_calls_only(
    source: str, phrase: str
) -> None:
    compiled = COMPILED["cmcc-10086"]
    assert check_utterance(compiled, phrase, call_type=CallType.HARASSMENT).alerts == []
    rules = [
        a["rule"] for a in check_utterance(compiled, phrase, call_type=CallType.CONSULT).alerts
    ]
    assert "behaviour.rushing_off" in rules


@pytest.mark.parametrize(("script", "rule", "text"), _script_phrases())
def test_script_phrases_raise_nothing(script: str, rule: str, text: str) -> None:
    call_type = CallType(rule.split(":")[1])
    alerts = check_utterance(COMPILED[script], text, call_type=call_type).alerts
    assert [a for a in alerts if a["category"] in ("forbidden", "behaviour")] == [], text


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("你问我", "我问谁"),  # the norm's own clauses, the join repeating 我
        ("我也没", "没办法"),
        ("我查", "查不到"),
        ("我不", "不知道"),
        ("我管", "管不着"),
        ("你问我你问我", "我问谁"),
    ],
)
def test_a_stutter_across_two_segments_is_read_once(first: str, second: str) -> None:
    """Normalization reads 我我 as 我 inside a segment; across the join of two, so does the
    stream."""
    session = CallSession(
        COMPILED["cmcc-10086"],
        CallSetup(call_id="split", script_id="cmcc-10086", call_type=CallType.CONSULT),
    )
    at = DEFAULT_AT_MS
    session.handle(CallEvent("answered", at), at)
    session.handle(Fragment("customer", "c", "你好", True, 0, 0), at)
    session.handle(Fragment("agent", "a1", first, True, 100, 200), at)
    events = session.handle(Fragment("agent", "a2", second, True, 300, 400), at)
    alerts = [e.body for e in events if e.type == "alert" and e.body["category"] == "forbidden"]
    assert [a["segment"] for a in alerts] == ["a2"], (first, second)


@pytest.mark.parametrize(
    "text",
    [
        "我真的不知道",
        "我这边也没办法",
        "你到底想咋样",
        "这合同怎么签的",
        "有完没完你",
        "不關我的事",
        "你问我那我问谁",
    ],
)
def test_rewordings_alert_for_the_agent_only(text: str) -> None:
    compiled = COMPILED["cmcc-10086"]
    assert [a["category"] for a in check_utterance(compiled, text).alerts] == ["forbidden"], text
    assert check_utterance(compiled, text, "customer").alerts == [], text
