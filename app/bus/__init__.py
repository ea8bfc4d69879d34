"""The event bus: how a call's events reach every connection that follows the call.

:class:`Bus` is the interface the rest of the service relies on; :class:`MemoryBus`
(``app.bus.memory``) keeps everything in this process (the embedded default). A backend shared
by several instances (Redis Streams, one stream per channel) implements the same interface
and is chosen in :func:`make_bus` — the one place a backend is registered.

A call is published by one instance at a time (its owner, ``app.calls.ownership``): ``own``
and ``release`` tell the bus when that changes. The runner publishes each event once, already
encoded; the bus hands the same string to every subscriber of the call, in the order
published, and keeps the call's events for ``resume`` and late subscribers.

A call's events go on its *channel*, a name unique across tenants (``CallKey.channel``: the
tenant and the call id), so two tenants' calls of the same id never share one.
"""

from __future__ import annotations

from typing import Protocol

from app.config import Settings


class Sink(Protocol):
    """What a subscriber is to the bus: somewhere to put a call's encoded events, in order.
    ``put`` must not block (a connection queues and sends on its own time)."""

    def put(self, message: str) -> None: ...


class Bus(Protocol):
    #: What ``/readyz`` calls this backend.
    name: str

    def publish(self, channel: str, seq: int, message: str) -> None:
        """Hand ``message`` (the call's event ``seq``, encoded) to every subscriber of the call
        and keep it for replay. Never blocks: the runner publishes in line with the engine."""
        ...

    async def subscribe(self, channel: str, sink: Sink, after_seq: int | None = None) -> None:
        """Hand the call's events to ``sink`` from now on; with ``after_seq``, first every event
        after it that the bus holds, with nothing lost or repeated between the replay and what
        follows. An event of a seq at or below ``after_seq`` (or below what was replayed) is
        never handed to ``sink``, even if published again (a call rebuilt after a restart
        publishes again what its client may have had)."""
        ...

    def unsubscribe(self, channel: str, sink: Sink) -> None:
        """Stop handing the call's events to ``sink`` (a sink not subscribed is ignored)."""
        ...

    async def oldest(self, channel: str) -> int | None:
        """The seq of the oldest event of the call the bus holds (None: it holds none); what
        came before is the store's to replay."""
        ...

    async def replay(self, channel: str, after_seq: int = 0) -> list[str]:
        """The call's encoded events after ``after_seq`` that the bus holds, in order."""
        ...

    def own(self, channel: str, fence: str = "") -> None:
        """This instance publishes the call from now on, under its lease's fencing token
        ``fence``: an append from an instance whose lease was taken over is refused."""
        ...

    def release(self, channel: str) -> None:
        """This instance no longer publishes the call (handed off to another instance): its
        subscribers here go on following the call from wherever it is published."""
        ...

    async def flush(self) -> None:
        """Wait until every event published so far reaches every instance's subscribers."""
        ...

    def ended(self, channel: str) -> None:
        """The call has published its last event (its report): the bus may let its events go
        once its retention says so."""
        ...

    async def close(self) -> None:
        """Let go of every connection and resource the bus holds."""
        ...


def make_bus(settings: Settings) -> Bus:
    """The bus the settings ask for: Redis Streams when ``HUASHU_REDIS_URL`` is set (several
    instances), else this process's memory."""
    from app.bus.memory import MemoryBus

    if settings.redis_url is not None:
        from app.bus.redis import RedisBus

        if settings.store == "memory":
            raise ValueError(
                "HUASHU_REDIS_URL needs a database (HUASHU_STORE=database) that every instance "
                "shares: a call moving to another instance is rebuilt from it"
            )
        return RedisBus(
            settings.redis_url,
            prefix=settings.redis_prefix,
            window=settings.event_window,
            maxlen=settings.redis_stream_maxlen,
        )
    if settings.store == "memory":
        # The bus is the only copy of the events: it keeps them until the in-memory store
        # lets their call go (HUASHU_KEEP_ENDED_CALLS, HUASHU_KEEP_ENDED_BYTES).
        return MemoryBus(keep_ended=None)
    return MemoryBus(keep_ended=0, window=settings.event_window)
