"""Which instance runs a call: one writer per call across instances.

A call is run (its engine fed, its events published) by one instance at a time, the one that
holds its *lease*. :class:`Ownership` is the interface; :class:`SoleOwnership` is one process's
(every call is its own); :class:`RedisOwnership` keeps the leases in Redis, for several
instances, and is chosen in :func:`make_ownership` — the one place a backend is registered.

A lease is ``<instance>|<fence>`` under the call's key, with a time to live the holder renews;
``fence`` is a counter that goes up with every new holder (a fencing token: the bus refuses an
append from a holder whose token is no longer the call's, ``app.bus.redis``). An instance that
dies stops renewing, and its calls' leases run out after ``HUASHU_LEASE_TTL_S``. An instance
that wants a call another holds asks the holder, over the holder's own Redis channel, to hand
it off; the holder says no by leaving a short-lived refusal, or lets the call go.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.bus.redis import pool
from app.config import Settings

log = logging.getLogger(__name__)

#: What an instance does when asked for a call: ``(call_id, resumed)``.
OnRequest = Callable[[str, bool], Coroutine[Any, Any, None]]
#: What an instance does when it finds it no longer holds a call.
OnLost = Callable[[str], None]


class Ownership(Protocol):
    #: This instance, as the leases name it.
    instance_id: str
    #: Several instances share the calls (a call may have to be taken over).
    shared: bool

    async def acquire(self, call_id: str) -> str | None:
        """Hold the call (or go on holding it): its fencing token; None while another
        instance holds it."""
        ...

    async def free(self, call_ids: list[str]) -> list[str]:
        """Of ``call_ids``, those no instance holds."""
        ...

    async def ask(self, call_id: str, resumed: bool) -> None:
        """Ask the call's holder to hand it off (``resumed``: for a client reconnecting)."""
        ...

    async def refused(self, call_id: str) -> bool:
        """Whether the call's holder refused to hand it off, a moment ago."""
        ...

    async def refuse(self, call_id: str) -> None:
        """Say no to a request for a call this instance holds."""
        ...

    async def release(self, call_id: str, ended: bool = False) -> None:
        """Let the call go (``ended``: for good; its keys may go too)."""
        ...

    async def release_all(self, call_ids: list[str]) -> None:
        """Let these calls go (the instance is stopping)."""
        ...

    def start(self, on_request: OnRequest, on_lost: OnLost) -> None:
        """Begin renewing this instance's leases and hearing requests for its calls."""
        ...

    async def close(self) -> None: ...


class SoleOwnership:
    """One instance: it holds every call."""

    shared = False

    def __init__(self) -> None:
        self.instance_id = "local"

    async def acquire(self, call_id: str) -> str | None:
        return ""

    async def free(self, call_ids: list[str]) -> list[str]:
        return call_ids

    async def ask(self, call_id: str, resumed: bool) -> None:
        """Nobody else to ask."""

    async def refused(self, call_id: str) -> bool:
        return False

    async def refuse(self, call_id: str) -> None:
        """Nobody asks."""

    async def release(self, call_id: str, ended: bool = False) -> None:
        """Nothing is held."""

    async def release_all(self, call_ids: list[str]) -> None:
        """Nothing is held."""

    def start(self, on_request: OnRequest, on_lost: OnLost) -> None:
        """Nothing to renew, nobody to hear."""

    async def close(self) -> None:
        """Nothing to let go."""


#: KEYS: the lease, the fence counter; ARGV: this instance, the heartbeat keys' prefix.
#: Returns the lease held now (this instance's, or new), or nil while another live instance
#: (its heartbeat key is there) holds it.
ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then
  local holder = string.match(held, '^(.-)|')
  if holder == ARGV[1] then return held end
  if redis.call('EXISTS', ARGV[2] .. holder) == 1 then return false end
end
local lease = ARGV[1] .. '|' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], lease)
return lease
"""

#: KEYS: the lease, the fence counter; ARGV: the lease this instance holds, whether the call
#: ended, how long its fence outlives it (s).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
if ARGV[2] == '1' then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return 1
"""

#: How long a refusal to hand a call off stands (ms): the asker looks for it meanwhile.
REFUSAL_MS = 3000
#: How long a fence counter outlives its call (s): an instance still catching up is refused.
FENCE_AFTER_END_S = 3600


class RedisOwnership:
    """Leases in Redis. A lease names its holder; it stands while the holder's *heartbeat* (a
    key of the instance's own, with the time to live, refreshed every third of it) does: one
    key renewed per instance, not one per call, whatever the number of calls."""

    shared = True

    def __init__(self, url: str, *, prefix: str = "huashu:", ttl_s: float = 5.0) -> None:
        self.instance_id = secrets.token_hex(6)
        self._redis: Redis = Redis(connection_pool=pool(url))
        self._prefix = prefix
        self._ttl_ms = int(ttl_s * 1000)
        self._acquire = self._redis.register_script(ACQUIRE)
        self._release = self._redis.register_script(RELEASE)
        #: The calls this instance holds: their leases.
        self._held: dict[str, str] = {}
        #: The heartbeat has been set at least once.
        self._alive = False
        self._tasks: list[asyncio.Task[None]] = []
        #: Requests being answered (kept, or the loop may drop a running task).
        self._answering: set[asyncio.Task[None]] = set()

    def _lease(self, call_id: str) -> str:
        return f"{self._prefix}lease:{call_id}"

    def _fence(self, call_id: str) -> str:
        return f"{self._prefix}fence:{call_id}"

    def _heartbeat(self, instance: str) -> str:
        return f"{self._prefix}alive:{instance}"

    def _inbox(self, instance: str) -> str:
        return f"{self._prefix}instance:{instance}"

    def _refusal(self, call_id: str) -> str:
        return f"{self._prefix}refused:{call_id}"

    async def acquire(self, call_id: str) -> str | None:
        if not self._alive:  # before start (or a test): this instance is alive now
            await self._beat()
        lease = await self._acquire(
            keys=[self._lease(call_id), self._fence(call_id)],
            args=[self.instance_id, self._heartbeat("")],
        )
        if lease is None:
            self._held.pop(call_id, None)
            return None
        held = str(lease.decode())
        self._held[call_id] = held
        return held.split("|", 1)[1]

    async def free(self, call_ids: list[str]) -> list[str]:
        if not call_ids:
            return []
        leases: list[Any] = await self._redis.mget([self._lease(c) for c in call_ids])
        holders = [None if lease is None else lease.split(b"|", 1)[0].decode() for lease in leases]
        named = sorted({holder for holder in holders if holder is not None})
        alive: list[Any] = (
            await self._redis.mget([self._heartbeat(holder) for holder in named]) if named else []
        )
        living = {holder for holder, beat in zip(named, alive, strict=True) if beat is not None}
        return [
            call_id
            for call_id, holder in zip(call_ids, holders, strict=True)
            if holder is None or holder not in living
        ]

    async def ask(self, call_id: str, resumed: bool) -> None:
        lease: Any = await self._redis.get(self._lease(call_id))
        if lease is None:
            return
        holder = str(lease.decode()).split("|", 1)[0]
        if holder == self.instance_id:
            return
        await self._redis.delete(self._refusal(call_id))
        request = orjson.dumps({"call_id": call_id, "resumed": resumed})
        await self._redis.publish(self._inbox(holder), request)

    async def refused(self, call_id: str) -> bool:
        return bool(await self._redis.exists(self._refusal(call_id)))

    async def refuse(self, call_id: str) -> None:
        await self._redis.set(self._refusal(call_id), self.instance_id, px=REFUSAL_MS)

    async def release(self, call_id: str, ended: bool = False) -> None:
        lease = self._held.pop(call_id, None)
        if lease is None and not ended:
            return
        await self._release(
            keys=[self._lease(call_id), self._fence(call_id)],
            args=[lease or "", "1" if ended else "0", FENCE_AFTER_END_S],
        )

    async def release_all(self, call_ids: list[str]) -> None:
        """:meth:`release` for many calls, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for call_id in call_ids:
                lease = self._held.pop(call_id, None)
                if lease is not None:
                    await self._release(
                        keys=[self._lease(call_id), self._fence(call_id)],
                        args=[lease, "0", FENCE_AFTER_END_S],
                        client=pipe,
                    )
            await pipe.execute()

    def start(self, on_request: OnRequest, on_lost: OnLost) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._keep_renewing(on_lost), name="huashu-leases"),
            loop.create_task(self._hear(on_request), name="huashu-requests"),
        ]

    async def _beat(self) -> bool:
        """Set this instance's heartbeat for another time to live; False when it had run out
        (the instance was too busy, or Redis away, for longer than that)."""
        before = await self._redis.set(
            self._heartbeat(self.instance_id), b"1", px=self._ttl_ms, get=True
        )
        was_alive, self._alive = self._alive, True
        return before is not None or not was_alive

    async def _keep_renewing(self, on_lost: OnLost) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                if await self._beat():
                    continue
                # The heartbeat ran out: another instance may have taken some calls meanwhile.
                held = list(self._held.items())
                leases: list[Any] = (
                    await self._redis.mget([self._lease(call_id) for call_id, _ in held])
                    if held
                    else []
                )
            except (RedisError, OSError) as exc:
                log.warning("leases: Redis did not answer (%s); renewing again soon", exc)
                continue
            for (call_id, lease), now in zip(held, leases, strict=True):
                if (now is None or now.decode() != lease) and self._held.get(call_id) == lease:
                    del self._held[call_id]
                    log.warning("call %s: its lease was lost; the call is let go", call_id)
                    on_lost(call_id)

    async def _hear(self, on_request: OnRequest) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._inbox(self.instance_id))
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            request = orjson.loads(message["data"])
                            call_id = str(request["call_id"])
                            resumed = bool(request["resumed"])
                        except (orjson.JSONDecodeError, KeyError, TypeError):
                            log.warning("leases: a request that is not one was ignored")
                            continue
                        task = asyncio.get_running_loop().create_task(on_request(call_id, resumed))
                        self._answering.add(task)
                        task.add_done_callback(self._answering.discard)
            except (RedisError, OSError) as exc:
                log.warning("leases: the request channel failed (%s); listening again", exc)
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - going away
                pass
        try:
            await self._redis.delete(self._heartbeat(self.instance_id))
        except (RedisError, OSError):
            pass  # it runs out on its own
        await self._redis.aclose(close_connection_pool=True)


def make_ownership(settings: Settings) -> Ownership:
    """Leases in Redis when ``HUASHU_REDIS_URL`` is set (several instances), else this
    process holds every call."""
    if settings.redis_url is None:
        return SoleOwnership()
    return RedisOwnership(
        settings.redis_url, prefix=settings.redis_prefix, ttl_s=settings.lease_ttl_s
    )
