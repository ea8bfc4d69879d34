"""Checking text outside a live call: the script dry run, offline checks and the evaluation.

Each check drives a fresh :class:`CallSession` exactly as a live call would (answered, the
customer has spoken, then the utterance as one final segment), so what it reports is what an
agent's screen would have shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, CallSetup, Fragment, Speaker
from app.engine.phases import CallType
from app.engine.session import CallSession

#: 2026-11-22 10:00 in Shanghai: a neutral time of day for checks that give none.
DEFAULT_AT_MS = 1_795_312_800_000


@dataclass(frozen=True, slots=True)
class CheckResult:
    alerts: list[dict[str, Any]]
    prompts_done: list[str]


def check_utterance(
    compiled: CompiledScript,
    text: str,
    speaker: Speaker = "agent",
    call_type: CallType | None = None,
    at_ms: int | None = None,
    timezone: str = "Asia/Shanghai",
) -> CheckResult:
    """What one utterance raises: the alerts on its words (as final text: confirmed), and the
    required phrases of the call type it says (judged against every one of them, not only the
    one due now)."""
    at = DEFAULT_AT_MS if at_ms is None else at_ms
    session = CallSession(
        compiled,
        CallSetup(
            call_id="check", script_id=compiled.script.id, call_type=call_type, timezone=timezone
        ),
    )
    session.handle(CallEvent("answered", at), at)
    if speaker == "agent":
        # The customer has spoken: the agent is mid-call, not failing to greet.
        session.handle(Fragment("customer", "check-c", "你好", True, 0, 0), at)
    events = session.handle(Fragment(speaker, "check", text, True, 0, 0), at)
    alerts = [e.body for e in events if e.type == "alert" and e.body.get("segment") == "check"]
    done = session.said_rules(text)
    return CheckResult(alerts, done)


def check_segments(
    compiled: CompiledScript,
    texts: list[str],
    speaker: Speaker = "agent",
    call_type: CallType | None = None,
    at_ms: int | None = None,
) -> list[dict[str, Any]]:
    """The alerts on the words of ``texts`` said as consecutive final segments of one speaker
    (a phrase split over them is reported on the later), in a call set up as
    :func:`check_utterance` sets it up."""
    at = DEFAULT_AT_MS if at_ms is None else at_ms
    session = CallSession(
        compiled,
        CallSetup(call_id="check", script_id=compiled.script.id, call_type=call_type),
    )
    session.handle(CallEvent("answered", at), at)
    if speaker == "agent":
        session.handle(Fragment("customer", "check-c", "你好", True, 0, 0), at)
    ids = {f"check-{i}" for i in range(len(texts))}
    alerts: list[dict[str, Any]] = []
    for i, text in enumerate(texts):
        for event in session.handle(Fragment(speaker, f"check-{i}", text, True, i, i), at):
            if event.type == "alert" and event.body.get("segment") in ids:
                alerts.append(event.body)
    return alerts
