"""CallService: where scripts, records, live runners and the bus meet."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from app.bus.memory import MemoryBus
from app.calls.repository import CallKey, CallQuery, MemoryCallRepository
from app.calls.schemas import CallFields
from app.calls.service import CallService
from app.calls.subscriber import Subscriber
from app.engine.messages import CallEvent, Fragment
from app.errors import CallStateError, Conflict, NotFound
from app.ops.metrics import Metrics
from app.scripts.service import ScriptLibrary
from tests.library import shared_library

T = TypeVar("T")
FIELDS = CallFields.model_validate({"script": "cmcc-10086", "agent": {"id": "A1"}})


@pytest.fixture(scope="module")
def scripts() -> ScriptLibrary:
    return shared_library()


def service_of(scripts: ScriptLibrary) -> CallService:
    return CallService(scripts, MemoryCallRepository(), MemoryBus(), Metrics(), "Asia/Shanghai")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_create_records_the_call_and_makes_it_live(scripts: ScriptLibrary) -> None:
    async def main() -> dict[str, Any]:
        service = service_of(scripts)
        record = await service.create(FIELDS, None, "tenant-a")
        assert service.live.get(record.key) is service.runner(record)
        assert await service.find(CallKey("tenant-a", record.call_id)) is record
        assert await service.find(CallKey("tenant-b", record.call_id)) is None
        summary = (await service.summaries(CallQuery(tenant="tenant-a")))[0][0]
        await service.close()
        return summary

    summary = run(main())
    assert summary["call_id"].startswith("c-") and summary["agent_id"] == "A1"
    assert (summary["phase"], summary["ended"], summary["script"]["id"]) == (
        "ringing",
        False,
        "cmcc-10086",
    )


def test_an_unknown_script_or_a_known_id_changes_nothing(
    scripts: ScriptLibrary,
) -> None:
    async def main() -> int:
        service = service_of(scripts)
        await service.create(FIELDS, "c-1", None)
        with pytest.raises(NotFound) as unknown:
            await service.create(CallFields(script="nope"), "c-2", None)
        assert unknown.value.code == "unknown_script" and "cmcc-10086" in unknown.value.detail
        with pytest.raises(Conflict) as again:
            await service.create(FIELDS, "c-1", None)
        assert again.value.code == "call_exists"
        live = len(service.live)
        await service.close()
        return live

    assert run(main()) == 1


def test_the_listing_follows_the_live_call(scripts: ScriptLibrary) -> None:
    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        service = service_of(scripts)
        record = await service.create(FIELDS, "c-1", None)
        await service.submit(record, CallEvent("answered"))
        await service.submit(record, Fragment("agent", "a-1", "这个不关我的事", True))
        live = record.summary()
        report = await service.snapshot(record)
        await service.close()
        return live, report

    live, snapshot = run(main())
    assert live["phase"] == "greeting" and live["alerts"] == 1
    assert snapshot["phase"] == "greeting" and len(snapshot["alerts"]) == 1


def test_a_report_only_once_ended_and_a_call_live_elsewhere_says_so(
    scripts: ScriptLibrary,
) -> None:
    async def main() -> None:
        service = service_of(scripts)
        record = await service.create(FIELDS, "c-1", None)
        with pytest.raises(CallStateError) as in_progress:
            service.report(record)
        assert in_progress.value.code == "call_in_progress"
        service.live.remove(record.key)  # as if its runner were on another instance
        with pytest.raises(CallStateError) as elsewhere:
            await service.submit(record, CallEvent("hold"))
        assert elsewhere.value.code == "call_elsewhere"
        await service.close()

    run(main())


def test_follow_replays_and_unfollow_stops(scripts: ScriptLibrary) -> None:
    async def main() -> tuple[list[str], list[str]]:
        service = service_of(scripts)
        record = await service.create(FIELDS, "c-1", None)
        await service.submit(record, CallEvent("answered"))  # phase and prompt events
        late, gone = Subscriber(), Subscriber()
        await service.follow(record.key, late, 0)
        await service.follow(record.key, gone)
        service.unfollow(record.key, gone)
        await service.submit(record, CallEvent("hangup", by="customer"))
        await service.close()
        return late.take(), gone.take()

    late, gone = run(main())
    assert '"seq":1' in late[0] and '"type":"report"' in late[-1] and gone == []


def test_sweep_cuts_off_the_calls_whose_client_is_gone(scripts: ScriptLibrary) -> None:
    async def main() -> tuple[list[int], dict[str, Any], bool]:
        service = service_of(scripts)
        busy = await service.create(FIELDS, "busy", None)
        idle = await service.create(FIELDS, "idle", None)
        back = await service.create(FIELDS, "back", None)
        now = service.runner(busy).last_input_ms
        service.runner(idle).last_input_ms = now - 61_000
        rebuilt = service.runner(back)
        rebuilt.rebuilt, rebuilt.last_input_ms = True, now - 11_000
        counts = [
            service.sweep(now, idle_s=0, reconnect_s=0),  # 0: never
            service.sweep(now, idle_s=60, reconnect_s=10),
            service.sweep(now, idle_s=60, reconnect_s=10),  # already ended: nothing more
        ]
        report = service.report(await service.find(idle.key))  # type: ignore[arg-type]
        still = service.live.get(busy.key) is not None
        await service.close()
        return counts, report, still

    counts, report, busy_live = run(main())
    assert counts == [0, 2, 0] and report["cut_off"] is True and busy_live
