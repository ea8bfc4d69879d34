"""What the service stores of a call on a real database: its inputs in order (timer ticks too),
its events as sent, masked where they hold long digit runs; and a call rebuilt from them makes
the same events."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from app.bus.memory import MemoryBus
from app.calls.schemas import CallFields
from app.calls.service import CallService
from app.calls.subscriber import Subscriber
from app.engine.messages import CallEvent, Fragment
from app.ops.metrics import Metrics
from app.scripts.service import ScriptLibrary
from app.store.database import make_engine
from app.store.repository import SqlCallRepository
from tests.databases import database_url
from tests.library import shared_library

__all__ = ["database_url"]

FIELDS = CallFields.model_validate(
    {"script": "cmcc-10086", "call_type": "consult", "ring_at": "2026-11-22T10:00:00+08:00"}
)


@pytest.fixture(scope="module")
def scripts() -> ScriptLibrary:
    return shared_library()


def test_stored_masked_and_rebuilt_alike(scripts: ScriptLibrary, database_url: str) -> None:
    async def main() -> dict[str, Any]:
        repository = SqlCallRepository(make_engine(database_url))
        await repository.start()
        service = CallService(scripts, repository, MemoryBus(), Metrics(), "Asia/Shanghai")
        record = await service.create(FIELDS, "c-1", None)
        runner = service.runner(record)
        live = []
        for item in (
            CallEvent("answered", 1_795_312_804_000),
            Fragment("agent", "a-1", "上午好，中国移动，很高兴为您服务", True, 0, 2000),
            Fragment("customer", "c-1", "我的号码是13812345678", True, 3000, 5000),
            Fragment("agent", "a-2", "您的号码13812345678，这个不关我的事", True, 6000, 8000),
        ):
            live += await service.submit(record, item)
        inputs = await repository.inputs(record.key)
        events = await repository.events(record.key)
        # A second service on the same database, as after a restart, rebuilds the call.
        again = CallService(scripts, repository, MemoryBus(), Metrics(), "Asia/Shanghai")
        recovered = await again.recover()
        rebuilt = await again.bus.replay(record.key.channel)
        await runner.close()
        await again.close()
        await repository.close()
        return {
            "live": [orjson.loads(orjson.dumps(e.to_wire())) for e in live],
            "inputs": inputs,
            "events": events,
            "recovered": recovered,
            "rebuilt": rebuilt,
        }

    got = asyncio.run(main())
    assert [i.kind for i in got["inputs"]] == ["event", "fragment", "fragment", "fragment"]
    assert got["inputs"][2].body["text"] == "我的号码是***********"
    assert got["inputs"][3].body["text"] == "您的号码***********，这个不关我的事"
    assert len(got["events"]) == len(got["live"])
    stored_alert = next(orjson.loads(e) for e in got["events"] if '"type":"alert"' in e)
    live_alert = next(e for e in got["live"] if e["type"] == "alert")
    assert live_alert["text"] == "您的号码13812345678，这个不关我的事"  # the agent sees it all
    assert stored_alert == {**live_alert, "text": "您的号码***********，这个不关我的事"}
    assert got["recovered"] == 1 and got["rebuilt"] == got["events"]


def test_resume_before_the_buses_window_reads_the_store_first(
    scripts: ScriptLibrary, database_url: str
) -> None:
    async def main() -> tuple[list[int], int | None, list[int]]:
        repository = SqlCallRepository(make_engine(database_url))
        await repository.start()
        bus = MemoryBus(keep_ended=0, window=2)
        service = CallService(scripts, repository, bus, Metrics(), "Asia/Shanghai")
        record = await service.create(FIELDS, "c-1", None)
        published = []
        for item in (
            CallEvent("answered", 1_795_312_804_000),
            Fragment("agent", "a-1", "上午好，中国移动，很高兴为您服务", True, 0, 2000),
            Fragment("agent", "a-2", "这个不关我的事", True, 3000, 4000),
            Fragment("agent", "a-3", "真的不关我的事", True, 5000, 6000),
            Fragment("agent", "a-4", "我也没办法", True, 7000, 8000),
        ):
            published += [e.seq for e in await service.submit(record, item)]
        late = Subscriber()
        await service.follow(record.key, late, 0)
        oldest = await bus.oldest(record.key.channel)
        await service.submit(record, Fragment("agent", "a-5", "不关我的事", True, 9000, 9500))
        await service.close()
        await repository.close()
        return published, oldest, [orjson.loads(m)["seq"] for m in late.take()]

    published, oldest, received = asyncio.run(main())
    assert oldest is not None and oldest > 1  # the bus no longer holds the first events
    assert received[: len(published)] == published == list(range(1, len(published) + 1))
    assert received == list(range(1, received[-1] + 1)) and received[-1] > published[-1]
