"""Driving recorded calls through the engine (app/check/runner.py): their own times, the
deadlines between inputs, findings with the words said, what is not judged, the pool."""

from __future__ import annotations

from pathlib import Path

from app.check.calls import CallResult, RecordedCall
from app.check.readers import Options, discover, read
from app.check.runner import check_all, check_call, check_source
from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, CallSetup, Fragment
from app.engine.offline import DEFAULT_AT_MS
from tests.check.conftest import CALLS, ENGINE_CALLS

OPTIONS = Options()


def checked(name: str) -> CallResult:
    [source] = [s for s in discover([CALLS]) if Path(s.path).stem == name]
    [result] = check_source(source, OPTIONS)
    return result


def test_a_call_said_as_the_norm_words_it(scripts: dict[str, CompiledScript]) -> None:
    result = checked("a1001-consult-good")
    assert (result.score, result.findings, result.error) == (100, (), None)
    assert result.phases == ("ringing", "greeting", "answering", "closing", "rating", "ended")
    assert result.agent == "A1001" and result.fragments == 10
    assert result.transcript[0] == ("agent", "上午好，中国移动，很高兴为您服务", 400, 2400)


def test_findings_carry_the_rule_the_moment_and_the_words_said(
    scripts: dict[str, CompiledScript],
) -> None:
    result = checked("a1001-consult-shirk")
    shirk = next(f for f in result.findings if f.rule == "forbidden.shirk")
    assert (shirk.kind, shirk.category, shirk.speaker, shirk.at_ms) == (
        "alert",
        "forbidden",
        "agent",
        7000,
    )
    assert shirk.text == "这个真不关我的事" and shirk.phrase == "不关我的事!"
    rules = {f.rule for f in result.findings}
    assert {"forbidden.rude", "behaviour.agent_hung_up_first", "closing.missing"} <= rules
    missed = next(f for f in result.findings if f.kind == "missed" and f.rule == "closing.confirm")
    assert missed.phrase and missed.text is None
    assert result.score is not None and result.score < 50


def test_the_calls_own_times_decide_the_timing_rules(scripts: dict[str, CompiledScript]) -> None:
    result = checked("a1002-complaint-rushing")
    rules = {f.rule for f in result.findings}
    # Rung 21 s before the answer; 上午好 at 15:20; 没事就挂了 on a complaint call.
    assert {"behaviour.slow_answer", "greeting.wrong_time", "behaviour.rushing_off"} <= rules
    assert result.call_type == "complaint"


def test_rules_the_input_cannot_support_are_left_out_and_the_score_with_them(
    scripts: dict[str, CompiledScript],
) -> None:
    result = checked("a1002-consult-untimed")
    assert "behaviour.slow_answer" in result.not_judged
    assert not {f.rule for f in result.findings} & set(result.not_judged)
    assert any("no hangup" in n for n in result.notes)


def test_a_deadline_between_two_inputs_fires_at_its_own_time(
    scripts: dict[str, CompiledScript],
) -> None:
    ring = DEFAULT_AT_MS
    call = RecordedCall(
        name="late",
        source="test",
        setup=CallSetup("late", "cmcc-10086", ring_at_ms=ring),
        inputs=(
            (ring + 20_000, CallEvent("answered", ring + 20_000)),
            (
                None,
                Fragment("agent", "a1", "上午好，中国移动，很高兴为您服务", True, 9_000, 11_000),
            ),
        ),
    )
    result = check_call(call, scripts)
    timed = {f.rule: f.at_ms for f in result.findings if f.kind == "alert"}
    # The ring limit (15 s) passed before the answer, the greeting limit (5 s) before the words.
    assert timed["behaviour.slow_answer"] is not None
    assert timed["greeting.late"] == 5_000


def test_an_unknown_script_is_a_call_that_could_not_be_checked(
    scripts: dict[str, CompiledScript],
) -> None:
    call = RecordedCall("x", "test", CallSetup("x", "nope"), ())
    result = check_call(call, scripts)
    assert result.score is None and result.error is not None and "cmcc-10086" in result.error


def test_inputs_the_engine_refuses_are_noted(scripts: dict[str, CompiledScript]) -> None:
    said = Fragment("agent", "a1", "您好", True, 0, 500)
    call = RecordedCall("x", "test", CallSetup("x", "cmcc-10086"), ((None, said), (None, said)))
    result = check_call(call, scripts)
    assert any("segment_closed" in n for n in result.notes)


def test_an_engine_recording(scripts: dict[str, CompiledScript]) -> None:
    options = Options(format="tencent")
    [source] = discover([ENGINE_CALLS / "tencent"], "tencent")
    [result] = check_source(source, options)
    assert result.error is None and result.agent == "A2001"
    shirk = [f for f in result.findings if f.rule == "forbidden.shirk"]
    assert len(shirk) == 1 and shirk[0].segment == "agent-1"


def test_the_pool_finds_what_one_process_finds(scripts: dict[str, CompiledScript]) -> None:
    sources = discover([CALLS]) * 3
    alone = sorted(r for _, part in check_all(sources, OPTIONS, 1) for r in part)
    pooled = sorted(r for _, part in check_all(sources, OPTIONS, 2) for r in part)
    assert alone == pooled and len(pooled) == 12


def test_an_unreadable_input_is_a_result_that_says_why(
    tmp_path: Path, scripts: dict[str, CompiledScript]
) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{")
    [result] = check_source(discover([path])[0], OPTIONS)
    assert result.score is None and "not JSON" in (result.error or "")


def test_a_dialogue_without_the_agent_has_nothing_to_judge(
    tmp_path: Path, scripts: dict[str, CompiledScript]
) -> None:
    path = tmp_path / "user-only.json"
    path.write_text('[{"id": "u1", "content": [{"用户": "喂你好"}]}]', encoding="utf-8")
    [call] = read(discover([path])[0], OPTIONS)
    result = check_call(call, scripts)
    assert (result.score, result.error, result.findings) == (None, None, ())
    assert "no agent turns" in result.notes[-1]
