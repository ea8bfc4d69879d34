"""One connection's outgoing messages: the call's events and its own replies, in order.

A :class:`Subscriber` is what the bus hands a call's events to (``app.bus.Sink``) for one
connection, and where that connection puts its own replies (``ack``, ``pong``, ``error``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson


class Subscriber:
    """One connection's outgoing messages: encoded event strings and its own replies, sent in
    the order they were put.

    No task waits on an idle connection: a message put when nobody is sending starts a short
    sender task that sends until nothing is pending and ends. A connection handling its own
    frame :meth:`hold`\\ s the sending role instead and sends what the frame produced itself
    (:meth:`release`), so the common path (a fragment in, its alert out) starts no task at all.
    Exactly one sender at a time keeps the order. Without ``send`` (tests) messages just pile
    up in ``pending``.

    A peer that does not read makes the sends wait (the server writes no faster than the
    socket drains): at most ``max_pending`` messages wait for it; one more and it is given up
    (``dead``, what waits dropped) and ``on_overflow`` is told, once, to close it."""

    __slots__ = (
        "_send",
        "pending",
        "_task",
        "_owned",
        "dead",
        "_max_pending",
        "_in_flight",
        "_on_overflow",
    )

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]] | None = None,
        max_pending: int | None = None,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self._send = send
        self.pending: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._owned = False
        #: The peer is gone (a send failed) or too slow: further messages are dropped.
        self.dead = False
        self._max_pending = max_pending
        #: Messages of the batch being sent not sent yet (they wait too).
        self._in_flight = 0
        self._on_overflow = on_overflow

    def put(self, message: str) -> None:
        if self.dead:
            return
        limit = self._max_pending
        if limit is not None and len(self.pending) + self._in_flight >= limit:
            self.dead = True
            self.pending = []
            if self._on_overflow is not None:
                self._on_overflow()
            return
        self.pending.append(message)
        if not self._owned and self._send is not None:
            self._owned = True
            self._task = asyncio.get_running_loop().create_task(self._drain())

    def reply(self, body: dict[str, Any]) -> None:
        self.put(orjson.dumps(body).decode())

    def take(self) -> list[str]:
        """Everything pending, removed (for a subscriber without ``send``)."""
        pending, self.pending = self.pending, []
        return pending

    def hold(self) -> bool:
        """Take the sending role; False when a sender is already at work (it will send what is
        put meanwhile). Whoever got True must :meth:`release`."""
        if self._owned:
            return False
        self._owned = True
        return True

    def unhold(self) -> None:
        """Give up a held role with nothing pending (no coroutine, no await)."""
        if self.pending:
            raise RuntimeError("messages are pending: release() sends them")
        self._owned = False

    def detach(self) -> None:
        """The connection is gone: forget its overflow callback (which refers to it)."""
        self._on_overflow = None

    @property
    def busy(self) -> bool:
        """A sender is at work (or a connection holds the role)."""
        return self._owned

    def release_now(self, write: Callable[[str], bool]) -> None:
        """Send what is pending with ``write``, a synchronous writer (False: it cannot write
        now, the socket is not writable), and give up the role. What it cannot write is left
        to a sender task, in order, which waits for the socket as :meth:`release` does."""
        pending = self.pending
        if pending and not self.dead:
            sent = 0
            for message in pending:
                if not write(message):
                    break
                sent += 1
            if sent < len(pending):
                self.pending = pending[sent:]
                if self._send is not None:
                    self._task = asyncio.get_running_loop().create_task(self._drain())
                    return
                self._owned = False
                return
        pending.clear()  # the same list for the next message: nothing new for the collector
        self._owned = False

    async def release(self) -> None:
        """Send everything pending (also what is put while sending), then give up the role."""
        await self._drain()

    async def wait_sent(self, timeout: float) -> None:
        """Until the running sender, if any, has sent everything pending."""
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except (TimeoutError, asyncio.CancelledError):
                pass

    async def _drain(self) -> None:
        send = self._send
        try:
            while self.pending and not self.dead and send is not None:
                batch, self.pending = self.pending, []
                self._in_flight = len(batch)
                for message in batch:
                    await send(message)
                    self._in_flight -= 1
                    if self.dead:
                        break
        except Exception:  # noqa: BLE001 - the peer went away: nothing more can reach it
            self.dead = True
            self.pending = []
        finally:
            self._owned = False
            self._task = None
            self._in_flight = 0
