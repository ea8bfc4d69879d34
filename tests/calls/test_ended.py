"""An ended call leaves the live calls: its record keeps a compact copy that still answers
everything the API asks of it, and the bus keeps its events for ``resume``."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import orjson
import pytest

from app.bus import make_bus
from app.bus.memory import MemoryBus
from app.calls.repository import CallKey, CallQuery, MemoryCallRepository, make_repository
from app.calls.schemas import CallFields
from app.calls.service import CallService
from app.calls.subscriber import Subscriber
from app.config import Settings
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
        assert await service.snapshot(record) == live["snapshot"]
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


def _call_to_its_end(service: CallService, call_id: str) -> Any:
    async def main() -> Any:
        fields = CallFields.model_validate({"script": "cmcc-10086", "call_type": "consult"})
        record = await service.create(fields, call_id, None)
        runner = service.runner(record)
        runner.process(CallEvent("answered"))
        runner.process(Fragment("agent", "a-0", "您好，中国移动，很高兴为您服务", True))
        runner.process(Fragment("agent", "a-1", "这个真不关我的事" * 50, True))
        runner.process(CallEvent("hangup", by="customer"))
        return record

    return main()


def test_the_memory_store_keeps_ended_calls_within_its_byte_bound(
    scripts: ScriptLibrary,
) -> None:
    """HUASHU_STORE=memory as the service builds it (``make_bus``, ``make_repository``): the
    calls that ended first leave once the ended ones take more than HUASHU_KEEP_ENDED_BYTES,
    their records and their events for ``resume`` alike; the others answer as ever."""

    def service_of(settings: Settings) -> tuple[CallService, MemoryCallRepository, MemoryBus]:
        bus = make_bus(settings)
        assert isinstance(bus, MemoryBus)
        repository = make_repository(settings, bus)
        assert isinstance(repository, MemoryCallRepository)
        service = CallService(scripts, repository, bus, Metrics(), "Asia/Shanghai")
        return service, repository, bus

    async def one_call_takes() -> int:
        service, repository, _ = service_of(Settings(store="memory"))
        await _call_to_its_end(service, "c-0")
        return repository.ended_bytes

    size = asyncio.run(one_call_takes())  # each call below says the same: about as much
    assert size > 5_000

    async def main() -> dict[str, Any]:
        settings = Settings(store="memory", keep_ended_bytes=int(size * 2.5))
        service, repository, bus = service_of(settings)
        for n in range(4):
            await _call_to_its_end(service, f"c-{n}")
        kept = {}
        for n in range(4):
            key = CallKey(None, f"c-{n}")
            record = await service.find(key)
            kept[key.call_id] = (record is not None, len(await bus.replay(key.channel)) > 0)
        last = await service.find(CallKey(None, "c-3"))
        assert last is not None
        return {
            "kept": kept,
            "bytes": repository.ended_bytes,
            "report": service.report(last)["score"],
        }

    got = asyncio.run(main())
    assert got["kept"] == {
        "c-0": (False, False),
        "c-1": (False, False),
        "c-2": (True, True),
        "c-3": (True, True),
    }
    assert got["bytes"] <= size * 2.5 and isinstance(got["report"], int)
