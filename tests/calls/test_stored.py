"""What the service stores of a call on a real database: its inputs in order (timer ticks too),
its events as sent, masked where they hold long digit runs; and a call rebuilt from them makes
the same events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from app.bus.memory import MemoryBus
from app.calls.repository import CallKey, MemoryCallRepository, StoreUnavailable
from app.calls.schemas import CallFields
from app.calls.service import CallService
from app.calls.subscriber import Subscriber
from app.engine.messages import CallEvent, Event, Fragment, Input
from app.engine.outbox import Earlier, Windows
from app.engine.session import CallSession
from app.errors import CallStateError
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


#: The answer of the long calls below (epoch ms): every input carries its own time.
ANSWER = 1_795_312_804_000
#: What a long call keeps in memory below: small, so that most of it leaves.
WINDOWS = Windows(transcript=8, alerts=3)


def long_call(turns: int) -> list[Input]:
    """Each turn the customer asks, the agent says a forbidden phrase on a partial and takes
    it back, then says one it keeps; then the customer hangs up."""
    items: list[Input] = [CallEvent("answered", ANSWER)]
    ms = 0

    def said(speaker: str, segment: str, text: str, final: bool = True) -> Fragment:
        nonlocal ms
        ms += 700
        return Fragment(speaker, segment, text, final, ms - 600, ms)  # type: ignore[arg-type]

    items.append(said("agent", "a", "上午好，中国移动，很高兴为您服务"))
    for k in range(turns):
        items.append(said("customer", f"c{k}", "我想问一下我的套餐"))
        items.append(said("agent", f"p{k}", "这个不关我的事", final=False))
        items.append(said("agent", f"p{k}", "这个我来帮您查"))
        items.append(said("agent", f"f{k}", "这个不关我的事"))
    items.append(CallEvent("hangup", ANSWER + ms + 500, "customer"))
    return items


def wire(events: list[Event]) -> list[dict[str, Any]]:
    return [e.to_wire() for e in events]


async def in_memory(scripts: ScriptLibrary, items: list[Input]) -> dict[str, Any]:
    """The call on the in-memory store, which keeps everything in the engine."""
    service = CallService(
        scripts, MemoryCallRepository(), MemoryBus(keep_ended=None), Metrics(), "Asia/Shanghai"
    )
    record = await service.create(FIELDS, "c-1", None)
    events = []
    for item in items[:-1]:
        events += await service.submit(record, item)
    snapshot = await service.snapshot(record)
    events += await service.submit(record, items[-1])
    ended = await service.find(record.key)
    assert ended is not None
    await service.close()
    return {
        "events": wire(events),
        "snapshot": snapshot,
        "report": service.report(ended),
        "ended_snapshot": await service.snapshot(ended),
    }


def on_database(url: str) -> tuple[SqlCallRepository, Callable[[ScriptLibrary], CallService]]:
    repository = SqlCallRepository(make_engine(url))

    def service(scripts: ScriptLibrary) -> CallService:
        bus = MemoryBus(keep_ended=0, window=16)
        return CallService(
            scripts,
            repository,
            bus,
            Metrics(),
            "Asia/Shanghai",
            windows=WINDOWS,
            replay_page=7,  # a rebuilt call is replayed a few inputs at a time
        )

    return repository, service


def test_a_long_call_keeps_its_memory_bounded_and_reports_from_the_store_as_from_memory(
    scripts: ScriptLibrary, database_url: str
) -> None:
    items = long_call(60)

    async def main() -> dict[str, Any]:
        repository, make = on_database(database_url)
        await repository.start()
        service = make(scripts)
        record = await service.create(FIELDS, "c-1", None)
        runner = service.runner(record)
        events = []
        for item in items[:-1]:
            events += await service.submit(record, item)
        session = runner._session
        assert isinstance(session, CallSession)
        held = {
            "lines": len(session.transcript.segments),
            "alerts": len(session.outbox.alerts),
            "left": session.left_memory,
            "bus": len(service.bus.channel(record.key.channel).seqs),  # type: ignore[attr-defined]
        }
        snapshot = await service.snapshot(record)
        events += await service.submit(record, items[-1])  # REST: its answer has the report
        ended = await service.find(record.key)
        assert ended is not None and runner.ended
        got = {
            "held": held,
            "events": wire(events),
            "snapshot": snapshot,
            "report": service.report(ended),
            "ended_snapshot": await service.snapshot(ended),
            "lines_left": (await repository.earlier(record.key, 1, 0)).lines,
        }
        await service.close()
        await repository.close()
        return got

    got = asyncio.run(main())
    expected = asyncio.run(in_memory(scripts, items))
    lines = 1 + 3 * 60
    assert got["held"]["lines"] == 8 and got["held"]["alerts"] == 3
    assert got["held"]["left"] == (lines - 8, 2 * 60 - 3) and got["held"]["bus"] <= 32
    assert len(expected["report"]["transcript"]) == lines
    assert got["events"] == expected["events"]  # the report event too, seq and all
    assert got["snapshot"] == expected["snapshot"]
    assert got["report"] == expected["report"]
    assert got["ended_snapshot"] == expected["ended_snapshot"]
    assert got["lines_left"] == []  # in the stored report now


class Arrivals:
    """A sink that notes each event's type where the test notes its replies."""

    def __init__(self, order: list[str]) -> None:
        self.order = order

    def put(self, message: str) -> None:
        self.order.append(orjson.loads(message)["type"])


def test_the_reply_to_the_input_that_ends_a_long_call_follows_its_report(
    scripts: ScriptLibrary, database_url: str
) -> None:
    """An ack is sent behind the events of its input: for the hangup of a call whose report
    is read back from the store, behind the report; a ping sent meanwhile and an input
    refused (the call has ended) too."""
    items = long_call(10)

    async def main() -> list[str]:
        repository, make = on_database(database_url)
        await repository.start()
        service = make(scripts)
        record = await service.create(FIELDS, "c-1", None)
        runner = service.runner(record)
        order: list[str] = []
        await service.follow(record.key, Arrivals(order))
        for n, item in enumerate(items, start=1):
            runner.process(item, seq=n, after=lambda _, n=n: order.append(f"ack {n}"))
        assert not runner.ended  # the report is being read back
        runner.cut_off()  # the idle sweep meanwhile: the call has ended, nothing to cut
        runner.process(None, after=lambda _: order.append("pong"))
        with pytest.raises(CallStateError):
            runner.process(CallEvent("hangup"), seq=99, after=lambda _: order.append("ack 99"))
        while not runner.ended:
            await asyncio.sleep(0.01)
        await repository.durable()
        await service.close()
        await repository.close()
        return order

    order = asyncio.run(main())
    assert order[-4:] == ["report", f"ack {len(items)}", "pong", "ack 99"]
    assert order.count("report") == 1


def test_a_long_call_rebuilt_after_a_restart_ends_with_the_same_seqs_and_report(
    scripts: ScriptLibrary, database_url: str
) -> None:
    items = long_call(40)

    async def main() -> dict[str, Any]:
        repository, make = on_database(database_url)
        await repository.start()
        first = make(scripts)
        record = await first.create(FIELDS, "c-1", None)
        events = []
        for item in items[:100]:
            events += await first.submit(record, item)
        last = events[-1].seq
        await first.runner(record).close()  # the process dies (what it wrote is durable)
        read = repository.inputs
        pages: list[int] = []

        async def paged(key: CallKey, after_n: int = 0, limit: int | None = None) -> Any:
            page = await read(key, after_n, limit)
            pages.append(len(page))
            return page

        repository.inputs = paged  # type: ignore[method-assign]
        again = make(scripts)
        recovered = await again.recover()
        rebuilt = [orjson.loads(m) for m in await again.bus.replay(record.key.channel)]
        session = again.runner(record)._session
        assert isinstance(session, CallSession)
        held = (len(session.transcript.segments), len(session.outbox.alerts))
        for item in items[100:]:
            events += await again.submit(record, item)
        ended = await again.find(record.key)
        assert ended is not None
        got = {
            "recovered": recovered,
            "rebuilt_last": (rebuilt[-1]["seq"], last),
            "pages": pages,
            "held": held,
            "events": wire(events),
            "report": again.report(ended),
        }
        await again.close()
        await repository.close()
        return got

    got = asyncio.run(main())
    expected = asyncio.run(in_memory(scripts, items))
    assert got["recovered"] == 1
    assert got["events"] == expected["events"]
    seq, last = got["rebuilt_last"]
    assert seq == last  # what the rebuilt call put back on the bus ends where the first left
    assert max(got["pages"]) == 7 and sum(got["pages"]) == 100  # read a page at a time
    assert got["held"] == (8, 3)
    assert got["report"] == expected["report"]


def test_a_report_waits_for_a_store_that_cannot_be_read_and_then_is_sent(
    scripts: ScriptLibrary, database_url: str
) -> None:
    """The store fails the first read of what left memory (a database restarting): the report
    is read again and sent, the same as ever."""
    items = long_call(12)

    async def main() -> tuple[list[dict[str, Any]], int]:
        repository, make = on_database(database_url)
        await repository.start()
        read = repository.earlier
        failures = [StoreUnavailable("the database is restarting")]

        async def flaky(key: CallKey, lines: int, alerts: int) -> Earlier:
            if failures:
                raise failures.pop()
            return await read(key, lines, alerts)

        repository.earlier = flaky  # type: ignore[method-assign]
        service = make(scripts)
        record = await service.create(FIELDS, "c-1", None)
        events = []
        for item in items:
            events += await service.submit(record, item)
        await service.close()
        await repository.close()
        return wire(events), len(failures)

    events, left = asyncio.run(main())
    assert left == 0
    assert events == asyncio.run(in_memory(scripts, items))["events"]
