"""An ended call keeps a compact record that still answers everything the API asks of it."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from app.calls.registry import CallRecord, CallService, MemoryCallStore
from app.calls.runner import Subscriber
from app.calls.schemas import CallFields
from app.config import Settings
from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent, Fragment
from app.engine.session import CallSession, EndedSession
from app.errors import CallStateError
from app.ops.metrics import Metrics
from app.scripts.loader import load_library


@pytest.fixture(scope="module")
def scripts() -> dict[str, CompiledScript]:
    library = load_library(Settings().scripts_dir)
    return {
        sid: CompiledScript(script, library.lexicon_for(script))
        for sid, script in library.scripts.items()
    }


def tracked_reachable(root: object, stop: set[int]) -> list[object]:
    """Every object the collector tracks reachable from ``root``, not through ``stop`` or a
    class (what a class leads to is shared by every call)."""
    seen: dict[int, object] = {}
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or id(obj) in stop or isinstance(obj, type) or not gc.is_tracked(obj):
            continue
        seen[id(obj)] = obj
        todo.extend(gc.get_referents(obj))
    return list(seen.values())


def test_an_ended_call_keeps_a_compact_record_that_answers_everything(
    scripts: dict[str, CompiledScript],
) -> None:
    async def main() -> dict[str, Any]:
        metrics = Metrics()
        service = CallService(MemoryCallStore(), scripts, "Asia/Shanghai", metrics)
        fields = CallFields.model_validate(
            {"script": "cmcc-10086", "call_type": "consult", "agent": {"id": "A1"}}
        )
        record: CallRecord = await service.create(fields, "c-1", None)
        runner = record.runner
        runner.process(CallEvent("answered"))
        runner.process(Fragment("agent", "a-0", "您好，中国移动，很高兴为您服务", True))
        runner.process(Fragment("customer", "c-0", "你好", True))
        for k in range(1, 9):
            runner.process(Fragment("agent", f"a-{k}", "这个真不关我的事", True))
        session = runner.session
        assert isinstance(session, CallSession)
        runner.process(CallEvent("hangup", by="customer"))
        # What the live session said at the end, before it was let go.
        live = {
            "snapshot": session.snapshot(),
            "report": session.report(),
            "listing": session.listing(),
        }
        ended = runner.session
        assert isinstance(ended, EndedSession) and runner.ended
        assert ended.snapshot() == live["snapshot"]
        assert ended.report() == live["report"]
        assert ended.listing() == live["listing"]
        summary = record.summary()
        assert summary["alerts"] == len(live["report"]["alerts"]) == 10  # 8 said, 2 missed
        assert summary["ended"] is True and summary["phase"] == "ended"
        store = service.store
        assert [r.call_id for r in await store.list(None, has_alerts=True)] == ["c-1"]
        assert await store.list(None, has_alerts=False) == []
        with pytest.raises(CallStateError) as refused:
            runner.process(Fragment("agent", "a-9", "喂", True))
        assert refused.value.code == "call_ended"
        assert runner.session.next_deadline() is None
        # Resume after the end: every event after seq 3, the report last.
        subscriber = Subscriber()
        runner.attach(subscriber, 3)
        replayed = subscriber.take()
        assert replayed == runner.logged()[3:] and '"type":"report"' in replayed[-1]
        runner.detach(subscriber)
        del session
        gc.collect()
        # The script library and metrics are shared by every call: not the call's own.
        shared = {id(scripts), id(metrics), id(runner._on_event)}
        mine = tracked_reachable(record, shared)
        return {"objects": sorted(type(o).__name__ for o in mine)}

    objects = asyncio.run(main())["objects"]
    # The record, its runner, the event log's ends and seqs (the log itself, a bytearray, is not
    # tracked), subscriber set and the ended session (an array is tracked but visits nothing
    # but its type). Before: ~90 at 40 fragments.
    assert objects == ["CallRecord", "CallRunner", "EndedSession", "array", "array", "set"]
