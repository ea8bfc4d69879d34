"""One stream connection's state: its socket, decoder and outgoing messages, the call it follows
and the legs it writes (``app.calls.stream`` serves it)."""

from __future__ import annotations

import asyncio
import logging

from app.asr import DEFAULT_FORMAT, Decoder
from app.auth import Principal
from app.calls.repository import CallKey, CallRecord
from app.calls.runner import CallRunner
from app.calls.service import CallService
from app.calls.socket import (
    CLOSE_CONFLICT,
    CLOSE_RESTART,
    CLOSE_TOO_SLOW,
    Socket,
)
from app.calls.subscriber import Subscriber
from app.errors import HuashuError
from app.ops.metrics import Metrics
from app.ops.series import Count

log = logging.getLogger(__name__)


#: Where a connection's fragments count until its call is known (a fragment is handled only
#: once it is: this counter never moves, and is in no registry).
_UNCOUNTED = Count()


class Connection:
    """One socket: its decoder, its outgoing messages (events, acks, errors in order), and the
    call it follows."""

    __slots__ = (
        "websocket",
        "key",
        "principal",
        "decoder",
        "format",
        "calls",
        "metrics",
        "subscriber",
        "record",
        "runner",
        "following",
        "arrived",
        "fragments",
        "alert_latency",
        "resumed",
        "moved",
    )

    def __init__(
        self,
        websocket: Socket,
        key: CallKey,
        principal: Principal,
        decoder: Decoder,
        calls: CallService,
        metrics: Metrics,
        fmt: str = DEFAULT_FORMAT,
        max_pending: int | None = None,
    ) -> None:
        """``key``: the call the path names, for ``principal``'s tenant; ``max_pending``:
        events that may wait for a peer that does not read before it is closed
        (``HUASHU_MAX_PENDING_EVENTS``)."""
        self.websocket = websocket
        self.key = key
        self.principal = principal
        self.decoder = decoder
        self.format = fmt
        self.calls = calls
        self.metrics = metrics
        self.subscriber = Subscriber(websocket.send_text, max_pending, self._too_slow)
        self.record: CallRecord | None = None
        self.runner: CallRunner | None = None
        self.following = False
        #: When the frame being handled arrived (``time.perf_counter``).
        self.arrived = 0.0
        #: The metrics this connection's fragments count in, once its call is known.
        self.fragments = _UNCOUNTED
        self.alert_latency = metrics.alert_latency_of(fmt)
        #: The connection sent ``resume``: a client reconnecting, which may take over the
        #: legs a connection it replaces still holds.
        self.resumed = False
        #: Why this connection's call was taken from it (it is closing), once it was.
        self.moved: str | None = None

    def _too_slow(self) -> None:
        """The peer let too many events wait: stop following the call and close it (the close
        frame waits for the socket too; what waits is bounded either way)."""
        if self.following:
            self.calls.unfollow(self.key, self.subscriber)
            self.following = False
        log.warning("stream too slow: closed", extra={"call_id": self.key.call_id})
        asyncio.get_running_loop().create_task(self._close_too_slow())

    async def _close_too_slow(self) -> None:
        try:
            await self.websocket.close(CLOSE_TOO_SLOW, "too slow: events waited unread")
        except Exception:  # noqa: BLE001 - the peer may be gone already: nothing to tell it
            pass

    def error(self, code: str, detail: str) -> None:
        self.subscriber.reply({"type": "error", "code": code, "detail": detail})

    def take(self, record: CallRecord) -> None:
        """The connection's call is ``record``; its runner comes from the service."""
        self.record = record
        self.fragments = self.metrics.fragment_counter(record.script_id, self.format)
        try:
            self.runner = self.calls.runner(record)
        except HuashuError:
            self.runner = None  # live on another instance: each input says so

    async def follow(self, after_seq: int | None = None) -> None:
        """Receive the call's events from now on (after replaying those after ``after_seq``)."""
        if self.following:
            self.calls.unfollow(self.key, self.subscriber)
        await self.calls.follow(self.key, self.subscriber, after_seq)
        self.following = True

    def may_write(self, runner: CallRunner, leg: str) -> bool:
        """Whether this connection may send the call's ``leg``: the first to send it writes
        it; another is refused (``writer_taken``, not acknowledged, closed with 4409), unless
        it resumed — a client reconnecting — when it takes the leg over and the connection it
        replaces is closed (4409)."""
        writers = runner.writers
        if writers is None:
            writers = runner.writers = {}
        owner = writers.get(leg)
        if owner is self:
            return True
        if owner is not None and not self.resumed:
            self.error(
                "writer_taken",
                f"another connection writes this call's {leg} leg: one writer per leg; "
                "a client reconnecting sends resume first",
            )
            asyncio.get_running_loop().create_task(self._close(CLOSE_CONFLICT, "writer_taken"))
            return False
        if isinstance(owner, Connection):
            owner.error("writer_replaced", f"a newer connection writes this call's {leg} leg")
            asyncio.get_running_loop().create_task(owner._close(CLOSE_CONFLICT, "replaced"))
        writers[leg] = self
        return True

    def displaced(self, reason: str) -> None:
        """The call runs on another instance now: say so, and close with 1012 (reconnect,
        ``resume``, resend what was not acknowledged)."""
        self.runner = None
        self.moved = reason
        self.error("call_moved", reason)
        asyncio.get_running_loop().create_task(self._close(CLOSE_RESTART, "call moved"))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.subscriber.wait_sent(timeout=5)
            await self.websocket.close(code, reason)
        except Exception:  # noqa: BLE001 - the peer may be gone already
            pass

    async def close(self) -> None:
        """Stop following the call and give up the legs it writes; what was already queued
        for this connection is sent."""
        if self.following:
            self.calls.unfollow(self.key, self.subscriber)
            self.following = False
        runner = self.runner
        if runner is not None and runner.writers:
            for leg, owner in list(runner.writers.items()):
                if owner is self:
                    del runner.writers[leg]
        await self.subscriber.wait_sent(timeout=5)
        # The subscriber's overflow callback is this connection's: let go of it, so that a
        # closed connection is freed by reference counts, not at a full collection.
        self.subscriber.detach()
