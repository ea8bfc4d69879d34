"""Reading recorded calls, one reader per input layout.

- **PROTOCOL's JSON Lines**, a file per call (``*.jsonl``): the messages a client would send on
  the stream — ``start`` first, then ``event`` and ``fragment`` lines, with their times.
  A line that the stream would refuse is skipped, and the call's notes say why.
- **An ASR engine's recorded output** (``--format``): a directory per call holding a file per
  leg, ``agent.jsonl`` and ``customer.jsonl`` (or ``stream.jsonl`` for a stream that carries
  both, Transcribe's channels), one engine message a line, as the engine sent it; and
  optionally ``call.json``: the ``start`` fields, with ``answered_at`` (ISO-8601: when the
  legs' streams began) and ``hangup`` (``{"at": …, "by": …}``). The legs are merged by the
  engines' times.
- **SereTOD/MobileCS** dialogues (``*.json``): a list of dialogues, each a list of turns (or
  ``{"id", "content": [turns]}``), a turn ``{"[SPEAKER 1]": agent, "[SPEAKER 2]": customer}``
  (``用户`` for the customer in the track-2 files). Turns have no times: times are made up at a
  steady pace and the rules that need real ones are not judged.

Where the input does not say when the phone rang, or at what time of day the call was
answered, the rules that need it are not judged either (see ``calls``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from app.asr import DECODERS, DEFAULT_FORMAT, Leg, Refused, decoder_for
from app.asr.protocol import fast_fragment
from app.calls.schemas import (
    CLIENT_MESSAGE,
    CallFields,
    EventMessage,
    FragmentMessage,
    StartMessage,
    describe,
)
from app.check.calls import RING_RULES, TIME_OF_DAY_RULES, TIMED_RULES, RecordedCall
from app.config import Settings
from app.engine.messages import CallEvent, CallSetup, Fragment, Input, Speaker
from app.engine.offline import DEFAULT_AT_MS

#: Files of a recorded engine call, and the leg each carries (None: both, by channel).
LEG_FILES: dict[str, Speaker | None] = {
    "agent.jsonl": "agent",
    "customer.jsonl": "customer",
    "stream.jsonl": None,
}
#: Made-up pace of untimed turns: the time a character takes, the shortest turn, the pause.
MS_PER_CHAR = 200
MIN_TURN_MS = 600
PAUSE_MS = 400
#: SereTOD/MobileCS turn keys, by speaker.
AGENT_KEYS = ("[SPEAKER 1]", "客服")
CUSTOMER_KEYS = ("[SPEAKER 2]", "用户")


class Unreadable(Exception):
    """A whole input that cannot be read as a call (its result says why)."""


@dataclass(frozen=True, slots=True)
class Source:
    """One input: a file or a call directory, and its layout."""

    path: str
    layout: str  # protocol | engine | mobilecs


@dataclass(frozen=True, slots=True)
class Options:
    """What ``huashu check``'s command line says about every call."""

    format: str = DEFAULT_FORMAT
    script: str = "cmcc-10086"
    timezone: str = "Asia/Shanghai"
    max_text_chars: int = 4096


def discover(paths: list[Path], fmt: str = DEFAULT_FORMAT) -> list[Source]:
    """The calls under ``paths``, in a stable order. Raises :class:`Unreadable` for a path
    that is not there or holds no call."""
    sources: list[Source] = []
    for path in paths:
        if not path.exists():
            raise Unreadable(f"{path}: no such file or directory")
        found = _discover(path, fmt)
        if not found:
            raise Unreadable(f"{path}: no calls here ({_expected(fmt)})")
        sources.extend(found)
    return sources


def _expected(fmt: str) -> str:
    if fmt == DEFAULT_FORMAT:
        return "*.jsonl files of PROTOCOL messages, or SereTOD/MobileCS *.json"
    return f"directories with agent.jsonl and customer.jsonl of {fmt} messages"


def _is_engine_call(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in LEG_FILES)


def _discover(path: Path, fmt: str) -> list[Source]:
    if fmt != DEFAULT_FORMAT:
        if _is_engine_call(path):
            return [Source(str(path), "engine")]
        if path.is_dir():
            calls = [p for p in sorted(path.rglob("*")) if _is_engine_call(p)]
            return [Source(str(p), "engine") for p in calls]
        return []
    if path.is_file():
        return [Source(str(path), "mobilecs" if path.suffix == ".json" else "protocol")]
    found: list[Source] = []
    for child in sorted(path.rglob("*")):
        if child.is_file() and child.suffix == ".jsonl":
            found.append(Source(str(child), "protocol"))
        elif child.is_file() and child.suffix == ".json":
            found.append(Source(str(child), "mobilecs"))
    return found


def read(source: Source, options: Options) -> list[RecordedCall]:
    """The calls of one input. Raises :class:`Unreadable`."""
    path = Path(source.path)
    try:
        if source.layout == "protocol":
            return [read_protocol(path, options)]
        if source.layout == "engine":
            return [read_engine(path, options)]
        return read_mobilecs(path, options)
    except OSError as exc:
        raise Unreadable(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise Unreadable(f"{path}: not UTF-8 text") from None


def _not_judged(setup: CallSetup, answered: bool, timed: bool) -> tuple[str, ...]:
    rules: list[str] = []
    if setup.ring_at_ms is None:
        rules += RING_RULES
        if not answered:
            rules += TIME_OF_DAY_RULES
    if not timed:
        rules += TIMED_RULES
    return tuple(rules)


# -- PROTOCOL's JSON Lines ---------------------------------------------------------------------


def read_protocol(path: Path, options: Options) -> RecordedCall:
    name = path.stem
    setup: CallSetup | None = None
    inputs: list[tuple[int | None, Input]] = []
    notes: list[str] = []
    answered: int | None = None
    timed = False
    hangs_up = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
            if isinstance(data, dict) and data.get("type") == "fragment":
                # Most lines: PROTOCOL's fragment as it stands, checked as the stream does.
                fast = fast_fragment(data, options.max_text_chars)
                if fast is not None:
                    fragment = fast[0]
                    timed = timed or fragment.end_ms is not None or fragment.start_ms is not None
                    inputs.append((None, fragment))
                    continue
            message = CLIENT_MESSAGE.validate_python(data)
        except orjson.JSONDecodeError as exc:
            notes.append(f"line {number}: not JSON: {exc}")
            continue
        except Refused as refused:
            notes.append(f"line {number}: {refused.detail}")
            continue
        except ValidationError as exc:
            kind = data.get("type") if isinstance(data, dict) else None
            notes.append(f"line {number}: {describe(exc.errors(), str(kind or 'message'))}")
            continue
        if isinstance(message, StartMessage):
            if setup is not None or inputs:
                notes.append(f"line {number}: start after the call began: ignored")
                continue
            setup = message.setup(name, message.timezone or options.timezone)
        elif isinstance(message, EventMessage):
            event = message.to_input()
            assert isinstance(event, CallEvent)
            if event.name == "answered" and event.at_ms is not None:
                answered = event.at_ms
            hangs_up = hangs_up or event.name == "hangup"
            inputs.append((event.at_ms, event))
        elif isinstance(message, FragmentMessage):
            if len(message.text) > options.max_text_chars:
                notes.append(f"line {number}: fragment.text: beyond {options.max_text_chars}")
                continue
            fragment = message.to_input()
            assert isinstance(fragment, Fragment)
            timed = timed or fragment.end_ms is not None or fragment.start_ms is not None
            inputs.append((None, fragment))
    if setup is None:
        setup = CallSetup(name, options.script, timezone=options.timezone)
        notes.append(f"no start line: script {options.script}")
    return RecordedCall(
        name=name,
        source=str(path),
        setup=setup,
        inputs=tuple(inputs),
        not_judged=_not_judged(setup, answered is not None, timed),
        notes=tuple(notes),
        answered_ms=answered,
        hangs_up=hangs_up,
    )


# -- an engine's recorded output ---------------------------------------------------------------


def _call_json(path: Path, options: Options) -> tuple[CallSetup, int | None, CallEvent | None]:
    """The call's ``call.json``: its setup, when it was answered, how it ended."""
    meta_path = path / "call.json"
    if not meta_path.is_file():
        return CallSetup(path.name, options.script, timezone=options.timezone), None, None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        fields = CallFields.model_validate(meta)
    except (json.JSONDecodeError, ValidationError) as exc:
        raise Unreadable(f"{meta_path}: {exc}") from None
    setup = fields.setup(path.name, fields.timezone or options.timezone)
    answered = _instant(meta, "answered_at", meta_path)
    hangup = None
    if isinstance(meta.get("hangup"), dict):
        at = _instant(meta["hangup"], "at", meta_path)
        by = meta["hangup"].get("by")
        hangup = CallEvent("hangup", at, by if by in ("agent", "customer") else None)
    return setup, answered, hangup


def _instant(data: dict[str, Any], key: str, path: Path) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        raise Unreadable(f"{path}: {key}: not an ISO-8601 time") from None
    if instant.tzinfo is None:
        raise Unreadable(f"{path}: {key}: give its offset (+08:00)")
    return int(instant.timestamp() * 1000)


def read_engine(path: Path, options: Options) -> RecordedCall:
    fmt = options.format
    if fmt not in DECODERS or fmt == DEFAULT_FORMAT:
        raise Unreadable(f"{path}: --format names an ASR engine: {', '.join(sorted(DECODERS))}")
    setup, answered, hangup = _call_json(path, options)
    settings = Settings(max_text_chars=options.max_text_chars)
    notes: list[str] = []
    timed = False
    # (ms after the answer, leg number, line number, input): sorted, the legs' order.
    merged: list[tuple[int, int, int, Input]] = []
    for leg_number, (file_name, speaker) in enumerate(LEG_FILES.items()):
        leg_path = path / file_name
        if not leg_path.is_file():
            continue
        try:
            decoder = decoder_for(fmt, settings, Leg(speaker, 0, ""))
        except Refused as refused:
            raise Unreadable(f"{leg_path}: {refused.detail}") from None
        last = 0
        lines = leg_path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                decoded = decoder.decode({"type": "websocket.receive", "text": line})
            except Refused as refused:
                notes.append(f"{file_name}:{number}: {refused.detail}")
                continue
            items = [decoded.item, *decoded.more] if decoded.item is not None else []
            for item in items:
                if isinstance(item, Fragment):
                    offset = item.end_ms if item.end_ms is not None else item.start_ms
                    if offset is not None:
                        timed = True
                        last = max(last, offset)
                merged.append((last, leg_number, number, item))
    if not merged:
        raise Unreadable(f"{path}: no {fmt} messages in {', '.join(LEG_FILES)}")
    merged.sort(key=lambda entry: entry[:3])
    answered_ms = answered if answered is not None else setup.ring_at_ms
    start = answered_ms if answered_ms is not None else DEFAULT_AT_MS
    if answered_ms is None:
        notes.append("no answered_at or ring_at in call.json: the time of day is not known")
    inputs: list[tuple[int | None, Input]] = [(start, CallEvent("answered", start))]
    inputs += [(None, item) for _, _, _, item in merged]
    if hangup is not None:
        inputs.append((hangup.at_ms, hangup))
    return RecordedCall(
        name=path.name,
        source=str(path),
        setup=setup,
        inputs=tuple(inputs),
        not_judged=_not_judged(setup, answered_ms is not None, timed),
        notes=tuple(notes),
        answered_ms=start,
        hangs_up=hangup is not None,
    )


# -- SereTOD / MobileCS --------------------------------------------------------------------------


def read_mobilecs(path: Path, options: Options) -> list[RecordedCall]:
    try:
        dialogs = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise Unreadable(f"{path}: not JSON: {exc}") from None
    if not isinstance(dialogs, list):
        raise Unreadable(f"{path}: a list of dialogues is expected")
    calls: list[RecordedCall] = []
    for n, dialog in enumerate(dialogs):
        name = f"{path.stem}-{n}"
        turns = dialog
        if isinstance(dialog, dict):
            name = str(dialog.get("id") or name)
            turns = dialog.get("content")
        if not isinstance(turns, list):
            raise Unreadable(f"{path}: dialogue {n}: a list of turns is expected")
        calls.append(_dialogue(name, f"{path}#{n}", turns, options))
    return calls


def _dialogue(name: str, source: str, turns: list[Any], options: Options) -> RecordedCall:
    setup = CallSetup(name, options.script, timezone=options.timezone)
    start = DEFAULT_AT_MS
    inputs: list[tuple[int | None, Input]] = [(start, CallEvent("answered", start))]
    cursor = 300
    said = {"agent": 0, "customer": 0}
    for turn in turns:
        if not isinstance(turn, dict):
            continue
        for speaker, keys in (("agent", AGENT_KEYS), ("customer", CUSTOMER_KEYS)):
            text = next((turn[k] for k in keys if isinstance(turn.get(k), str)), "").strip()
            if not text:
                continue
            took = max(MIN_TURN_MS, MS_PER_CHAR * len(text))
            leg: Speaker = "agent" if speaker == "agent" else "customer"
            segment = f"{speaker}-{said[speaker]}"
            said[speaker] += 1
            inputs.append((None, Fragment(leg, segment, text, True, cursor, cursor + took)))
            cursor += took + PAUSE_MS
    notes = ["turns without times: made up at 5 characters a second"]
    return RecordedCall(
        name=name,
        source=source,
        setup=setup,
        inputs=tuple(inputs),
        not_judged=_not_judged(setup, False, False),
        notes=tuple(notes),
        answered_ms=start,
        unjudged=None if said["agent"] else "no agent turns: nothing the agent said to judge",
    )
