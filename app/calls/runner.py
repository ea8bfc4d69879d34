"""One writer per call: every input of the call — socket, REST, timer — is processed to the end
before the next one starts, so the engine runs one input at a time and needs no locks.

The engine is synchronous and so is everything the runner does with its output (encode, log,
hand to subscribers), so an input is processed *inline*, in the caller's turn of the event loop:
nothing else can run in between, which is the one-writer guarantee without a task and a queue per
call (an idle call costs no task, no queue, no future). An input that arrives while another is
being processed (only possible from a callback of the runner itself) waits in a short queue and
is processed right after, in order.

Events are encoded once (orjson) and the same string is handed to every subscriber: fan-out
copies nothing per subscriber. The log keeps every event for ``resume`` and late subscribers.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from array import array
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from app.engine.messages import Event, Input
from app.engine.session import CallSession, EndedSession
from app.errors import HuashuError, InternalError

log = logging.getLogger(__name__)


def wall_ms() -> int:
    return int(time.time() * 1000)


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


#: What ``after`` is told: True when the item's client ``seq`` had already been processed and the
#: item was skipped (acknowledge it again, send nothing else).
After = Callable[[bool], None]


class CallRunner:
    """Owns a call's session, timer, event log and subscribers."""

    __slots__ = (
        "session",
        "_log",
        "_log_ends",
        "_log_seqs",
        "subscribers",
        "_timer",
        "_deadline",
        "_on_event",
        "last_client_seq",
        "_busy",
        "_waiting",
    )

    def __init__(
        self, session: CallSession, on_event: Callable[[Event], None] | None = None
    ) -> None:
        #: The call's session; once the call has ended, what it keeps of it (``EndedSession``:
        #: the session, its streams and matchers are let go).
        self.session: CallSession | EndedSession = session
        #: Every event sent, as UTF-8 JSON one after the other in one buffer, where each ends,
        #: and its ``seq`` (arrays of machine ints): no object per event for the collector to
        #: visit, and about half the memory of a ``str`` per event (JSON is mostly ASCII, and a
        #: ``str`` with one Chinese character takes two bytes for every character).
        self._log = bytearray()
        self._log_ends = array("q")
        self._log_seqs = array("q")
        self.subscribers: set[Subscriber] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: int | None = None
        self._on_event = on_event
        #: The highest client ``seq`` processed (PROTOCOL "Not losing anything").
        self.last_client_seq = 0
        self._busy = False
        #: Inputs that arrived while one was being processed: (item, seq, after, is a tick).
        self._waiting: list[tuple[Input | None, int | None, After | None, bool]] | None = None
        self._schedule()

    @property
    def ended(self) -> bool:
        return self.session.ended

    def process(
        self, item: Input | None, *, seq: int | None = None, after: After | None = None
    ) -> list[Event]:
        """Process ``item`` now (None: nothing, a barrier behind everything before) and return
        its events, already published to every subscriber.

        ``seq`` is the client's sequence number: one already processed skips the item. ``after``
        runs right after publishing (to queue an ``ack`` or ``pong`` behind the events), also
        when the item is skipped or refused. Raises the engine's :class:`HuashuError` for an
        input that does not fit the call; the call is unchanged."""
        if self._busy:  # re-entered from a callback: in turn, behind the current input
            if self._waiting is None:
                self._waiting = []
            self._waiting.append((item, seq, after, False))
            return []
        self._busy = True
        try:
            return self._step(item, seq, after, False)
        finally:
            self._busy = False
            if self._waiting:
                self._run_waiting()

    async def submit(
        self, item: Input | None, *, seq: int | None = None, after: After | None = None
    ) -> list[Event]:
        """:meth:`process`, for callers that await (REST)."""
        return self.process(item, seq=seq, after=after)

    def attach(self, subscriber: Subscriber, after_seq: int | None = None) -> None:
        """Subscribe; with ``after_seq``, first replay every logged event after it. Replay and
        subscription happen in one synchronous step, so nothing is lost or sent twice."""
        if after_seq is not None:
            for message in self.logged(after_seq):
                subscriber.put(message)
        self.subscribers.add(subscriber)

    def logged(self, after_seq: int = 0) -> list[str]:
        """The encoded events after ``after_seq``, in order."""
        ends = self._log_ends
        first = bisect.bisect_right(self._log_seqs, after_seq)
        log = memoryview(self._log)
        start = ends[first - 1] if first else 0
        messages = []
        for end in ends[first:]:
            messages.append(str(log[start:end], "utf-8"))
            start = end
        return messages

    def detach(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _run_waiting(self) -> None:
        while self._waiting:
            item, seq, after, tick = self._waiting.pop(0)
            self._busy = True
            try:
                self._step(item, seq, after, tick)
            except HuashuError:
                pass  # nobody awaits a re-entered input: its ``after`` has run
            finally:
                self._busy = False

    def _step(
        self, item: Input | None, seq: int | None, after: After | None, tick: bool
    ) -> list[Event]:
        duplicate = seq is not None and seq <= self.last_client_seq
        try:
            if item is None:
                events = self.session.on_timer(wall_ms()) if tick else []
            elif duplicate:
                events = []
            else:
                events = self.session.handle(item, wall_ms())
        except HuashuError:
            # Refused: acknowledged all the same, or the client would resend it forever.
            self._done(seq, after, duplicate)
            raise
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the call
            log.exception("call %s: the engine failed on %r", self.session.call_id, item)
            self._done(seq, after, duplicate)
            self._schedule()
            raise InternalError(f"the engine failed: {exc!r}") from None
        if events:
            self._publish(events)
            session = self.session
            if session.ended and isinstance(session, CallSession):
                self.session = session.close()
        self._done(seq, after, duplicate)
        self._schedule()
        return events

    def _done(self, seq: int | None, after: After | None, duplicate: bool) -> None:
        if seq is not None and seq > self.last_client_seq:
            self.last_client_seq = seq
        if after is not None:
            after(duplicate)

    def _publish(self, events: list[Event]) -> None:
        on_event = self._on_event
        log = self._log
        for event in events:
            encoded = orjson.dumps(event.to_wire())
            message = encoded.decode()
            log += encoded
            self._log_ends.append(len(log))
            self._log_seqs.append(event.seq)
            for subscriber in self.subscribers:
                subscriber.put(message)
            if on_event is not None:
                on_event(event)

    def _schedule(self) -> None:
        """Arm the timer for the session's next deadline; unchanged deadlines keep their timer."""
        deadline = self.session.next_deadline()
        if deadline == self._deadline and (self._timer is not None or deadline is None):
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadline = deadline
        if deadline is None:
            return
        delay = max(deadline - wall_ms(), 0) / 1000
        self._timer = asyncio.get_running_loop().call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._deadline = None
        if self._busy:
            if self._waiting is None:
                self._waiting = []
            self._waiting.append((None, None, None, True))
            return
        self._busy = True
        try:
            self._step(None, None, None, True)
        except HuashuError:
            log.warning("call %s: a timer tick failed", self.session.call_id)
        finally:
            self._busy = False
            if self._waiting:
                self._run_waiting()
