"""MemoryCallRepository's own: plain records, the listing a live call keeps up to date, and at
most ``keep_ended`` ended calls, those that ended first dropped first. Its filters and pages are
held to the contract every backend keeps (tests/store/test_repository.py)."""

from __future__ import annotations

import asyncio

import pytest

from app.calls.repository import CallKey, CallQuery, CallRecord, MemoryCallRepository
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
