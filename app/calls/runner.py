"""One writer per call: every input of the call — socket, REST, timer — is processed to the end
before the next one starts, so the engine runs one input at a time and needs no locks.

The engine is synchronous and so is everything the runner does with its output (encode, publish
on the bus, tell its observer), so an input is processed *inline*, in the caller's turn of the
event loop: nothing else can run in between, which is the one-writer guarantee without a task
and a queue per call (an idle call costs no task, no queue, no future). An input that arrives
while another is being processed (only possible from a callback of the runner itself) waits in a
short queue and is processed right after, in order.

Events are encoded once (orjson) and published on the bus, which hands the same string to every
subscriber. The runner is the only thing that touches its call's session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from app.bus import Bus
from app.calls.repository import CallKey
from app.engine.messages import CallEvent, Event, Input, Listing, TranscriptLine
from app.engine.outbox import Earlier
from app.engine.session import CallSession
from app.errors import CallStateError, HuashuError, InternalError

log = logging.getLogger(__name__)

#: The event types after which what a list of calls shows of the call may have changed.
LISTED = frozenset({"phase", "call_type", "alert", "alert_update"})


def wall_ms() -> int:
    return int(time.time() * 1000)


class CallObserver(Protocol):
    """Who hears of a call's progress besides its subscribers (the call service: the store and
    the metrics). Called in line with the engine: must not block."""

    def on_input(
        self, key: CallKey, n: int, item: Input | None, wall_ms: int, seq: int | None
    ) -> None:
        """The engine processed the call's ``n``-th input (None: a timer tick) at ``wall_ms``."""
        ...

    def on_event(self, key: CallKey, event: Event, message: str) -> None:
        """The call published ``event`` (``message``: as sent)."""
        ...

    def on_listing(self, key: CallKey, listing: Listing) -> None: ...

    def on_end(self, key: CallKey, listing: Listing, snapshot: bytes, report: bytes) -> None: ...

    def when_durable(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once everything told so far is durable."""
        ...

    def on_lines(self, key: CallKey, lines: list[tuple[int, TranscriptLine]]) -> None:
        """Transcript lines of the call left its engine's memory (numbered): keep them."""
        ...

    async def earlier(self, key: CallKey, lines: int, alerts: int) -> Earlier:
        """What left the call's engine's memory, read back once durable: its first ``lines``
        transcript lines and first ``alerts`` alerts as they stand."""
        ...


class Writer(Protocol):
    """A connection writing one of the call's legs."""

    def displaced(self, reason: str) -> None:
        """The call no longer runs here: tell the client to reconnect, and close."""
        ...


#: What ``after`` is told: True when the item's client ``seq`` had already been processed and the
#: item was skipped (acknowledge it again, send nothing else).
After = Callable[[bool], None]


class CallRunner:
    """Owns a call's session and timer, and publishes the session's events on the bus.

    Once the call has ended the session is let go: every later input is refused with
    ``call_ended`` (and still acknowledged), and the call's record holds what is left of it."""

    __slots__ = (
        "key",
        "_channel",
        "_session",
        "_bus",
        "_observer",
        "_timer",
        "_deadline",
        "last_client_seq",
        "last_event_seq",
        "rebuilt",
        "last_input_ms",
        "writers",
        "_inputs",
        "_busy",
        "_waiting",
        "moved",
        "_finishing",
        "_after_report",
    )

    def __init__(
        self,
        key: CallKey,
        session: CallSession | None,
        bus: Bus,
        observer: CallObserver | None = None,
        *,
        inputs: int = 0,
        last_client_seq: int = 0,
    ) -> None:
        """``session`` None is a call that has ended: every input is refused (and still
        acknowledged), as on the runner the call ended on. A call rebuilt after a restart
        goes on from its ``inputs`` processed and its ``last_client_seq``."""
        self.key = key
        #: The call's name on the bus (made once: every event is published under it).
        self._channel = key.channel
        self._session = session
        self._bus = bus
        self._observer = observer
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: int | None = None
        #: The highest client ``seq`` processed (PROTOCOL "Not losing anything").
        self.last_client_seq = last_client_seq
        #: How many inputs the engine has processed (each one told to the observer, numbered).
        self._inputs = inputs
        #: The ``seq`` of the last event published.
        self.last_event_seq = 0
        #: Rebuilt after a restart (until its client's first input since): its client may have
        #: had events the store did not keep, and may never come back.
        self.rebuilt = False
        #: Wall time of the client's last input (or of the runner's making): an idle call is
        #: cut off (``CallService.sweep``).
        self.last_input_ms = wall_ms()
        #: The stream connection writing each leg (``agent``, ``customer``) of the call: one
        #: writer per leg (PROTOCOL); made when a leg is first claimed.
        self.writers: dict[str, Writer] | None = None
        #: Why the call no longer runs here (handed to another instance), once it does not.
        self.moved: str | None = None
        self._busy = False
        #: Inputs that arrived while one was being processed: (item, seq, after, is a tick).
        self._waiting: list[tuple[Input | None, int | None, After | None, bool]] | None = None
        #: The ended call's report being made with what left its engine's memory (read from
        #: the store), and the replies (``after``) that wait for it to be sent.
        self._finishing: asyncio.Task[list[Event]] | None = None
        self._after_report: list[tuple[After, bool]] = []
        self._schedule()

    @property
    def call_id(self) -> str:
        return self.key.call_id

    @property
    def ended(self) -> bool:
        return self._session is None

    def process(
        self, item: Input | None, *, seq: int | None = None, after: After | None = None
    ) -> list[Event]:
        """Process ``item`` now (None: nothing, a barrier behind everything before) and return
        its events, already published on the bus.

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
        """:meth:`process`, for callers that await (REST): when ``item`` ends the call, its
        events include the report, made once what left memory is read back."""
        finishing = self._finishing
        events = self.process(item, seq=seq, after=after)
        if finishing is None and self._finishing is not None:
            events = events + await asyncio.shield(self._finishing)
        return events

    async def snapshot(self) -> dict[str, Any]:
        """The live state of the call (its alerts that left memory read back). Raises
        ``call_ended`` once the session is let go (the record holds the last one)."""
        alerts = self._live().left_memory[1]
        if not alerts or self._observer is None:
            return self._live().snapshot()
        earlier = await self._observer.earlier(self.key, 0, alerts)
        session = self._live()
        if session.left_memory[1] != alerts:  # more left meanwhile: read again
            return await self.snapshot()
        return session.snapshot(earlier)

    def listing(self) -> Listing:
        return Listing(*self._live().listing())

    async def close(self) -> None:
        """Stop the call's timer (the service is going away). A report still being made is
        let go: the call is not ended in the store, and is rebuilt, and ends, at the next
        start."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stop_finishing()

    def _stop_finishing(self) -> None:
        if self._finishing is not None and not self._finishing.done():
            self._finishing.cancel()

    def move(self, why: str) -> None:
        """The call runs on another instance from now on: stop its timer, let its session go,
        and displace its writers; every later input is refused with ``call_elsewhere``."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._session = None
        self._stop_finishing()
        self.moved = why
        for writer in list((self.writers or {}).values()):
            writer.displaced(why)
        self.writers = None

    def cut_off(self) -> None:
        """End the call as lost (its client never came back); see the engine's ``cut_off``.
        A call that has ended already (its report being made) is left alone."""
        if self._session is not None and not self._session.ended:
            self.process(CallEvent("cut_off"))

    def rebuilt_from(self, last_event_seq: int) -> None:
        """The call was rebuilt after a restart and its events up to ``last_event_seq`` are
        on the bus again (:func:`republish`): it goes on from there."""
        session = self._session
        assert session is not None
        self.last_event_seq = last_event_seq
        self.rebuilt = True
        if session.ended:
            self._end(session)
        elif self._observer is not None:
            self._observer.on_listing(self.key, Listing(*session.listing()))
        self._schedule()

    def _live(self) -> CallSession:
        if self._session is None:
            raise CallStateError("the call has ended", code="call_ended")
        return self._session

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
        session = self._session
        wall = wall_ms()
        try:
            if session is None:
                if item is not None and not duplicate:
                    if self.moved is not None:
                        raise CallStateError(self.moved, code="call_elsewhere")
                    raise CallStateError("the call has ended", code="call_ended")
                events = []
            elif item is None:
                events = session.on_timer(wall) if tick else []
                if session.spilled:
                    self._spill(session)
                if tick:
                    self._processed(None, wall, None)
            elif duplicate:
                events = []
            else:
                events = session.handle(item, wall)
                if session.spilled:
                    self._spill(session)
                self._processed(item, wall, seq)
        except HuashuError:
            # Refused (the call is unchanged): acknowledged all the same, or the client would
            # resend it forever.
            self._done(seq, after, duplicate)
            raise
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the call
            log.exception("call %s: the engine failed on a %s", self.call_id, type(item).__name__)
            if session is not None and (item is not None or tick):
                self._processed(item, wall, seq)  # it may have changed the call: replay it too
            self._done(seq, after, duplicate)
            self._schedule()
            raise InternalError(f"the engine failed: {exc!r}") from None
        if events:
            assert session is not None
            self._publish(session, events)
        self._done(seq, after, duplicate)
        self._schedule()
        return events

    def _processed(self, item: Input | None, wall: int, seq: int | None) -> None:
        if item is not None:
            self.last_input_ms = wall
            self.rebuilt = False
        self._inputs += 1
        if self._observer is not None:
            self._observer.on_input(self.key, self._inputs, item, wall, seq)

    def _spill(self, session: CallSession) -> None:
        lines = session.take_spilled()
        if self._observer is not None:
            self._observer.on_lines(self.key, lines)

    def _done(self, seq: int | None, after: After | None, duplicate: bool) -> None:
        if seq is not None and seq > self.last_client_seq:
            self.last_client_seq = seq
        if after is None:
            return
        if self._finishing is not None and not self._finishing.done():
            # Behind the report, as a reply is behind every event before it.
            self._after_report.append((after, duplicate))
            return
        self._reply(after, duplicate)

    def _reply(self, after: After, duplicate: bool) -> None:
        if self._observer is None:
            after(duplicate)
        else:  # an ack (or a pong) says "durable": sent once it is
            self._observer.when_durable(lambda: after(duplicate))

    def _publish(self, session: CallSession, events: list[Event]) -> None:
        bus = self._bus
        channel = self._channel
        key = self.key
        observer = self._observer
        listed = False
        for event in events:
            message = orjson.dumps(event.to_wire()).decode()
            bus.publish(channel, event.seq, message)
            self.last_event_seq = event.seq
            if observer is not None:
                observer.on_event(key, event, message)
                listed = listed or event.type in LISTED
        if session.ended:
            self._end(session)
        elif listed and observer is not None:
            observer.on_listing(key, Listing(*session.listing()))

    def _end(self, session: CallSession) -> None:
        """The call has ended (its report is published): hand what is left of it to the record
        and let the session go. A report that waits for what left memory is made first."""
        if session.report_pending:
            if self._finishing is None:
                self._finishing = asyncio.get_running_loop().create_task(
                    self._finish_report(session), name=f"huashu-report-{self.call_id}"
                )
                self._finishing.add_done_callback(self._finished)
            return
        self._session = None
        self._bus.ended(self._channel)
        if self._observer is not None:
            self._observer.on_end(
                self.key,
                Listing(*session.listing()),
                orjson.dumps(session.snapshot()),
                orjson.dumps(session.report()),
            )

    async def _finish_report(self, session: CallSession) -> list[Event]:
        """Read back what left the ended call's memory, publish its report, then the replies
        that waited for it."""
        assert self._observer is not None, "an engine with windows needs an observer"
        lines, alerts = session.left_memory
        earlier = await self._observer.earlier(self.key, lines, alerts)
        if self._session is not session:  # let go meanwhile (moved): its next owner ends it
            return []
        events = session.finish_report(earlier)
        self._busy = True
        try:
            self._publish(session, events)
            waiting, self._after_report = self._after_report, []
            for after, duplicate in waiting:
                self._reply(after, duplicate)
        finally:
            self._busy = False
            if self._waiting:
                self._run_waiting()
        return events

    def _finished(self, task: asyncio.Task[list[Event]]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("call %s: its report failed", self.call_id, exc_info=task.exception())

    def _schedule(self) -> None:
        """Arm the timer for the session's next deadline; unchanged deadlines keep their timer."""
        deadline = self._session.next_deadline() if self._session is not None else None
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
            log.warning("call %s: a timer tick failed", self.call_id)
        finally:
            self._busy = False
            if self._waiting:
                self._run_waiting()


def republish(
    bus: Bus,
    key: CallKey,
    observer: CallObserver | None,
    events: list[Event],
    stored: list[str],
) -> None:
    """After a rebuild: put the events the replay made back on the bus, telling the observer
    only of those the store did not have (``stored``: its copies of the same events, in
    order). A replayed event that differs from its stored copy is logged: the engine was not
    deterministic, or the script changed."""
    channel = key.channel
    for index, event in enumerate(events):
        message = orjson.dumps(event.to_wire()).decode()
        if index < len(stored):
            if stored[index] != message:
                log.error("call %s: replayed event %d differs", key.call_id, event.seq)
        elif observer is not None:
            observer.on_event(key, event, message)
        bus.publish(channel, event.seq, message)
