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


class TestReleaseNow:
    """``release_now``: a holder writes what is pending at once, through a writer that may
    refuse (the socket is full); what it refuses is sent by a sender task, in order."""

    def test_everything_written_at_once_starts_no_task_and_frees_the_role(self) -> None:
        async def main() -> tuple[list[str], int, bool]:
            written: list[str] = []

            async def send(message: str) -> None:
                raise AssertionError("nothing should go the slow way")

            subscriber = Subscriber(send)
            before = len(asyncio.all_tasks())
            assert subscriber.hold()
            subscriber.put("a")
            subscriber.put("b")
            subscriber.release_now(lambda m: written.append(m) is None)
            return written, len(asyncio.all_tasks()) - before, subscriber.busy

        written, tasks, busy = run(main())
        assert written == ["a", "b"] and tasks == 0 and not busy

    def test_what_the_writer_refuses_follows_in_order_and_keeps_the_role_meanwhile(
        self,
    ) -> None:
        async def main() -> tuple[list[str], list[str], bool, bool]:
            written: list[str] = []
            sent: list[str] = []

            async def send(message: str) -> None:
                await asyncio.sleep(0)
                sent.append(message)

            def write(message: str) -> bool:
                if message == "b":  # the socket is full from here on
                    return False
                written.append(message)
                return True

            subscriber = Subscriber(send)
            assert subscriber.hold()
            for m in ("a", "b", "c"):
                subscriber.put(m)
            subscriber.release_now(write)
            busy_meanwhile = subscriber.busy
            subscriber.put("d")  # behind what waits
            await subscriber.wait_sent(timeout=5)
            return written, sent, busy_meanwhile, subscriber.busy

        written, sent, busy_meanwhile, busy_after = run(main())
        assert written == ["a"] and sent == ["b", "c", "d"]
        assert busy_meanwhile and not busy_after

    def test_a_dead_subscriber_writes_nothing(self) -> None:
        async def main() -> list[str]:
            written: list[str] = []
            subscriber = Subscriber(None, max_pending=1)
            assert subscriber.hold()
            subscriber.put("a")
            subscriber.put("b")  # one past the bound: dead, what waited dropped
            subscriber.release_now(lambda m: written.append(m) is None)
            assert not subscriber.busy and subscriber.pending == []
            return written

        assert run(main()) == []
