"""Call leases on the machine's real Redis: one holder at a time, fencing tokens that go up,
renewal, hand-off requests and refusals, and a lease taken over once its holder is gone."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from app.calls.ownership import RedisOwnership, SoleOwnership
from tests.redis import REDIS, prefix


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_one_holder_at_a_time_and_each_new_holder_a_higher_fence() -> None:
    async def main() -> None:
        keys = prefix()
        a = RedisOwnership(REDIS, prefix=keys, ttl_s=0.5)
        b = RedisOwnership(REDIS, prefix=keys, ttl_s=0.5)
        first = await a.acquire("c")
        assert first is not None
        assert await a.acquire("c") == first  # held already: renewed, the same token
        assert await b.acquire("c") is None
        assert await b.free(["c", "other"]) == ["other"]
        await a.release("c")
        second = await b.acquire("c")
        assert second is not None and int(second) > int(first)
        await asyncio.sleep(0.7)  # b's heartbeat is never renewed (not started): b is gone
        assert await a.free(["c"]) == ["c"]  # held by an instance that is gone: free
        third = await a.acquire("c")
        assert third is not None and int(third) > int(second)
        await a.close()
        await b.close()

    run(main())


def test_a_holder_that_was_late_to_renew_keeps_the_call_if_nobody_took_it() -> None:
    """One heartbeat per instance holds all its leases; it ran out while the instance was
    busy, nobody took the call meanwhile: the call stays the instance's."""

    async def main() -> list[str]:
        keys = prefix()
        a = RedisOwnership(REDIS, prefix=keys, ttl_s=0.6)
        lost: list[str] = []

        async def never(call_id: str, resumed: bool) -> None:
            raise AssertionError("nobody asks")

        fence = await a.acquire("c")
        redis = Redis.from_url(REDIS)
        await redis.delete(keys + f"alive:{a.instance_id}")  # ran out: the instance was busy
        a.start(never, lost.append)
        await asyncio.sleep(0.5)  # a renewal round
        lease = await redis.get(keys + "lease:c")
        await redis.aclose()
        await a.close()
        assert lease is not None and lease.decode().endswith(f"|{fence}")
        return lost

    assert run(main()) == []


def test_a_lease_taken_by_another_instance_is_lost_by_the_old_holder() -> None:
    async def main() -> list[str]:
        keys = prefix()
        a = RedisOwnership(REDIS, prefix=keys, ttl_s=0.6)
        b = RedisOwnership(REDIS, prefix=keys, ttl_s=0.6)
        lost: list[str] = []

        async def never(call_id: str, resumed: bool) -> None:
            raise AssertionError("nobody asks")

        await a.acquire("c")
        redis = Redis.from_url(REDIS)
        await redis.delete(keys + f"alive:{a.instance_id}")  # a seemed dead for a while...
        assert await b.acquire("c") is not None  # ...and another instance took the call
        a.start(never, lost.append)
        await asyncio.sleep(0.5)
        await redis.aclose()
        await a.close()
        await b.close()
        return lost

    assert run(main()) == ["c"]


def test_a_holder_hears_a_request_and_may_refuse_it() -> None:
    async def main() -> tuple[list[tuple[str, bool]], bool, bool]:
        keys = prefix()
        a = RedisOwnership(REDIS, prefix=keys, ttl_s=5)
        b = RedisOwnership(REDIS, prefix=keys, ttl_s=5)
        heard: list[tuple[str, bool]] = []

        async def on_request(call_id: str, resumed: bool) -> None:
            heard.append((call_id, resumed))
            await a.refuse(call_id)

        a.start(on_request, lambda call_id: None)
        await a.acquire("c")
        await asyncio.sleep(0.2)  # a listens
        assert not await b.refused("c")
        await b.ask("c", resumed=True)
        for _ in range(100):
            if await b.refused("c"):
                break
            await asyncio.sleep(0.02)
        refused = await b.refused("c")
        await a.release("c")
        taken = await b.acquire("c") is not None
        await a.close()
        await b.close()
        return heard, refused, taken

    heard, refused, taken = run(main())
    assert heard == [("c", True)] and refused and taken


def test_one_process_holds_every_call() -> None:
    async def main() -> None:
        sole = SoleOwnership()
        assert await sole.acquire("c") == "" and await sole.free(["a", "b"]) == ["a", "b"]
        assert not await sole.refused("c") and not sole.shared

    run(main())
