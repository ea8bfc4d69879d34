"""Two real instances on loopback sharing the machine's Redis and PostgreSQL: a call ingested
on one and watched from the other survives the death (SIGKILL) or the stop (SIGTERM) of the
instance running it; a stuck listener slows nobody."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.databases import postgres_database
from tests.e2e.client import CallClient, agent, customer
from tests.e2e.conftest import KEY_A, Server
from tests.e2e.test_hostile import _silent_listener
from tests.e2e.test_recovery import ANSWERED, HANGUP, START, Seen, numbered
from tests.redis import REDIS, prefix

#: A dead instance's calls are taken over this long after its last renewal at most.
LEASE_TTL_S = 1.5


@pytest.fixture
def shared() -> Iterator[dict[str, str]]:
    """What two instances share: a PostgreSQL database of the test's own, and Redis keys of
    its own."""
    for url in postgres_database():
        yield {
            "HUASHU_DATABASE_URL": url,
            "HUASHU_REDIS_URL": REDIS,
            "HUASHU_REDIS_PREFIX": prefix(),
            "HUASHU_LEASE_TTL_S": str(LEASE_TTL_S),
        }


def instances(tmp_path: Path, env: dict[str, str]) -> tuple[Server, Server]:
    a = Server(tmp_path / "a.log", env=env)
    a.wait_ready()  # one after the other: the first makes the database
    b = Server(tmp_path / "b.log", env=env)
    b.wait_ready()
    return a, b


class Watcher:
    """A supervisor's connection, read by a thread of its own: every event, each at most once
    (``Seen`` refuses a repeat), until the report."""

    def __init__(self, base: str, call_id: str) -> None:
        self.client = CallClient(base, call_id, KEY_A)
        self.seen = Seen()
        self.failure: BaseException | None = None
        self.client.send({"type": "resume", "last_event_seq": 0})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                event = self.client.recv(timeout=60)
                self.seen.take([event])
                if event["type"] == "report":
                    return
        except (ConnectionClosed, TimeoutError) as exc:
            self.failure = exc
        except AssertionError as exc:  # an event twice
            self.failure = exc

    def wait_report(self, timeout: float = 30) -> Seen:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the watcher never had the report"
        assert self.failure is None, self.failure
        self.client.__exit__()
        return self.seen


BEFORE = [
    START,
    ANSWERED,
    agent("a1", "上午好，中国移动，很高兴为您服务", 2500),
    customer("c1", "我想问一下我这个月的流量还剩多少", 5000),
    agent("a2", "这个真不关我的事", 7000),
]
AFTER = [
    agent("a3", "真的不关我的事，您这个月还剩三个G的流量", 10000),
    customer("c2", "好的，没有了，谢谢", 12000),
    agent("a4", "请问我刚才给您的解释您明白吗？", 13000),
    customer("c3", "明白了", 15000),
    agent("a5", "请稍候为我的服务进行评价", 16000),
    agent("a6", "感谢您使用中国移动，祝您工作顺利，王先生，再见", 18000),
    HANGUP,
]


def check_complete(seen: Seen, watched: Seen) -> None:
    """Both clients had every event from 1 to the report, each once; the same events; every
    alert once; the report has the whole call."""
    last = seen.last
    assert sorted(seen.events) == list(range(1, last + 1))
    assert sorted(watched.events) == list(range(1, last + 1))
    assert [seen.events[n]["type"] for n in seen.events] == [
        watched.events[n]["type"] for n in seen.events
    ]
    report = seen.events[last]
    assert report["type"] == "report" and watched.events[last] == report
    alerts = [e for e in seen.events.values() if e["type"] == "alert"]
    assert len({a["id"] for a in alerts}) == len(alerts)
    shirk = [a for a in report["alerts"] if a["rule"] == "forbidden.shirk"]
    assert [(a["segment"], a["state"]) for a in shirk] == [("a2", "confirmed"), ("a3", "confirmed")]
    # Every final segment the clients sent, once, in order (the partial in flight became a3).
    said = [m["segment"] for m in BEFORE + AFTER if m["type"] == "fragment" and m["final"]]
    assert [line["segment"] for line in report["transcript"]] == said
    assert report["missed"] == [] and not report.get("cut_off")


def resume_and_finish(base: str, call_id: str, seen: Seen, sent: list[dict[str, Any]]) -> None:
    """Reconnect, ``resume`` after the last event had, send again what was not acknowledged,
    then the rest of the call."""
    with CallClient(base, call_id, KEY_A) as client:
        seen.take(client.play({"type": "resume", "last_event_seq": seen.last}))
        unacknowledged = [m for m in sent if m["seq"] not in seen.acked]
        after = numbered(AFTER, first=len(sent) + 1)
        seen.take(client.play(*unacknowledged, *after))
        assert seen.acked == set(range(1, len(sent) + len(after) + 1))


def test_the_instance_running_a_call_dies_and_the_call_goes_on_on_the_other(
    shared: dict[str, str], tmp_path: Path
) -> None:
    a, b = instances(tmp_path, shared)
    call_id = "across-1"
    seen = Seen()
    before = numbered(BEFORE, first=1)
    in_flight = numbered([agent("a3", "真的不关我的事", 9000, final=False)], first=6)
    try:
        with CallClient(a.base, call_id, KEY_A) as ingest:
            seen.take(ingest.play(*before[:2]))
            watcher = Watcher(b.base, call_id)  # the supervisor, on the other instance
            seen.take(ingest.play(*before[2:]))
            # A partial in flight, in the middle of a segment, when the instance dies.
            ingest.send(in_flight[0])
            a.process.kill()
            a.process.wait()
        resume_and_finish(b.base, call_id, seen, before + in_flight)
        watched = watcher.wait_report()
    finally:
        a.stop()
        b.stop()
    check_complete(seen, watched)
    assert "taken over from another instance" in b.log
    for server in (a, b):
        assert "流量还剩多少" not in server.log


def test_an_instance_stopped_with_sigterm_hands_its_calls_off(
    shared: dict[str, str], tmp_path: Path
) -> None:
    a, b = instances(tmp_path, shared)
    call_id = "across-2"
    seen = Seen()
    before = numbered(BEFORE, first=1)
    try:
        with CallClient(a.base, call_id, KEY_A) as ingest:
            seen.take(ingest.play(*before[:2]))
            watcher = Watcher(b.base, call_id)
            seen.take(ingest.play(*before[2:]))
            a.process.terminate()  # SIGTERM: a rolling deploy
            closed = None
            try:
                while True:
                    seen.take([ingest.recv(timeout=10)])
            except ConnectionClosed as exc:
                closed = exc.rcvd
            assert closed is not None and closed.code == 1012
        # uvicorn shuts down, then ends with the signal it caught, as its default handler would.
        assert a.wait_exit(timeout=30) in (0, -signal.SIGTERM)
        assert "1 calls handed off" in a.log and "Application shutdown complete" in a.log
        resume_and_finish(b.base, call_id, seen, before)
        watched = watcher.wait_report()
    finally:
        a.stop()
        b.stop()
    check_complete(seen, watched)


def test_a_listener_that_stops_reading_slows_neither_ingest_nor_another_listener(
    shared: dict[str, str], tmp_path: Path
) -> None:
    """A supervisor on instance B that never reads a byte; another on B that does; the call
    ingested on A goes on at its pace, and the reading supervisor has every event."""
    env = {**shared, "HUASHU_MAX_PENDING_EVENTS": "32"}
    a, b = instances(tmp_path, env)
    call_id = "across-3"
    seen = Seen()
    try:
        with CallClient(a.base, call_id, KEY_A) as ingest:
            seen.take(ingest.play(*numbered(BEFORE[:2], first=1)))
            stuck = _silent_listener(b.port, call_id)
            watcher = Watcher(b.base, call_id)
            seq = 3
            for i in range(60):  # alerts of ~4 KB: more than the stuck one's socket holds
                said = "这个真不关我的事" + "，" * 1200
                seen.take(ingest.play({**agent(f"x{i}", said, 3000 + i * 100), "seq": seq}))
                seq += 1
            seen.take(ingest.play({**HANGUP, "seq": seq}))
            assert seen.acked == set(range(1, seq + 1))
        watched = watcher.wait_report()
        stuck.close()
    finally:
        a.stop()
        b.stop()
    assert sorted(seen.events) == sorted(watched.events) == list(range(1, seen.last + 1))
