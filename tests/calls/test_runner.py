"""CallRunner: one writer per call, ordered publishing, client seq dedupe, replay, timers.

The session is a stub so each test shows exactly what the runner does with what the engine returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import pytest

from app.calls.runner import CallRunner, Subscriber, wall_ms
from app.engine.messages import CallSetup, Event, Fragment, Input
from app.errors import CallStateError, InternalError

T = TypeVar("T")


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


def runner_for(session: StubSession) -> CallRunner:
    return CallRunner(session)  # type: ignore[arg-type]


def said(text: str) -> Fragment:
    return Fragment("agent", "a", text)


def drain(subscriber: Subscriber) -> list[dict[str, Any]]:
    out = []
    while not subscriber.queue.empty():
        message = subscriber.queue.get_nowait()
        assert message is not None
        out.append(orjson.loads(message))
    return out


class TestOrder:
    def test_after_runs_behind_the_events_of_its_item(self) -> None:
        async def main() -> list[dict[str, Any]]:
            runner = runner_for(StubSession())
            subscriber = Subscriber()
            runner.attach(subscriber)
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
            runner = runner_for(StubSession())
            a, b = Subscriber(), Subscriber()
            runner.attach(a)
            runner.attach(b)
            await runner.submit(said("x"))
            await runner.close()
            return a.queue.get_nowait(), b.queue.get_nowait()

        first, second = run(main())
        assert first is second


class TestClientSeq:
    def test_a_processed_seq_is_skipped_and_reported_as_duplicate(self) -> None:
        async def main() -> tuple[list[bool], list[list[Event]], int]:
            session = StubSession()
            runner = runner_for(session)
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
            runner = runner_for(StubSession())
            with pytest.raises(CallStateError):
                await runner.submit(said("refuse"), seq=2)
            await runner.close()
            return runner.last_client_seq

        assert run(main()) == 2


class TestEngineFailure:
    def test_a_bug_becomes_an_internal_error_and_the_call_goes_on(self) -> None:
        async def main() -> list[Event]:
            runner = runner_for(StubSession())
            with pytest.raises(InternalError):
                await runner.submit(said("boom"))
            events = await runner.submit(said("after"))
            await runner.close()
            return events

        assert [e.type for e in run(main())] == ["echo"]


class TestReplay:
    def test_resume_replays_by_event_seq_even_with_a_gap(self) -> None:
        async def main() -> list[int]:
            runner = runner_for(StubSession())
            await runner.submit(said("x"))  # seq 1
            with pytest.raises(InternalError):
                await runner.submit(said("boom"))  # seq 2 lost
            await runner.submit(said("y"))  # seq 3
            await runner.submit(said("z"))  # seq 4
            late = Subscriber()
            runner.attach(late, after_seq=2)
            await runner.submit(said("w"))  # seq 5, live
            await runner.close()
            return [e["seq"] for e in drain(late)]

        assert run(main()) == [3, 4, 5]


class TestTime:
    def test_the_timer_fires_at_the_next_deadline(self) -> None:
        async def main() -> dict[str, Any]:
            session = StubSession()
            runner = runner_for(session)
            subscriber = Subscriber()
            runner.attach(subscriber)
            session.deadline = wall_ms() + 20
            await runner.submit(said("x"))  # re-arms the timer after the item
            drain(subscriber)
            message = await asyncio.wait_for(subscriber.queue.get(), timeout=5)
            await runner.close()
            assert message is not None
            return dict(orjson.loads(message))

        assert run(main())["type"] == "tick"
