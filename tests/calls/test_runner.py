"""CallRunner: one writer per call, ordered publishing on the bus, client seq dedupe, replay,
timers, and what it tells its observer.

The session is a stub so each test shows exactly what the runner does with what the engine returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import pytest

from app.bus.memory import MemoryBus
from app.calls.repository import CallKey
from app.calls.runner import CallRunner, wall_ms
from app.calls.subscriber import Subscriber
from app.engine.messages import CallSetup, Event, Fragment, Input, Listing
from app.errors import CallStateError, InternalError

T = TypeVar("T")
#: The stub session's call.
KEY = CallKey(None, "c-1")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class StubSession:
    """Echoes every input as one ``echo`` event; text ``boom`` is a bug, ``refuse`` is refused."""

    setup: CallSetup = field(default_factory=lambda: CallSetup("c-1", "s"))
    inputs: list[Input] = field(default_factory=list)
    deadline: int | None = None
    ticks: int = 0
    ended: bool = False
    seq: int = 0
    #: Keeps everything in memory: nothing leaves, no report waits.
    spilled: list[Any] = field(default_factory=list)
    report_pending: bool = False

    @property
    def key(self) -> CallKey:
        return CallKey(None, self.setup.call_id)

    def handle(self, item: Input, wall: int) -> list[Event]:
        if isinstance(item, Fragment) and item.text == "boom":
            self.seq += 1  # the engine counted an event it never returned
            raise ValueError("engine bug")
        if isinstance(item, Fragment) and item.text == "refuse":
            raise CallStateError("no", code="segment_closed")
        self.inputs.append(item)
        return [self._event("echo", {"n": len(self.inputs)})]

    def on_timer(self, wall: int) -> list[Event]:
        self.ticks += 1
        self.deadline = None
        return [self._event("tick", {})]

    def next_deadline(self) -> int | None:
        return self.deadline

    def _event(self, kind: str, body: dict[str, Any]) -> Event:
        self.seq += 1
        return Event(kind, self.seq, 0, body)


def rig(session: StubSession) -> tuple[CallRunner, MemoryBus]:
    """A runner of ``session`` publishing on a bus of its own."""
    bus = MemoryBus()
    return CallRunner(session.key, session, bus), bus  # type: ignore[arg-type]


def said(text: str) -> Fragment:
    return Fragment("agent", "a", text)


def drain(subscriber: Subscriber) -> list[dict[str, Any]]:
    return [orjson.loads(message) for message in subscriber.take()]


class TestOrder:
    def test_after_runs_behind_the_events_of_its_item(self) -> None:
        async def main() -> list[dict[str, Any]]:
            runner, bus = rig(StubSession())
            subscriber = Subscriber()
            await bus.subscribe(KEY.channel, subscriber)
            first = runner.submit(said("x"), seq=1, after=lambda dup: subscriber.reply({"ack": 1}))
            second = runner.submit(None, after=lambda dup: subscriber.reply({"pong": True}))
            await asyncio.gather(first, second)
            await runner.close()
            return drain(subscriber)

        assert run(main()) == [
            {"type": "echo", "seq": 1, "at_ms": 0, "n": 1},
            {"ack": 1},
            {"pong": True},
        ]

    def test_every_subscriber_gets_the_same_encoded_event(self) -> None:
        async def main() -> tuple[str | None, str | None]:
            runner, bus = rig(StubSession())
            a, b = Subscriber(), Subscriber()
            await bus.subscribe(KEY.channel, a)
            await bus.subscribe(KEY.channel, b)
            await runner.submit(said("x"))
            await runner.close()
            return a.take()[0], b.take()[0]

        first, second = run(main())
        assert first is second


class TestClientSeq:
    def test_a_processed_seq_is_skipped_and_reported_as_duplicate(self) -> None:
        async def main() -> tuple[list[bool], list[list[Event]], int]:
            session = StubSession()
            runner, bus = rig(session)
            duplicates: list[bool] = []
            results = [
                await runner.submit(said("x"), seq=5, after=duplicates.append),
                await runner.submit(said("x"), seq=5, after=duplicates.append),
                await runner.submit(said("y"), seq=4, after=duplicates.append),
            ]
            await runner.close()
            return duplicates, results, len(session.inputs)

        duplicates, results, processed = run(main())
        assert duplicates == [False, True, True]
        assert [len(r) for r in results] == [1, 0, 0] and processed == 1

    def test_a_refused_input_raises_and_still_counts_as_processed(self) -> None:
        async def main() -> int:
            runner, bus = rig(StubSession())
            with pytest.raises(CallStateError):
                await runner.submit(said("refuse"), seq=2)
            await runner.close()
            return runner.last_client_seq

        assert run(main()) == 2


class TestEngineFailure:
    def test_a_bug_becomes_an_internal_error_and_the_call_goes_on(self) -> None:
        async def main() -> list[Event]:
            runner, bus = rig(StubSession())
            with pytest.raises(InternalError):
                await runner.submit(said("boom"))
            events = await runner.submit(said("after"))
            await runner.close()
            return events

        assert [e.type for e in run(main())] == ["echo"]


class TestReplay:
    def test_resume_replays_by_event_seq_even_with_a_gap(self) -> None:
        async def main() -> list[int]:
            runner, bus = rig(StubSession())
            await runner.submit(said("x"))  # seq 1
            with pytest.raises(InternalError):
                await runner.submit(said("boom"))  # seq 2 lost
            await runner.submit(said("y"))  # seq 3
            await runner.submit(said("z"))  # seq 4
            late = Subscriber()
            await bus.subscribe(KEY.channel, late, after_seq=2)
            await runner.submit(said("w"))  # seq 5, live
            await runner.close()
            return [e["seq"] for e in drain(late)]

        assert run(main()) == [3, 4, 5]


class TestTime:
    def test_the_timer_fires_at_the_next_deadline(self) -> None:
        async def main() -> dict[str, Any]:
            session = StubSession()
            runner, bus = rig(session)
            subscriber = Subscriber()
            await bus.subscribe(KEY.channel, subscriber)
            session.deadline = wall_ms() + 20
            await runner.submit(said("x"))  # re-arms the timer after the item
            drain(subscriber)
            for _ in range(500):
                if subscriber.pending:
                    break
                await asyncio.sleep(0.01)
            await runner.close()
            (message,) = subscriber.take()
            return dict(orjson.loads(message))

        assert run(main())["type"] == "tick"


class TestInline:
    """Inputs are processed in the caller's turn: no task, queue or future per call."""

    def test_an_idle_call_runs_no_task_and_process_is_synchronous(self) -> None:
        async def main() -> tuple[int, list[str]]:
            before = len(asyncio.all_tasks())
            runner, bus = rig(StubSession())
            tasks = len(asyncio.all_tasks()) - before
            events = runner.process(said("x"))
            await runner.close()
            return tasks, [e.type for e in events]

        assert run(main()) == (0, ["echo"])

    def test_an_input_submitted_from_a_callback_waits_its_turn(self) -> None:
        async def main() -> list[dict[str, Any]]:
            session = StubSession()
            runner, bus = rig(session)
            subscriber = Subscriber()
            await bus.subscribe(KEY.channel, subscriber)

            def after(duplicate: bool) -> None:
                subscriber.reply({"after": 1})
                # Re-entered: queued behind this input, processed once it is done.
                assert runner.process(said("second")) == []

            runner.process(said("first"), after=after)
            await runner.close()
            return drain(subscriber)

        assert run(main()) == [
            {"type": "echo", "seq": 1, "at_ms": 0, "n": 1},
            {"after": 1},
            {"type": "echo", "seq": 2, "at_ms": 0, "n": 2},
        ]

    def test_an_unchanged_deadline_keeps_its_timer(self) -> None:
        async def main() -> bool:
            session = StubSession(deadline=wall_ms() + 60_000)
            runner, bus = rig(session)
            timer = runner._timer
            runner.process(said("x"))
            same = runner._timer is timer
            await runner.close()
            return same

        assert run(main())


@dataclass
class Observed:
    """A :class:`app.calls.runner.CallObserver` that writes down what it hears."""

    inputs: list[tuple[int, Input | None]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)
    ends: list[tuple[Listing, bytes, bytes]] = field(default_factory=list)
    #: Callbacks waiting for durability (released by the test).
    waiting: list[Callable[[], None]] = field(default_factory=list)
    durable_at_once: bool = True

    def on_input(
        self, key: CallKey, n: int, item: Input | None, wall_ms: int, seq: int | None
    ) -> None:
        self.inputs.append((n, item))

    def on_event(self, key: CallKey, event: Event, message: str) -> None:
        self.events.append(event.type)

    def when_durable(self, callback: Callable[[], None]) -> None:
        if self.durable_at_once:
            callback()
        else:
            self.waiting.append(callback)

    def on_listing(self, key: CallKey, listing: Listing) -> None:
        self.listings.append(listing)

    def on_end(self, key: CallKey, listing: Listing, snapshot: bytes, report: bytes) -> None:
        self.ends.append((listing, snapshot, report))


@dataclass
class EndingSession(StubSession):
    """Text ``alert`` raises an alert event; ``hangup`` ends the call with a report."""

    alerts: int = 0

    def handle(self, item: Input, wall: int) -> list[Event]:
        assert not self.ended
        if isinstance(item, Fragment) and item.text == "alert":
            self.alerts += 1
            return [self._event("alert", {})]
        if isinstance(item, Fragment) and item.text == "hangup":
            self.ended = True
            return [self._event("phase", {}), self._event("report", {})]
        return super().handle(item, wall)

    def listing(self) -> Listing:
        return Listing("s", 1, "consult", "ended" if self.ended else "answering", self.alerts)

    def snapshot(self) -> dict[str, Any]:
        return {"phase": "ended" if self.ended else "answering"}

    def report(self) -> dict[str, Any]:
        return {"score": 100 - 15 * self.alerts}


class TestObserver:
    def test_the_listing_is_told_only_after_events_that_change_it(self) -> None:
        async def main() -> Observed:
            observed = Observed()
            runner = CallRunner(KEY, EndingSession(), MemoryBus(), observed)  # type: ignore[arg-type]
            runner.process(said("x"))  # an echo: nothing a list shows
            runner.process(said("alert"))
            await runner.close()
            return observed

        observed = run(main())
        assert observed.events == ["echo", "alert"]
        assert observed.listings == [Listing("s", 1, "consult", "answering", 1)]

    def test_at_the_end_the_record_gets_what_is_left_and_the_session_goes(self) -> None:
        async def main() -> tuple[Observed, CallRunner, list[bool], str]:
            observed = Observed()
            session = EndingSession()
            runner = CallRunner(KEY, session, MemoryBus(), observed)  # type: ignore[arg-type]
            runner.process(said("alert"))
            runner.process(said("hangup"), seq=1)
            acked: list[bool] = []
            with pytest.raises(CallStateError) as refused:
                runner.process(said("late"), seq=2, after=acked.append)
            runner.process(said("late"), seq=1, after=acked.append)  # a duplicate: no error
            await runner.close()
            return observed, runner, acked, refused.value.code

        observed, runner, acked, code = run(main())
        ((listing, snapshot, report),) = observed.ends
        assert listing.phase == "ended" and listing.alerts == 1
        assert orjson.loads(snapshot) == {"phase": "ended"}
        assert orjson.loads(report) == {"score": 85}
        assert runner.ended and code == "call_ended"
        assert acked == [False, True] and runner.last_client_seq == 2
        with pytest.raises(CallStateError):
            run(runner.snapshot())

    def test_a_runner_without_a_session_refuses_every_input_and_answers_barriers(self) -> None:
        async def main() -> tuple[list[bool], list[Event]]:
            runner = CallRunner(KEY, None, MemoryBus())
            acked: list[bool] = []
            with pytest.raises(CallStateError):
                await runner.submit(said("x"), seq=1, after=acked.append)
            events = await runner.submit(None, seq=2, after=acked.append)  # a ping, a start
            await runner.close()
            return acked, events

        assert run(main()) == ([False, False], [])


class TestDurability:
    def test_acks_wait_for_durability_in_order_and_inputs_are_numbered(self) -> None:
        async def main() -> tuple[Observed, list[int], list[int]]:
            observed = Observed(durable_at_once=False)
            runner = CallRunner(KEY, EndingSession(), MemoryBus(), observed)  # type: ignore[arg-type]
            acked: list[int] = []
            runner.process(said("x"), seq=1, after=lambda dup: acked.append(1))
            with pytest.raises(CallStateError):
                runner.process(said("refuse"), seq=2, after=lambda dup: acked.append(2))
            runner.process(said("y"), seq=3, after=lambda dup: acked.append(3))
            before = list(acked)
            for callback in observed.waiting:
                callback()
            await runner.close()
            return observed, before, acked

        observed, before, acked = run(main())
        assert before == [] and acked == [1, 2, 3]
        # The refused input changed nothing: it is not told (a replay needs only the others).
        assert [(n, item.text if item else None) for n, item in observed.inputs] == [
            (1, "x"),
            (2, "y"),
        ]

    def test_a_timer_tick_is_an_input_too(self) -> None:
        async def main() -> list[tuple[int, Input | None]]:
            observed = Observed()
            session = EndingSession(deadline=wall_ms() + 10)
            runner = CallRunner(KEY, session, MemoryBus(), observed)  # type: ignore[arg-type]
            for _ in range(500):
                if session.ticks:
                    break
                await asyncio.sleep(0.01)
            await runner.close()
            return observed.inputs

        assert run(main()) == [(1, None)]
