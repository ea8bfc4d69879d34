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
    up in ``pending``."""

    __slots__ = ("_send", "pending", "_task", "_owned", "dead")

    def __init__(self, send: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._send = send
        self.pending: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._owned = False
        #: The peer is gone (a send failed): further messages are dropped.
        self.dead = False

    def put(self, message: str) -> None:
        if self.dead:
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
                for message in batch:
                    await send(message)
        except Exception:  # noqa: BLE001 - the peer went away: nothing more can reach it
            self.dead = True
            self.pending = []
        finally:
            self._owned = False
            self._task = None
