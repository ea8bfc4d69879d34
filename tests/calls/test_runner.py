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

    @property
    def call_id(self) -> str:
        return self.setup.call_id

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
    return [orjson.loads(message) for message in subscriber.take()]


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
            return a.take()[0], b.take()[0]

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
            runner = runner_for(StubSession())
            tasks = len(asyncio.all_tasks()) - before
            events = runner.process(said("x"))
            await runner.close()
            return tasks, [e.type for e in events]

        assert run(main()) == (0, ["echo"])

    def test_an_input_submitted_from_a_callback_waits_its_turn(self) -> None:
        async def main() -> list[dict[str, Any]]:
            session = StubSession()
            runner = runner_for(session)
            subscriber = Subscriber()
            runner.attach(subscriber)

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
            runner = runner_for(session)
            timer = runner._timer
            runner.process(said("x"))
            same = runner._timer is timer
            await runner.close()
            return same

        assert run(main())


class TestSubscriber:
    def test_a_put_starts_one_sender_that_sends_in_order_and_ends(self) -> None:
        async def main() -> tuple[list[str], int]:
            sent: list[str] = []

            async def send(message: str) -> None:
                await asyncio.sleep(0)  # a send that yields, as a socket's may
                sent.append(message)

            subscriber = Subscriber(send)
            before = len(asyncio.all_tasks())
            for n in range(5):
                subscriber.put(str(n))
            started = len(asyncio.all_tasks()) - before
            await subscriber.wait_sent(timeout=5)
            subscriber.put("5")  # a new sender, after the first ended
            await subscriber.wait_sent(timeout=5)
            return sent, started

        sent, started = run(main())
        assert sent == ["0", "1", "2", "3", "4", "5"] and started == 1

    def test_a_holder_sends_inline_and_what_comes_meanwhile_follows(self) -> None:
        async def main() -> tuple[list[str], int]:
            sent: list[str] = []
            subscriber = Subscriber()

            async def send(message: str) -> None:
                if message == "a":
                    subscriber.put("c")  # e.g. a timer's event while the holder sends
                await asyncio.sleep(0)
                sent.append(message)

            subscriber = Subscriber(send)
            before = len(asyncio.all_tasks())
            assert subscriber.hold()
            subscriber.put("a")
            subscriber.put("b")
            tasks = len(asyncio.all_tasks()) - before
            assert not subscriber.hold()  # one sender at a time
            await subscriber.release()
            return sent, tasks

        assert run(main()) == (["a", "b", "c"], 0)

    def test_a_failed_send_drops_the_rest(self) -> None:
        async def main() -> tuple[bool, list[str]]:
            async def send(message: str) -> None:
                raise OSError("peer gone")

            subscriber = Subscriber(send)
            subscriber.put("a")
            subscriber.put("b")
            await subscriber.wait_sent(timeout=5)
            subscriber.put("c")
            return subscriber.dead, subscriber.pending

        assert run(main()) == (True, [])

    def test_unhold_gives_the_role_back_only_with_nothing_pending(self) -> None:
        async def main() -> list[str]:
            sent: list[str] = []

            async def send(message: str) -> None:
                sent.append(message)

            subscriber = Subscriber(send)
            assert subscriber.hold()
            subscriber.unhold()
            assert subscriber.hold()
            subscriber.put("a")
            with pytest.raises(RuntimeError):
                subscriber.unhold()
            await subscriber.release()
            return sent

        assert run(main()) == ["a"]
