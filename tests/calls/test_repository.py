"""MemoryCallRepository's own: plain records, the listing a live call keeps up to date, and at
most ``keep_ended`` ended calls, those that ended first dropped first. Its filters and pages are
held to the contract every backend keeps (tests/store/test_repository.py)."""

from __future__ import annotations

import asyncio

import pytest

from app.bus.memory import MemoryBus
from app.calls.repository import (
    RECORD_BYTES,
    CallKey,
    CallQuery,
    CallRecord,
    MemoryCallRepository,
)
from app.engine.messages import Listing
from app.errors import Conflict


def record(call_id: str, tenant: str | None = None, agent: str | None = None) -> CallRecord:
    return CallRecord(
        call_id,
        tenant,
        f"t-{call_id}",
        "s",
        1,
        agent,
        1_000,
        "consult",
        "ringing",
        started_ms=1_000,
    )


LISTING = Listing("s", 1, "complaint", "answering", 2)


def key(call_id: str, tenant: str | None = None) -> CallKey:
    return CallKey(tenant, call_id)


def finish(store: MemoryCallRepository, call_id: str) -> None:
    store.finish(key(call_id), LISTING._replace(phase="ended"), b"{}", b'{"score":90}')


def test_ended_calls_beyond_the_limit_are_dropped_oldest_first() -> None:
    async def main() -> list[str]:
        store = MemoryCallRepository(keep_ended=2)
        records = [record(f"c{n}") for n in range(4)]
        for r in records:
            await store.add(r)
        for r in records[:3]:
            finish(store, r.call_id)
        await store.add(record("c4"))
        return [r.call_id for r in await store.search(CallQuery())]

    assert asyncio.run(main()) == ["c1", "c2", "c3", "c4"]


def test_live_calls_are_never_dropped() -> None:
    async def main() -> int:
        store = MemoryCallRepository(keep_ended=1)
        for n in range(5):
            await store.add(record(f"c{n}"))
        return len(await store.search(CallQuery()))

    assert asyncio.run(main()) == 5


def test_a_dropped_call_takes_its_token_with_it() -> None:
    async def main() -> tuple[CallRecord | None, CallRecord | None]:
        store = MemoryCallRepository(keep_ended=0)
        await store.add(record("c0"))
        finish(store, "c0")
        return await store.get(key("c0")), await store.by_token("t-c0")

    assert asyncio.run(main()) == (None, None)


def test_a_call_id_is_its_tenants_own() -> None:
    """Two tenants may each have a call c0; a tenant's second c0 is a conflict and changes
    nothing; each finds and lists its own."""

    async def main() -> dict[str, object]:
        store = MemoryCallRepository()
        await store.add(record("c0", tenant="a", agent="A"))
        await store.add(record("c0", tenant="b", agent="B"))
        with pytest.raises(Conflict) as refused:
            await store.add(record("c0", tenant="a", agent="again"))
        store.progress(key("c0", "b"), LISTING)
        found = {t: await store.get(key("c0", t)) for t in ("a", "b", None)}
        return {
            "code": refused.value.code,
            "agents": {t: None if r is None else r.agent_id for t, r in found.items()},
            "alerts": {t: None if r is None else r.alerts for t, r in found.items()},
            "lists": {
                t: [(r.tenant, r.call_id) for r in await store.search(CallQuery(tenant=t))]
                for t in ("a", "b", None)
            },
        }

    assert asyncio.run(main()) == {
        "code": "call_exists",
        "agents": {"a": "A", "b": "B", None: None},
        "alerts": {"a": 0, "b": 2, None: None},
        "lists": {"a": [("a", "c0")], "b": [("b", "c0")], None: []},
    }


def test_progress_and_finish_update_what_the_listing_shows() -> None:
    async def main() -> list[dict[str, object]]:
        store = MemoryCallRepository()
        await store.add(record("c0"))
        await store.add(record("c1"))
        store.progress(key("c0"), LISTING)
        finish(store, "c1")
        store.progress(key("gone"), LISTING)  # a call the store no longer has: nothing happens
        return [r.summary() for r in await store.search(CallQuery())]

    live, ended = asyncio.run(main())
    assert (live["phase"], live["call_type"], live["alerts"], live["ended"]) == (
        "answering",
        "complaint",
        2,
        False,
    )
    assert (ended["phase"], ended["ended"]) == ("ended", True)


def test_purge_deletes_only_ended_calls_begun_before_the_limit() -> None:
    async def main() -> tuple[int, list[str], CallRecord | None]:
        store = MemoryCallRepository()
        for call_id, at in (("old-ended", 1_000), ("old-live", 1_000), ("new-ended", 9_000)):
            r = record(call_id)
            r.created_ms = r.started_ms = at
            await store.add(r)
        finish(store, "old-ended")
        finish(store, "new-ended")
        deleted = await store.purge(5_000)
        return (
            deleted,
            [r.call_id for r in await store.search(CallQuery())],
            await store.by_token("t-old-ended"),
        )

    assert asyncio.run(main()) == (1, ["old-live", "new-ended"], None)


def test_ended_calls_past_the_byte_bound_are_dropped_oldest_first_with_their_events() -> None:
    """Each ended call takes its snapshot, report and events (the bus's, their only copy) and
    a record's worth; past ``keep_ended_bytes`` those that ended first go, events and all.
    A live call is never dropped, however large."""
    event = "x" * 10_000  # one event of 10,000 bytes on each call's channel
    ended_size = 10_000 + 16 + 2 + 12 + RECORD_BYTES  # events, snapshot, report, record

    async def main() -> dict[str, object]:
        bus = MemoryBus(keep_ended=None)
        store = MemoryCallRepository(
            keep_ended=100, keep_ended_bytes=2 * ended_size + 100, events=bus
        )
        seen: dict[str, object] = {}
        for call_id in ("live", "c0", "c1", "c2"):
            await store.add(record(call_id))
            for seq in range(1, 11 if call_id == "live" else 2):  # the live call: 100 KB
                bus.publish(key(call_id).channel, seq, event)
        for call_id in ("c0", "c1"):
            bus.ended(key(call_id).channel)
            store.finish(key(call_id), LISTING, b"{}", b'{"score":90}')
        seen["two"] = store.ended_bytes
        bus.ended(key("c2").channel)
        store.finish(key("c2"), LISTING, b"{}", b'{"score":90}')
        seen["kept"] = [r.call_id for r in await store.search(CallQuery())]
        seen["events"] = {
            call_id: len(await bus.replay(key(call_id).channel))
            for call_id in ("live", "c0", "c1", "c2")
        }
        seen["dropped"] = (await store.get(key("c0")), await store.by_token("t-c0"))
        seen["bytes"] = store.ended_bytes
        seen["purged"] = await store.purge(2_000)  # the retention lets the rest go too
        seen["after"] = (store.ended_bytes, await bus.replay(key("c2").channel))
        return seen

    seen = asyncio.run(main())
    assert seen["two"] == 2 * ended_size
    assert seen["kept"] == ["c1", "c2", "live"]
    assert seen["events"] == {"live": 10, "c0": 0, "c1": 1, "c2": 1}
    assert seen["dropped"] == (None, None)
    assert seen["bytes"] == 2 * ended_size
    assert seen["purged"] == 2 and seen["after"] == (0, [])


def test_a_call_larger_than_the_byte_bound_is_not_kept_once_ended() -> None:
    async def main() -> tuple[list[str], int]:
        bus = MemoryBus(keep_ended=None)
        store = MemoryCallRepository(keep_ended_bytes=RECORD_BYTES, events=bus)
        await store.add(record("big"))
        bus.publish(key("big").channel, 1, "x" * 5_000)
        store.finish(key("big"), LISTING, b"{}", b"{}")
        return [r.call_id for r in await store.search(CallQuery())], bus.size(key("big").channel)

    assert asyncio.run(main()) == ([], 0)
