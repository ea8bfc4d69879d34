"""A call's inputs leave no cyclic garbage: everything the engine makes for a fragment is freed
by reference counts alone, or kept by the call. Garbage in cycles waits for a collection, which
walks every live call's young objects: with thousands of calls each cycle made per fragment
lengthens the pauses that make the alert's p99 (BENCHMARKS.md, *Load*). Compiled by mypyc, a
nested function and the environment it captures refer to each other: one per fragment was such
a cycle (``matcher.SpeakerStream._locate``'s ``broken``)."""

from __future__ import annotations

import gc

import pytest

from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, CallSetup, Fragment
from app.engine.phases import CallType
from app.engine.session import CallSession
from app.scripts.loader import load_library
from tests.corpus.build import ROOT

START = 1_795_312_980_000

#: (speaker, text, final): agent and customer, partials and finals, forbidden phrases, an allow
#: phrase around one, sound-alikes and words slipped in, a complaint, a hold, the bare 什么.
TURNS = [
    ("agent", "上午好,中国移动,很高兴为", False),
    ("agent", "上午好,中国移动,很高兴为您服务", True),
    ("customer", "你们这个话费怎么又扣了 我要投诉", True),
    ("agent", "这个不关我", False),
    ("agent", "这个不关我的事,您自己去营业厅", True),
    ("customer", "什么意思啊 你们必须给我解释清楚", True),
    ("agent", "我不知道您是否方便,我帮您查一下", True),
    ("agent", "什么", True),
    ("agent", "请您稍等", True),
    ("agent", "这个不管我的是", True),
    ("customer", "好吧那你快点", True),
    ("agent", "请问还有其他可以帮您吗", True),
]


@pytest.fixture(scope="module")
def compiled() -> CompiledScript:
    library = load_library(ROOT / "scripts_data")
    script = library.scripts["cmcc-10086"]
    return CompiledScript(script, library.lexicon_for(script))


def test_a_calls_inputs_leave_no_cyclic_garbage(compiled: CompiledScript) -> None:
    setup = CallSetup(call_id="g", script_id=compiled.script.id, call_type=CallType.CONSULT)
    session = CallSession(compiled, setup)
    session.handle(CallEvent("answered", START), START)
    for n, (speaker, text, final) in enumerate(TURNS[:3]):  # warm: first-use caches filled
        session.handle(Fragment(speaker, f"w{n}", text, final), START + n * 1000)
    gc.collect()
    gc.disable()
    try:
        now = START + 10_000
        for round_ in range(5):
            for n, (speaker, text, final) in enumerate(TURNS):
                segment = f"{speaker[0]}{round_}-{n}"
                session.handle(Fragment(speaker, segment, text, False), now)
                if final:
                    session.handle(Fragment(speaker, segment, text, True), now + 300)
                now += 2_000
        session.handle(CallEvent("hold", None), now)
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0, f"{found} objects in cycles"
