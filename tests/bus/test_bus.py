"""The bus contract, one test body for every backend: the in-process one, and Redis Streams on
the machine's real Redis (``HUASHU_TEST_REDIS_URL``; each test under keys of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from app.bus import Bus
from app.bus.memory import MemoryBus
from app.bus.redis import RedisBus
from app.calls.subscriber import Subscriber
from tests.redis import REDIS, prefix

T = TypeVar("T")

BACKENDS: dict[str, Callable[[], Bus]] = {
    "memory": MemoryBus,
    "redis": lambda: RedisBus(REDIS, prefix=prefix()),
}


@pytest.fixture(params=sorted(BACKENDS))
def make(request: pytest.FixtureRequest) -> Callable[[], Bus]:
    factory: Callable[[], Bus] = BACKENDS[request.param]
    return factory


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def message(seq: int) -> str:
    return f'{{"type":"echo","seq":{seq},"text":"第{seq}句"}}'


def test_every_subscriber_gets_every_event_in_order(make: Callable[[], Bus]) -> None:
    async def main() -> tuple[list[str], list[str]]:
        bus = make()
        a, b = Subscriber(), Subscriber()
        await bus.subscribe("c", a)
        await bus.subscribe("c", b)
        for seq in range(1, 6):
            bus.publish("c", seq, message(seq))
        await bus.close()
        return a.take(), b.take()

    a, b = run(main())
    assert a == b == [message(seq) for seq in range(1, 6)]


def test_calls_are_apart(make: Callable[[], Bus]) -> None:
    async def main() -> list[str]:
        bus = make()
        mine = Subscriber()
        await bus.subscribe("mine", mine)
        bus.publish("other", 1, message(1))
        bus.publish("mine", 1, message(7))
        await bus.close()
        return mine.take()

    assert run(main()) == [message(7)]


@pytest.mark.parametrize(("after", "expected"), [(None, [5]), (0, [1, 2, 4, 5]), (2, [4, 5])])
def test_subscribe_from_a_seq_replays_then_follows_with_nothing_lost_or_repeated(
    make: Callable[[], Bus], after: int | None, expected: list[int]
) -> None:
    async def main() -> list[str]:
        bus = make()
        for seq in (1, 2, 4):  # a gap: seq 3 was never published
            bus.publish("c", seq, message(seq))
        late = Subscriber()
        await bus.subscribe("c", late, after)
        bus.publish("c", 5, message(5))
        await bus.close()
        return late.take()

    assert run(main()) == [message(seq) for seq in expected]


def test_replay_and_unsubscribe(make: Callable[[], Bus]) -> None:
    async def main() -> tuple[list[str], list[str], list[str]]:
        bus = make()
        gone = Subscriber()
        await bus.subscribe("c", gone)
        bus.unsubscribe("c", gone)
        bus.unsubscribe("c", Subscriber())  # never subscribed: ignored
        bus.unsubscribe("nobody", gone)
        for seq in (1, 2, 3):
            bus.publish("c", seq, message(seq))
        replayed = await bus.replay("c", 1), await bus.replay("unknown")
        await bus.close()
        return gone.take(), *replayed

    assert run(main()) == ([], [message(2), message(3)], [])


def test_a_subscriber_that_never_reads_does_not_stop_the_others(make: Callable[[], Bus]) -> None:
    async def main() -> list[str]:
        bus = make()
        stuck = Subscriber()  # no sender: what it is given piles up, nothing waits on it
        reader = Subscriber()
        await bus.subscribe("c", stuck)
        await bus.subscribe("c", reader)
        for seq in range(1, 101):
            bus.publish("c", seq, message(seq))
        await bus.close()
        return reader.take()

    assert len(run(main())) == 100


def test_ended_calls_events_are_kept_for_the_last_ended_only() -> None:
    async def main() -> list[list[str]]:
        bus = MemoryBus(keep_ended=1)
        for call in ("a", "b", "live"):
            bus.publish(call, 1, message(1))
        bus.ended("a")
        bus.ended("b")  # a is let go: b is the one ended call kept
        return [await bus.replay(call) for call in ("a", "b", "live")]

    assert run(main()) == [[], [message(1)], [message(1)]]


def test_an_event_published_again_is_not_handed_twice(make: Callable[[], Bus]) -> None:
    """A call rebuilt after a restart publishes again events its client may have had: a
    subscriber that resumed after them, or already got them, does not get them twice."""

    async def main() -> tuple[list[str], list[str]]:
        bus = make()
        live = Subscriber()
        await bus.subscribe("c", live)
        bus.publish("c", 1, message(1))
        bus.publish("c", 2, message(2))
        resumed = Subscriber()
        await bus.subscribe("c", resumed, after_seq=5)  # had up to 5 before the restart
        for seq in (1, 2, 3, 4, 5, 6):  # the rebuilt call's events, again, then a new one
            bus.publish("c", seq, message(seq))
        await bus.close()
        return live.take(), resumed.take()

    live, resumed = run(main())
    assert live == [message(seq) for seq in (1, 2, 3, 4, 5, 6)]
    assert resumed == [message(6)]


def test_a_window_keeps_a_live_calls_last_events_only() -> None:
    async def main() -> tuple[list[str], int | None, int | None]:
        bus = MemoryBus(keep_ended=0, window=3)
        for seq in range(1, 11):
            bus.publish("c", seq, message(seq))
        held = await bus.replay("c")
        oldest = await bus.oldest("c")
        bus.ended("c")  # ended: with keep_ended 0, let go at once
        return held, oldest, await bus.oldest("c")

    held, oldest, after_end = run(main())
    # Trimmed to the last 3 when 7 were held; 8-10 came after: between 3 and 6 are kept.
    assert held == [message(seq) for seq in range(5, 11)] and oldest == 5
    assert after_end is None


def test_a_sink_may_unsubscribe_itself_or_another_as_it_is_given_an_event(
    make: Callable[[], Bus],
) -> None:
    """A listener found too slow is unsubscribed from inside its own put: the publish that
    found it goes on to the others, and nobody unsubscribed is given the event."""

    async def main() -> tuple[list[str], list[str], list[str]]:
        bus = make()
        first, second, third = Subscriber(), Subscriber(), Subscriber()

        class Quitting(Subscriber):
            def put(self, message: str) -> None:
                super().put(message)
                bus.unsubscribe("c", self)
                bus.unsubscribe("c", third)

        quitting = Quitting()
        for sink in (first, quitting, second, third):
            await bus.subscribe("c", sink)
        bus.publish("c", 1, message(1))
        bus.publish("c", 2, message(2))
        await bus.close()
        return first.take() + ["|"] + second.take(), quitting.take(), third.take()

    both, quitting, third = run(main())
    assert both == [message(1), message(2), "|", message(1), message(2)]
    assert quitting == [message(1)] and third == []
