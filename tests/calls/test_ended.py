"""An ended call leaves the live calls: its record keeps a compact copy that still answers
everything the API asks of it, and the bus keeps its events for ``resume``."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import orjson
import pytest

from app.bus.memory import MemoryBus
from app.calls.repository import CallKey, CallQuery, MemoryCallRepository
from app.calls.schemas import CallFields
from app.calls.service import CallService
from app.calls.subscriber import Subscriber
from app.engine.messages import CallEvent, Fragment, Listing
from app.engine.session import CallSession
from app.errors import CallStateError
from app.ops.metrics import Metrics
from app.scripts.service import ScriptLibrary
from tests.library import shared_library


@pytest.fixture(scope="module")
def scripts() -> ScriptLibrary:
    return shared_library()


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
    scripts: ScriptLibrary,
) -> None:
    async def main() -> dict[str, Any]:
        metrics = Metrics()
        repository = MemoryCallRepository()
        bus = MemoryBus()
        service = CallService(scripts, repository, bus, metrics, "Asia/Shanghai")
        fields = CallFields.model_validate(
            {"script": "cmcc-10086", "call_type": "consult", "agent": {"id": "A1"}}
        )
        record = await service.create(fields, "c-1", None)
        key = CallKey(None, "c-1")
        runner = service.runner(record)
        runner.process(CallEvent("answered"))
        runner.process(Fragment("agent", "a-0", "您好，中国移动，很高兴为您服务", True))
        runner.process(Fragment("customer", "c-0", "你好", True))
        for k in range(1, 9):
            runner.process(Fragment("agent", f"a-{k}", "这个真不关我的事", True))
        session = runner._session
        assert isinstance(session, CallSession)
        runner.process(CallEvent("hangup", by="customer"))
        # What the live session said at the end, before it was let go.
        live = {
            "snapshot": session.snapshot(),
            "report": session.report(),
            "listing": Listing(*session.listing()),
        }
        assert runner.ended and service.live.get(key) is None
        assert service.snapshot(record) == live["snapshot"]
        assert service.report(record) == live["report"]
        summary = record.summary()
        assert (summary["call_type"], summary["phase"], summary["alerts"]) == (
            live["listing"].call_type,
            live["listing"].phase,
            live["listing"].alerts,
        )
        assert summary["alerts"] == len(live["report"]["alerts"]) == 10  # 8 said, 2 missed
        assert summary["ended"] is True and summary["phase"] == "ended"
        assert [r.call_id for r in await repository.search(CallQuery(has_alerts=True))] == ["c-1"]
        assert await repository.search(CallQuery(has_alerts=False)) == []
        # Inputs after the end are refused: by the runner it ended on, and by the one the
        # service gives a newcomer.
        for ended_runner in (runner, service.runner(record)):
            with pytest.raises(CallStateError) as refused:
                ended_runner.process(Fragment("agent", "a-9", "喂", True))
            assert refused.value.code == "call_ended"
        assert runner._timer is None
        # Resume after the end: every event after seq 3, the report last.
        subscriber = Subscriber()
        await service.follow(key, subscriber, 3)
        replayed = subscriber.take()
        everything = await bus.replay(key.channel)
        assert replayed == everything[3:] and '"type":"report"' in replayed[-1]
        report_event = orjson.loads(replayed[-1])
        assert {k: v for k, v in report_event.items() if k not in ("type", "seq", "at_ms")} == (
            live["report"]
        )
        service.unfollow(key, subscriber)
        del session, runner
        gc.collect()
        return {
            "record": sorted(type(o).__name__ for o in tracked_reachable(record, set())),
            "events": sorted(
                type(o).__name__ for o in tracked_reachable(bus._channels[key.channel], set())
            ),
        }

    kept = asyncio.run(main())
    # The record is plain values (its encoded snapshot and report are bytes: not tracked).
    assert kept["record"] == ["CallRecord"]
    # The events: one buffer (not tracked), where each ends and its seq (arrays); the map of
    # subscribers is empty (untracked). Before the event log moved to one buffer: ~90 objects
    # at 40 fragments.
    assert kept["events"] == ["_Channel", "array", "array"]
