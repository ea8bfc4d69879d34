"""One task per call: every input of the call — socket, REST, timer — goes through its queue, so
the engine runs one input at a time and needs no locks.

Events are encoded once (orjson) and the same string is handed to every subscriber's queue: fan-out
copies nothing per subscriber. The log keeps every event for ``resume`` and late subscribers.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.engine.messages import Event, Input
from app.engine.session import CallSession
from app.errors import HuashuError, InternalError

log = logging.getLogger(__name__)


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass(eq=False)
class Subscriber:
    """One connection's outgoing queue: encoded event strings and its own replies."""

    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)

    def put(self, message: str) -> None:
        self.queue.put_nowait(message)

    def reply(self, body: dict[str, Any]) -> None:
        self.queue.put_nowait(orjson.dumps(body).decode())


#: What ``after`` is told: True when the item's client ``seq`` had already been processed and the
#: item was skipped (acknowledge it again, send nothing else).
After = Callable[[bool], None]


@dataclass
class _Work:
    item: Input | None  # None: a timer tick (no future) or a barrier (a future)
    future: asyncio.Future[list[Event]] | None
    after: After | None = None
    seq: int | None = None


class CallRunner:
    """Owns a call's session, queue, task, timer, event log and subscribers."""

    def __init__(
        self, session: CallSession, on_event: Callable[[Event], None] | None = None
    ) -> None:
        self.session = session
        self.log: list[str] = []
        self._log_seqs: list[int] = []
        self.subscribers: set[Subscriber] = set()
        self._queue: asyncio.Queue[_Work] = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None
        self._on_event = on_event
        #: The highest client ``seq`` processed (PROTOCOL "Not losing anything").
        self.last_client_seq = 0
        self._task = asyncio.get_running_loop().create_task(self._run(), name="call-runner")
        self._schedule()

    @property
    def ended(self) -> bool:
        return self.session.ended

    async def submit(
        self, item: Input | None, *, seq: int | None = None, after: After | None = None
    ) -> list[Event]:
        """Process ``item`` in turn (None: nothing, a barrier behind everything queued before) and
        return its events, already published to every subscriber.

        ``seq`` is the client's sequence number: one already processed skips the item. ``after``
        runs in the runner right after publishing (to queue an ``ack`` or ``pong`` behind the
        events), also when the item is skipped or refused. Raises the engine's
        :class:`HuashuError` for an input that does not fit the call; the call is unchanged."""
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Work(item, future, after, seq))
        return await future

    def attach(self, subscriber: Subscriber, after_seq: int | None = None) -> None:
        """Subscribe; with ``after_seq``, first replay every logged event after it. Replay and
        subscription happen in one synchronous step, so nothing is lost or sent twice."""
        if after_seq is not None:
            for message in self.log[bisect.bisect_right(self._log_seqs, after_seq) :]:
                subscriber.put(message)
        self.subscribers.add(subscriber)

    def detach(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _run(self) -> None:
        while True:
            work = await self._queue.get()
            future = work.future
            duplicate = work.seq is not None and work.seq <= self.last_client_seq
            try:
                if work.item is None:
                    events = self.session.on_timer(wall_ms()) if future is None else []
                elif duplicate:
                    events = []
                else:
                    events = self.session.handle(work.item, wall_ms())
            except HuashuError as exc:
                # Refused: acknowledged all the same, or the client would resend it forever.
                self._done(work, duplicate)
                if future is not None and not future.done():
                    future.set_exception(exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one bad input must not stop the call's task
                log.exception("call %s: the engine failed on %r", self.session.setup.call_id, work)
                self._done(work, duplicate)
                if future is not None and not future.done():
                    future.set_exception(InternalError(f"the engine failed: {exc!r}"))
                self._schedule()
                continue
            self._publish(events)
            self._done(work, duplicate)
            if future is not None and not future.done():
                future.set_result(events)
            self._schedule()

    def _done(self, work: _Work, duplicate: bool) -> None:
        if work.seq is not None:
            self.last_client_seq = max(self.last_client_seq, work.seq)
        if work.after is not None:
            work.after(duplicate)

    def _publish(self, events: list[Event]) -> None:
        for event in events:
            message = orjson.dumps(event.to_wire()).decode()
            self.log.append(message)
            self._log_seqs.append(event.seq)
            for subscriber in self.subscribers:
                subscriber.put(message)
            if self._on_event is not None:
                self._on_event(event)

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.session.next_deadline()
        if deadline is None:
            return
        delay = max(deadline - wall_ms(), 0) / 1000
        self._timer = asyncio.get_running_loop().call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._queue.put_nowait(_Work(None, None))
