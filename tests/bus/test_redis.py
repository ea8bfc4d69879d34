"""The Redis bus between instances: two buses on one real Redis, as two instances are."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.bus.redis import APPEND_RUN, RedisBus
from app.calls.subscriber import Subscriber
from tests.bus.test_bus import message, run
from tests.redis import REDIS, prefix


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def pair() -> tuple[RedisBus, RedisBus, str]:
    keys = prefix()
    return RedisBus(REDIS, prefix=keys), RedisBus(REDIS, prefix=keys), keys


async def followed_elsewhere(a: RedisBus, b: RedisBus) -> Subscriber:
    """Call ``c``, published by ``a`` (its first event in Redis), followed on ``b`` from its
    start: ``b``'s subscriber."""
    there = Subscriber()
    a.publish("c", 1, message(1))
    await a.flush()
    await b.subscribe("c", there, after_seq=0)
    return there


async def close(*buses: RedisBus) -> None:
    for bus in buses:
        await bus.close()


def test_events_published_on_one_instance_reach_the_others_subscribers_in_order() -> None:
    async def main() -> tuple[list[str], list[str]]:
        a, b, _ = pair()
        here, there = Subscriber(), Subscriber()
        await a.subscribe("c", here)
        a.publish("c", 1, message(1))  # a publishes the call: it is a's
        await a.flush()  # "from now on", elsewhere, is from what Redis has
        await b.subscribe("c", there)
        for seq in range(2, 41):
            a.publish("c", seq, message(seq))
        await until(lambda: len(there.pending) == 39)
        await close(a, b)
        return here.take(), there.take()

    here, there = run(main())
    assert here == [message(seq) for seq in range(1, 41)]
    assert there == [message(seq) for seq in range(2, 41)]  # from its subscription on


def test_a_subscriber_elsewhere_resumes_from_a_seq_with_nothing_lost_or_repeated() -> None:
    async def main() -> list[str]:
        a, b, _ = pair()
        for seq in range(1, 11):
            a.publish("c", seq, message(seq))
        await a.flush()
        late = Subscriber()
        publishing = asyncio.get_running_loop().create_task(publish_slowly(a, 11, 30))
        await b.subscribe("c", late, after_seq=4)
        await publishing
        await until(lambda: late.pending[-1:] == [message(30)])
        await close(a, b)
        return late.take()

    assert run(main()) == [message(seq) for seq in range(5, 31)]


async def publish_slowly(bus: RedisBus, first: int, last: int) -> None:
    for seq in range(first, last + 1):
        bus.publish("c", seq, message(seq))
        await asyncio.sleep(0.001)


def test_a_call_taken_over_publishes_again_and_every_subscriber_gets_each_seq_once() -> None:
    """The old owner published 1-6 and died; the new one rebuilds the call and publishes 1-6
    again (the same events, re-derived), then 7-8. A subscriber on a third instance and the
    stream itself hold each seq once."""

    async def main() -> tuple[list[str], list[str], list[int]]:
        keys = prefix()
        old, new, third = (RedisBus(REDIS, prefix=keys) for _ in range(3))
        watcher = Subscriber()
        old.publish("c", 1, message(1))
        await third.subscribe("c", watcher, after_seq=0)
        for seq in range(2, 7):
            old.publish("c", seq, message(seq))
        await old.flush()
        await until(lambda: len(watcher.pending) == 6)
        new.own("c")
        for seq in range(1, 9):
            new.publish("c", seq, message(seq))
        await new.flush()
        await until(lambda: len(watcher.pending) == 8)
        replayed = await third.replay("c")
        redis = Redis.from_url(REDIS)
        ids = [
            int(entry_id.split(b"-")[1]) for entry_id, _ in await redis.xrange(keys + "stream:c")
        ]
        await redis.aclose()
        await close(old, new, third)
        return watcher.take(), replayed, ids

    watched, replayed, ids = run(main())
    assert watched == replayed == [message(seq) for seq in range(1, 9)]
    assert ids == list(range(1, 9))


def test_an_owner_whose_lease_was_taken_over_is_refused() -> None:
    """The fencing token: once the call's fence is another holder's, the old holder's
    appends do not reach the stream."""

    async def main() -> list[str]:
        keys = prefix()
        redis = Redis.from_url(REDIS)
        await redis.set(keys + "fence:c", "1")
        zombie, owner, reader = (RedisBus(REDIS, prefix=keys) for _ in range(3))
        zombie.own("c", "1")
        zombie.publish("c", 1, message(1))
        await zombie.flush()
        await redis.set(keys + "fence:c", "2")  # another instance took the call over
        owner.own("c", "2")
        zombie.publish("c", 2, "stale")
        await zombie.flush()
        owner.publish("c", 2, message(2))
        await owner.flush()
        replayed = await reader.replay("c")
        await redis.aclose()
        await close(zombie, owner, reader)
        return replayed

    assert run(main()) == [message(1), message(2)]


def test_appends_go_in_runs_across_calls_with_ends_between_and_a_fenced_call_among_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A writer's batch holds many calls' events, longer than one script call's run, a call's
    end in the middle, an event published twice and a call whose lease was taken over: each
    call's stream gets its own events once and in order, the fenced call's none, the ended
    call's stream expires, and the refusal is logged."""

    async def main() -> tuple[dict[str, list[str]], int]:
        keys = prefix()
        redis = Redis.from_url(REDIS)
        await redis.set(keys + "fence:lost", "2")  # another instance holds it now
        bus, reader = RedisBus(REDIS, prefix=keys), RedisBus(REDIS, prefix=keys)
        calls = ["a", "b", "lost", "ends"]
        for call in calls:
            bus.own(call, "1")
        for seq in range(1, APPEND_RUN + 40):
            for call in calls:
                bus.publish(call, seq, f"{call}{seq}")
            if seq == 10:
                bus.publish("a", 10, "a10")  # published again: once in the stream
                bus.ended("ends")
                calls.remove("ends")
        await bus.flush()
        replayed = {call: await reader.replay(call) for call in ("a", "b", "lost", "ends")}
        ttl = await redis.ttl(keys + "stream:ends")
        await redis.aclose()
        await close(bus, reader)
        return replayed, ttl

    with caplog.at_level(logging.ERROR, logger="app.bus.redis"):
        replayed, ttl = run(main())
    everything = range(1, APPEND_RUN + 40)
    assert replayed["a"] == [f"a{seq}" for seq in everything]
    assert replayed["b"] == [f"b{seq}" for seq in everything]
    assert replayed["lost"] == []
    assert replayed["ends"] == [f"ends{seq}" for seq in range(1, 11)]
    assert 0 < ttl <= 600
    assert "lost a call's lease" in caplog.text


def test_subscribers_follow_a_call_handed_to_another_instance() -> None:
    async def main() -> list[str]:
        a, b, _ = pair()
        supervisor = Subscriber()  # connected to a, which runs the call
        a.publish("c", 1, message(1))
        await a.subscribe("c", supervisor)
        a.publish("c", 2, message(2))
        await a.flush()
        a.release("c")  # handed to b
        b.own("c")
        for seq in (3, 4, 5):
            b.publish("c", seq, message(seq))
        await until(lambda: len(supervisor.pending) == 4)
        await close(a, b)
        return supervisor.take()

    assert run(main()) == [message(seq) for seq in range(2, 6)]


def test_a_stuck_subscriber_elsewhere_slows_neither_publishing_nor_the_others() -> None:
    async def main() -> tuple[int, int, float]:
        a, b, _ = pair()
        a.publish("c", 1, message(1))
        await a.flush()
        stuck, reader = Subscriber(), Subscriber()  # stuck: nobody ever sends its events
        await b.subscribe("c", stuck)
        await b.subscribe("c", reader)
        started = asyncio.get_running_loop().time()
        for seq in range(2, 2002):
            a.publish("c", seq, message(seq))
        published = asyncio.get_running_loop().time() - started
        await until(lambda: len(reader.pending) == 2000, timeout=10)
        await close(a, b)
        return len(stuck.pending), len(reader.pending), published

    stuck, reader, published = run(main())
    assert reader == 2000 and stuck == 2000  # bounded by the connection, not the bus
    assert published < 1.0  # publishing never waited on Redis or on a reader


def test_an_ended_calls_stream_expires() -> None:
    async def main() -> int:
        keys = prefix()
        bus = RedisBus(REDIS, prefix=keys, ended_ttl_s=30)
        bus.publish("c", 1, message(1))
        bus.ended("c")
        await bus.flush()
        redis = Redis.from_url(REDIS)
        ttl = int(await redis.ttl(keys + "stream:c"))
        await redis.aclose()
        await bus.close()
        return ttl

    assert 0 < run(main()) <= 30


def test_redis_down_loses_nothing_published_once_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Appends wait (publishing does not) while Redis cannot be reached, and go once it can:
    a real Redis server of the test's own, started only after the events were published. The
    writer waits between tries (it does not die and start again at each publish)."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"

    async def main() -> list[str]:
        bus = RedisBus(url, prefix="t:")
        for seq in (1, 2, 3):
            bus.publish("c", seq, message(seq))
        await asyncio.sleep(0.3)  # the writer has tried, and failed, by now
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(bus.flush(), 10)
            reader = RedisBus(url, prefix="t:")
            replayed = await reader.replay("c")
            await close(bus, reader)
        finally:
            server.terminate()
            server.wait()
        return replayed

    with caplog.at_level(logging.WARNING, logger="app.bus.redis"):
        assert run(main()) == [message(seq) for seq in (1, 2, 3)]
    assert "Redis write failed" in caplog.text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_redis_that_lost_its_scripts_gets_every_append_all_the_same() -> None:
    """Appends send the whole script (``EVAL``), so a Redis that lost its scripts (restarted,
    or SCRIPT FLUSH) runs them all the same, each event once."""

    async def main() -> list[str]:
        a, b, _ = pair()
        there = await followed_elsewhere(a, b)
        redis = Redis.from_url(REDIS)
        await redis.script_flush()
        await redis.aclose()
        for seq in range(2, 21):
            a.publish("c", seq, message(seq))
        await until(lambda: len(there.pending) == 20)
        await close(a, b)
        return there.take()

    assert run(main()) == [message(seq) for seq in range(1, 21)]


async def kill_listening(keys: str) -> None:
    """Cut the listening connection of the buses under ``keys`` from Redis's side, as a
    network failure or Redis's output limit for a slow pub/sub client would."""
    await kill(f"{keys}bus-listen", "pubsub")


async def kill(name: str, kind: str = "normal") -> None:
    """Cut every connection to Redis named ``name`` (once there is one: it may be being made
    again after the last cut)."""
    redis = Redis.from_url(REDIS)
    ids: list[str] = []

    async def named() -> bool:
        clients = await redis.client_list(_type=kind)
        ids[:] = [client["id"] for client in clients if client["name"] == name]
        return bool(ids)

    deadline = asyncio.get_running_loop().time() + 5
    while not await named():
        assert asyncio.get_running_loop().time() < deadline, f"no connection {name} to cut"
        await asyncio.sleep(0.005)
    for client_id in ids:
        await redis.client_kill_filter(_id=client_id)
    await redis.aclose()


def test_events_pushed_while_the_listening_connection_was_cut_are_read_from_the_stream() -> None:
    """Pub/sub drops what is pushed while a connection is down: the follower reads it from
    the stream once it listens again, each event once and in order — the last one too, though
    nothing comes after it to show that it was missed."""

    async def main() -> tuple[list[str], list[str]]:
        a, b, keys = pair()
        there = await followed_elsewhere(a, b)
        for seq in range(2, 31):
            a.publish("c", seq, message(seq))
            if seq == 15:
                await until(lambda: len(there.pending) == 15)
                await kill_listening(keys)
            await asyncio.sleep(0.002)
        await until(lambda: len(there.pending) == 30)
        first = there.take()
        await kill_listening(keys)
        a.publish("c", 31, message(31))  # the last for a while: no later seq shows the gap
        await until(lambda: len(there.pending) == 1)
        await close(a, b)
        return first, there.take()

    first, last = run(main())
    assert first == [message(seq) for seq in range(1, 31)]
    assert last == [message(31)]


def test_a_call_followed_again_misses_nothing_pushed_in_between() -> None:
    """Its last subscriber leaves (the channel is dropped), events come, and a new subscriber
    comes from a seq: it gets what the stream has after that seq, then the rest as pushed,
    each once."""

    async def main() -> list[str]:
        a, b, _ = pair()
        a.publish("c", 1, message(1))
        await a.flush()
        first, second = Subscriber(), Subscriber()
        await b.subscribe("c", first, after_seq=0)
        await until(lambda: len(first.pending) == 1)
        b.unsubscribe("c", first)
        for seq in range(2, 6):
            a.publish("c", seq, message(seq))
        await a.flush()
        await b.subscribe("c", second, after_seq=3)
        a.publish("c", 6, message(6))
        await until(lambda: len(second.pending) == 3)
        await asyncio.sleep(0.1)  # nothing more, nothing twice
        await close(a, b)
        return second.take()

    assert run(main()) == [message(seq) for seq in (4, 5, 6)]


def test_appends_cut_on_their_way_are_sent_again_each_once_and_in_order() -> None:
    """The writer sends without waiting for answers: when its connection is cut, Redis has run
    some prefix of what was sent. What was not answered is sent again on a new connection, so
    the stream and a follower elsewhere get every event once, in order."""

    async def main() -> tuple[list[str], list[str]]:
        a, b, keys = pair()
        there = await followed_elsewhere(a, b)
        for seq in range(2, 601):
            a.publish("c", seq, message(seq))
            if seq % 150 == 0:
                await asyncio.sleep(0)  # the writer has sent some and not heard back
                await kill(f"{keys}bus-append")
            elif seq % 10 == 0:
                await asyncio.sleep(0.001)
        await a.flush(timeout=10)
        await until(lambda: len(there.pending) == 600, timeout=10)
        await asyncio.sleep(0.1)  # nothing more, nothing twice
        replayed = await b.replay("c")
        await close(a, b)
        return replayed, there.take()

    replayed, followed = run(main())
    assert replayed == [message(seq) for seq in range(1, 601)]
    assert followed == replayed


def test_appends_redis_had_not_run_when_the_connection_was_cut_are_sent_again() -> None:
    """Redis holds the writer's commands unrun (``CLIENT PAUSE … WRITE``) when its connection
    is cut: nothing of them reached the stream, and all of them are sent again."""

    async def main() -> list[str]:
        a, b, keys = pair()
        for seq in range(1, 51):
            a.publish("c", seq, message(seq))
        await a.flush()
        redis = Redis.from_url(REDIS)
        await redis.execute_command("CLIENT", "PAUSE", 2000, "WRITE")
        try:
            for seq in range(51, 101):
                a.publish("c", seq, message(seq))
            await asyncio.sleep(0.05)  # sent, and held by Redis
            assert await b.replay("c") == [message(seq) for seq in range(1, 51)]
            await kill(f"{keys}bus-append")
        finally:
            await redis.execute_command("CLIENT", "UNPAUSE")
            await redis.aclose()
        await a.flush(timeout=10)
        replayed = await b.replay("c")
        await close(a, b)
        return replayed

    assert run(main()) == [message(seq) for seq in range(1, 101)]


def test_an_instance_too_slow_for_what_is_pushed_is_cut_off_by_redis_and_loses_nothing() -> None:
    """The follower's loop stalls while another instance publishes more than Redis lets wait
    for a pub/sub client (its output limit, lowered for the test): Redis cuts the follower's
    connection; it listens again and reads the rest from the stream, each event once."""
    big = "长" * 2000  # ~6 KB an event: 100 events are well over the 64 KB limit
    published = threading.Event()

    def publish_elsewhere(keys: str) -> None:
        async def main() -> None:
            a = RedisBus(REDIS, prefix=keys)
            for seq in range(2, 102):
                a.publish("c", seq, message(seq) + big)
            await a.flush(timeout=10)
            await a.close()

        asyncio.run(main())
        published.set()

    async def main() -> list[str]:
        keys = prefix()
        a, b = RedisBus(REDIS, prefix=keys), RedisBus(REDIS, prefix=keys)
        there = Subscriber()
        a.publish("c", 1, message(1))
        await a.flush()
        await a.close()
        await b.subscribe("c", there, after_seq=0)
        await until(lambda: len(there.pending) == 1)
        redis = Redis.from_url(REDIS)
        limit = (await redis.config_get("client-output-buffer-limit"))["client-output-buffer-limit"]
        await redis.config_set("client-output-buffer-limit", "pubsub 64kb 64kb 0")
        try:
            writer = threading.Thread(target=publish_elsewhere, args=(keys,))
            writer.start()
            time.sleep(2)  # this instance's loop is stuck: nothing pushed to it is read
            writer.join()
        finally:
            await redis.config_set("client-output-buffer-limit", limit)
            await redis.aclose()
        assert published.is_set()
        await until(lambda: len(there.pending) == 101, timeout=10)
        await asyncio.sleep(0.1)  # nothing more, nothing twice
        await close(b)
        return there.take()

    assert run(main()) == [message(1)] + [message(seq) + "长" * 2000 for seq in range(2, 102)]


def test_a_message_on_a_calls_channel_that_is_no_event_is_not_handed_on() -> None:
    """Anyone who can reach Redis can publish on a call's channel: what is not the script's
    push is not handed to subscribers, and the reading goes on, each event once."""

    async def main() -> list[str]:
        a, b, keys = pair()
        there = await followed_elsewhere(a, b)
        await until(lambda: len(there.pending) == 1)
        redis = Redis.from_url(REDIS)
        for garbage in (b"", b"x", b"-1 no", b"99999999999999999999999 big", "二 句".encode()):
            await redis.publish(f"{keys}live:c", garbage)
        await redis.aclose()
        for seq in range(2, 6):
            a.publish("c", seq, message(seq))
        await until(lambda: len(there.pending) == 5)
        await asyncio.sleep(0.1)  # nothing more, nothing twice
        await close(a, b)
        return there.take()

    assert run(main()) == [message(seq) for seq in range(1, 6)]
