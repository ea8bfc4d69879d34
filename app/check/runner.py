"""Driving recorded calls through the engine, with their own times, over the cores.

A call runs as it would live: the same :class:`CallSession`, the inputs in order, each given
its call time as the shell's "wall clock" (so the session's clock follows the recording, not
this machine's), and every deadline the session asks for fired at its time, before the next
input. A call whose input does not hang up ends just after its last message.

Calls are checked in a process pool: the script library is compiled once in the parent before
the pool starts, so each worker has it from the fork; the parent sends paths and gets back
small results (:class:`CallResult`), not reports.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from app.check.calls import CallResult, Finding, RecordedCall
from app.check.readers import Options, Source, Unreadable, read
from app.engine import normalize, phonetic, prompts
from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, Event, Fragment
from app.engine.session import CallSession
from app.errors import HuashuError
from app.scripts.loader import load_library

#: A call that does not end by itself ends this long after its last message.
END_AFTER_MS = 1000
#: Results a worker hands back at once: fewer round trips, a progress bar that still moves.
CHUNK = 16

#: The compiled library of this process (the parent's, inherited by forked workers).
_SCRIPTS: dict[str, CompiledScript] = {}


def load_scripts(scripts_dir: Path) -> dict[str, CompiledScript]:
    """Compile the library into this process (before the pool forks), with the dictionaries
    and tables the engine loads on first use. Raises ScriptLoadError."""
    library = load_library(scripts_dir)
    _SCRIPTS.clear()
    for sid, script in library.scripts.items():
        _SCRIPTS[sid] = CompiledScript(script, library.lexicon_for(script))
    normalize.warm_up()
    phonetic.warm_up()
    prompts.warm_up()
    return _SCRIPTS


def check_call(call: RecordedCall, scripts: dict[str, CompiledScript]) -> CallResult:
    """What the engine makes of one recorded call."""
    compiled = scripts.get(call.setup.script_id)
    if compiled is None:
        known = ", ".join(sorted(scripts))
        return _failed(call, f"unknown script {call.setup.script_id!r}; known: {known}")
    if call.unjudged is not None:
        return _failed(call, None, call.unjudged)
    start = call.answered_ms or call.setup.ring_at_ms
    session = CallSession(compiled, call.setup, start)
    now = start or 0
    answered = call.answered_ms
    alert_times: dict[str, int] = {}
    notes = list(call.notes)
    refused = 0
    fragments = 0

    def note(events: list[Event]) -> None:
        for event in events:
            if event.type == "alert":
                alert_times[event.body["id"]] = event.at_ms

    for at, item in call.inputs:
        if type(item) is Fragment:
            fragments += 1
            offset = item.end_ms if item.end_ms is not None else item.start_ms
            if at is None and answered is not None and offset is not None:
                at = answered + offset
        elif isinstance(item, CallEvent) and item.name == "answered" and answered is None:
            answered = at if at is not None else now
        t = max(now, at) if at is not None else now
        if answered is None and type(item) is Fragment:
            answered = t  # the engine answers a call at its first words
        deadline = session.next_deadline()
        if deadline is not None and deadline <= t:
            _fire(session, t, note)
        try:
            events = session.handle(item, t)
            if events:
                note(events)
        except HuashuError as exc:
            refused += 1
            if refused <= 3:
                notes.append(f"input refused by the engine: {exc.code}: {exc}")
        now = t
        if session.ended:
            break
    if not session.ended:
        end = now + END_AFTER_MS
        _fire(session, end, note)
        note(session.handle(CallEvent("hangup", end), end))
        if not call.hangs_up:
            notes.append("no hangup in the input: the call ends after its last message")
    if refused > 3:
        notes.append(f"{refused} inputs refused by the engine in all")
    return _result(call, compiled, session, alert_times, notes, fragments)


def _fire(session: CallSession, t: int, note: Callable[[list[Event]], None]) -> None:
    """Every deadline up to ``t``, each at its own time."""
    while True:
        deadline = session.next_deadline()
        if deadline is None or deadline > t or session.ended:
            return
        note(session.on_timer(deadline))


def _result(
    call: RecordedCall,
    compiled: CompiledScript,
    session: CallSession,
    alert_times: dict[str, int],
    notes: list[str],
    fragments: int,
) -> CallResult:
    report = session.report()
    scoring = compiled.script.scoring
    cost = {
        "forbidden": scoring.forbidden,
        "script": scoring.script,
        "behaviour": scoring.behaviour,
    }
    skipped = set(call.not_judged)
    findings: list[Finding] = []
    returned = 0.0
    for alert in report["alerts"]:
        if alert["rule"] in skipped:
            factor = scoring.phonetic_factor if alert["match"] == "phonetic" else 1.0
            returned += cost[alert["category"]] * factor
            continue
        findings.append(
            Finding(
                kind="alert",
                rule=alert["rule"],
                category=alert["category"],
                severity=alert["severity"],
                at_ms=alert_times.get(alert["id"]),
                speaker=alert.get("speaker"),
                segment=alert.get("segment"),
                phrase=alert.get("phrase"),
                text=alert.get("text"),
                match=alert.get("match"),
                detail=alert.get("detail"),
            )
        )
    expected: dict[str, str] = {}
    if report["missed"] or report["deviated"]:
        expected = {item["rule"]: item["text"] for item in session.snapshot()["checklist"]}
    for rule in report["missed"]:
        findings.append(
            Finding("missed", rule, "script", "major", phrase=expected.get(rule), detail="not said")
        )
    said = {item["rule"]: item["text"] for item in report["said"]}
    for deviated in report["deviated"]:
        rule = deviated["rule"]
        findings.append(
            Finding(
                "deviated",
                rule,
                "script",
                "minor",
                phrase=expected.get(rule),
                text=said.get(rule),
                detail=f"similarity {deviated['similarity']:.2f}",
            )
        )
    score = min(scoring.start, report["score"] + round(returned))
    transcript = tuple(
        (line["speaker"], line["text"], line["start_ms"], line["end_ms"])
        for line in report["transcript"]
    )
    return CallResult(
        name=call.name,
        source=call.source,
        script=compiled.script.id,
        agent=call.setup.agent_id or call.setup.work_no or "",
        call_type=report["call_type"],
        score=score,
        phases=tuple(report["phases"]),
        findings=tuple(findings),
        not_judged=call.not_judged,
        notes=tuple(notes),
        transcript=transcript,
        fragments=fragments,
        said=tuple(said),
    )


def _failed(call: RecordedCall, error: str | None, why: str | None = None) -> CallResult:
    """A call with no score: it could not be checked (``error``), or had nothing to judge."""
    return CallResult(
        name=call.name,
        source=call.source,
        script=call.setup.script_id,
        agent=call.setup.agent_id or "",
        call_type="",
        score=None,
        notes=call.notes + ((why,) if why else ()),
        error=error,
    )


def check_source(source: Source, options: Options) -> list[CallResult]:
    """Read and check every call of one input (in a worker)."""
    try:
        calls = read(source, options)
    except Unreadable as exc:
        name = Path(source.path).stem
        return [CallResult(name, source.path, options.script, "", "", None, error=str(exc))]
    return [check_call(call, _SCRIPTS) for call in calls]


def _check_chunk(sources: list[Source], options: Options) -> list[CallResult]:
    return [result for source in sources for result in check_source(source, options)]


def check_all(
    sources: list[Source], options: Options, workers: int | None = None
) -> Iterator[tuple[int, list[CallResult]]]:
    """Check every input, ``workers`` processes at once (the cores by default; 1: in this
    process). Yields (inputs done, their results) as chunks finish, in no fixed order. The
    library must be loaded first (:func:`load_scripts`)."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(sources) <= 1:
        for source in sources:
            yield 1, check_source(source, options)
        return
    chunk = max(1, min(CHUNK, len(sources) // (workers * 4) or 1))
    chunks = [sources[i : i + chunk] for i in range(0, len(sources), chunk)]
    # fork: the workers start with the parent's compiled library (start-up in milliseconds).
    # Frozen first: the collector then never walks (nor writes to) the library's objects in a
    # worker, whose pages stay shared with the parent.
    gc.collect()
    gc.freeze()
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_check_chunk, part, options) for part in chunks]
            sizes = {id(f): len(part) for f, part in zip(futures, chunks, strict=True)}
            for future in as_completed(futures):
                yield sizes[id(future)], future.result()
    finally:
        gc.unfreeze()
