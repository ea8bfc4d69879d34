"""Subscriber: one connection's outgoing messages, sent in order by at most one sender."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from app.calls.subscriber import Subscriber

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


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


def test_a_peer_that_lets_too_much_wait_is_given_up_once() -> None:
    async def main() -> tuple[list[str], bool, int, list[str]]:
        sent: list[str] = []
        gate = asyncio.Event()

        async def send(message: str) -> None:
            await gate.wait()  # a peer that does not read: every send waits
            sent.append(message)

        overflows: list[int] = []
        subscriber = Subscriber(send, max_pending=3, on_overflow=lambda: overflows.append(1))
        for n in range(10):
            subscriber.put(str(n))
            await asyncio.sleep(0)
        dead = subscriber.dead
        gate.set()
        await subscriber.wait_sent(timeout=5)
        return sent, dead, len(overflows), subscriber.pending

    sent, dead, overflows, pending = run(main())
    # "0" was being sent (it counts as waiting) while 1 and 2 waited: 3 was one too many. What
    # was already being sent goes out; nothing more does.
    assert dead and overflows == 1 and pending == []
    assert sent == ["0"]
