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


#: KEYS: the lease, the fence counter; ARGV: instance, ttl ms. Returns the lease held now
#: (this instance's, renewed or new), or nil when another instance holds it.
ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then
  if string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return held
  end
  return false
end
local lease = ARGV[1] .. '|' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], lease, 'PX', ARGV[2])
return lease
"""

#: KEYS: the lease, the fence counter; ARGV: the lease this instance holds, its fence, ttl ms.
#: 1 renewed, 0 lost. A lease that ran out (this instance was too busy to renew it in time) is
#: taken again when nobody took the call meanwhile: the fence counter is still this lease's.
RENEW = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if not held and redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
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
    """Leases in Redis, renewed by a background task every third of their time to live."""

    shared = True

    def __init__(self, url: str, *, prefix: str = "huashu:", ttl_s: float = 5.0) -> None:
        self.instance_id = secrets.token_hex(6)
        self._redis: Redis = Redis(connection_pool=pool(url))
        self._prefix = prefix
        self._ttl_ms = int(ttl_s * 1000)
        self._acquire = self._redis.register_script(ACQUIRE)
        self._renew = self._redis.register_script(RENEW)
        self._release = self._redis.register_script(RELEASE)
        #: The calls this instance holds: their leases.
        self._held: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        #: Requests being answered (kept, or the loop may drop a running task).
        self._answering: set[asyncio.Task[None]] = set()

    def _lease(self, call_id: str) -> str:
        return f"{self._prefix}lease:{call_id}"

    def _fence(self, call_id: str) -> str:
        return f"{self._prefix}fence:{call_id}"

    def _inbox(self, instance: str) -> str:
        return f"{self._prefix}instance:{instance}"

    def _refusal(self, call_id: str) -> str:
        return f"{self._prefix}refused:{call_id}"

    async def acquire(self, call_id: str) -> str | None:
        lease = await self._acquire(
            keys=[self._lease(call_id), self._fence(call_id)],
            args=[self.instance_id, self._ttl_ms],
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
        leases = await self._redis.mget([self._lease(call_id) for call_id in call_ids])
        return [call_id for call_id, lease in zip(call_ids, leases, strict=True) if lease is None]

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

    async def _keep_renewing(self, on_lost: OnLost) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            held = list(self._held.items())
            if not held:
                continue
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for call_id, lease in held:
                        await self._renew(
                            keys=[self._lease(call_id), self._fence(call_id)],
                            args=[lease, lease.split("|", 1)[1], self._ttl_ms],
                            client=pipe,
                        )
                    renewed = await pipe.execute()
            except (RedisError, OSError) as exc:
                log.warning("leases: Redis did not answer (%s); renewing again soon", exc)
                continue
            for (call_id, lease), ok in zip(held, renewed, strict=True):
                if not ok and self._held.get(call_id) == lease:
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
        await self._redis.aclose()


def make_ownership(settings: Settings) -> Ownership:
    """Leases in Redis when ``HUASHU_REDIS_URL`` is set (several instances), else this
    process holds every call."""
    if settings.redis_url is None:
        return SoleOwnership()
    return RedisOwnership(
        settings.redis_url, prefix=settings.redis_prefix, ttl_s=settings.lease_ttl_s
    )
