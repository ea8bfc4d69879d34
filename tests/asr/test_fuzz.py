"""Property-based fuzzing of what a client sends: PROTOCOL's decoder answers any frame with a
message or a Refused naming what is wrong, never anything else; and whatever it accepts, the
engine takes or refuses with a CallStateError — never another exception."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.asr import Refused
from app.asr.protocol import ProtocolDecoder
from app.config import Settings
from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, CallSetup
from app.engine.session import CallSession
from app.errors import CallStateError
from tests.library import shared_library

DECODER = ProtocolDecoder(Settings())


@cache
def _compiled() -> CompiledScript:
    """The script, compiled at the first test that needs it (not as the module is collected)."""
    compiled, _ = asyncio.run(shared_library().compiled(None, "cmcc-10086"))
    return compiled


#: A fixed answer time (2026-11-22 10:00:03 in Shanghai): fuzzed offsets count from it.
ANSWER_MS = 1_795_312_803_000

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "agent",
            "customer",
            "fragment",
            "event",
            "start",
            "ping",
            "resume",
            "hangup",
            "answered",
            "2026-11-22T10:00:00+08:00",
            "9999-12-31T00:00:00Z",
            "不关我的事",
            "上午好，中国移动，很高兴为您服务",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "type",
    "speaker",
    "segment",
    "text",
    "final",
    "start_ms",
    "end_ms",
    "seq",
    "volume",
    "name",
    "at",
    "by",
    "last_event_seq",
    "script",
    "call_type",
    "ring_at",
]
messages = st.dictionaries(st.sampled_from(FIELDS), values, max_size=9)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(messages, values, st.binary(max_size=64), st.text(max_size=200)))
def test_the_decoder_answers_anything_with_a_message_or_a_refusal(sent: Any) -> None:
    if isinstance(sent, bytes):
        frame = {"type": "websocket.receive", "bytes": sent}
    elif isinstance(sent, str):
        frame = {"type": "websocket.receive", "text": sent}
    else:
        try:
            text = orjson.dumps(sent).decode()
        except TypeError:  # an integer past 64 bits: not JSON orjson writes
            text = str(sent)
        frame = {"type": "websocket.receive", "text": text}
    try:
        decoded = DECODER.decode(frame)
    except Refused as refused:
        assert refused.code and refused.detail
        return
    assert decoded.kind in ("start", "event", "fragment", "ping", "resume")


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(messages, min_size=1, max_size=25))
def test_whatever_the_decoder_accepts_the_engine_takes_or_refuses(
    sent: list[dict[str, Any]],
) -> None:
    session = CallSession(_compiled(), CallSetup("fuzz", "cmcc-10086"), ANSWER_MS)
    session.handle(CallEvent("answered", ANSWER_MS), ANSWER_MS)
    wall = ANSWER_MS
    for message in sent:
        try:
            decoded = DECODER.decode(
                {"type": "websocket.receive", "text": orjson.dumps(message).decode()}
            )
        except (Refused, TypeError):
            continue
        wall += 250
        if decoded.item is None:
            session.on_timer(wall)
            continue
        try:
            session.handle(decoded.item, wall)
        except CallStateError:
            pass
