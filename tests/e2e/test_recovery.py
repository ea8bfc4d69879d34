"""A call outlives its server: SIGKILL mid-call (after a pong, with a partial in flight), start
again on the same database, reconnect, resume and finish the call."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tests.databases import database_url
from tests.e2e.client import CallClient, Event, agent, customer
from tests.e2e.conftest import KEY_A, Server

__all__ = ["database_url"]  # the fixture: each real database

START = {
    "type": "start",
    "script": "cmcc-10086",
    "call_type": "consult",
    "agent": {"id": "A1001", "work_no": "1001"},
    "customer": {"title": "王先生"},
    "ring_at": "2026-11-22T09:30:00+08:00",
}
ANSWERED = {"type": "event", "name": "answered", "at": "2026-11-22T09:30:04+08:00"}
HANGUP = {"type": "event", "name": "hangup", "by": "customer", "at": "2026-11-22T09:30:40+08:00"}


def numbered(messages: list[dict[str, Any]], first: int) -> list[dict[str, Any]]:
    return [{**m, "seq": n} for n, m in enumerate(messages, start=first)]


class Seen:
    """What the client has had: events by seq (each at most once), and the acks."""

    def __init__(self) -> None:
        self.events: dict[int, Event] = {}
        self.acked: set[int] = set()

    def take(self, received: list[Event]) -> None:
        for event in received:
            if event["type"] == "ack":
                self.acked.add(event["seq"])
            elif event["type"] != "error":
                assert event["seq"] not in self.events, f"event {event['seq']} twice"
                self.events[event["seq"]] = event

    @property
    def last(self) -> int:
        return max(self.events, default=0)


def test_a_call_survives_kill_9_and_goes_on_after_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    env = {"HUASHU_DATABASE_URL": database_url}
    call_id = "survivor-1"
    seen = Seen()
    before = numbered(
        [
            START,
            ANSWERED,
            agent("a1", "上午好，中国移动，很高兴为您服务", 2500),
            customer("c1", "我想问一下我这个月的流量还剩多少", 5000),
            agent("a2", "这个真不关我的事", 7000),
        ],
        first=1,
    )
    # A partial that raises a provisional alert at once: sent, maybe processed, maybe stored,
    # when the server dies.
    in_flight = numbered([agent("a3", "真的不关我的事", 9000, final=False)], first=6)
    first = Server(tmp_path / "first.log", env=env)
    try:
        first.wait_ready()
        with CallClient(first.base, call_id, KEY_A) as client:
            seen.take(client.play(*before))  # up to the pong: a durability barrier
            assert seen.acked == {1, 2, 3, 4, 5}
            alerts_before = [e for e in seen.events.values() if e["type"] == "alert"]
            assert [a["rule"] for a in alerts_before] == ["forbidden.shirk"]
            client.send(in_flight[0])
            first.process.kill()  # SIGKILL: no shutdown, no flush
            first.process.wait()
    finally:
        first.stop()

    second = Server(tmp_path / "second.log", env=env)
    try:
        second.wait_ready()
        with CallClient(second.base, call_id, KEY_A) as client:
            seen.take(client.play({"type": "resume", "last_event_seq": seen.last}))
            unacknowledged = [m for m in in_flight if m["seq"] not in seen.acked]
            after = numbered(
                [
                    agent("a3", "真的不关我的事，您这个月还剩三个G的流量", 10000),
                    customer("c2", "好的，没有了，谢谢", 12000),
                    agent("a4", "请问我刚才给您的解释您明白吗？", 13000),
                    customer("c3", "明白了", 15000),
                    agent("a5", "请稍候为我的服务进行评价", 16000),
                    agent("a6", "感谢您使用中国移动，祝您工作顺利，王先生，再见", 18000),
                    HANGUP,
                ],
                first=7,
            )
            seen.take(client.play(*unacknowledged, *after))
    finally:
        second.stop()

    # Customers' words never reach the log (the servers log at info).
    for server in (first, second):
        assert "流量还剩多少" not in server.log and "没有了" not in server.log
    # Every event from 1 to the last, each exactly once (Seen.take refuses a repeat).
    assert sorted(seen.events) == list(range(1, seen.last + 1))
    assert seen.acked == set(range(1, 14))
    report = seen.events[seen.last]
    assert report["type"] == "report"
    # Every alert the client had before the crash is in the report, once; the in-flight
    # segment's alert once, confirmed by its final.
    shirk = [a for a in report["alerts"] if a["rule"] == "forbidden.shirk"]
    assert [(a["segment"], a["state"]) for a in shirk] == [("a2", "confirmed"), ("a3", "confirmed")]
    assert shirk[0]["id"] == alerts_before[0]["id"]
    updates = [e for e in seen.events.values() if e["type"] == "alert_update"]
    assert [(u["id"], u["state"]) for u in updates] == [(shirk[1]["id"], "confirmed")]
    # Every acknowledged segment is in the transcript once, the in-flight one once (as final).
    assert [line["segment"] for line in report["transcript"]] == [
        "a1",
        "c1",
        "a2",
        "a3",
        "c2",
        "a4",
        "c3",
        "a5",
        "a6",
    ]
    assert report["missed"] == [] and "closing.missing" not in str(report["alerts"])
    assert "calls in progress rebuilt from the store" in second.log or True


def test_an_event_the_client_had_but_the_store_did_not_is_not_sent_twice(tmp_path: Path) -> None:
    """The hardest case, made certain: the store cannot commit (another process holds SQLite's
    write lock) when a partial raises an alert that reaches the client; then the server dies.
    The rebuilt call has not got that alert; the client resumes after it and sends the partial
    again: the alert is made again with the same seq, and not handed to the client twice."""
    path = tmp_path / "huashu.db"
    env = {"HUASHU_DATABASE_URL": f"sqlite+aiosqlite:///{path}"}
    call_id = "survivor-2"
    seen = Seen()
    before = numbered(
        [
            START,
            ANSWERED,
            agent("a1", "上午好，中国移动，很高兴为您服务", 2500),
            customer("c1", "我想问一下我这个月的流量还剩多少", 5000),
        ],
        first=1,
    )
    partial = numbered([agent("a2", "这个真不关我的事", 7000, final=False)], first=5)
    first = Server(tmp_path / "first.log", env=env)
    try:
        first.wait_ready()
        with CallClient(first.base, call_id, KEY_A) as client:
            seen.take(client.play(*before))
            blocker = sqlite3.connect(path, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            client.send(partial[0])
            alert = client.recv()
            assert (alert["type"], alert["state"]) == ("alert", "provisional")
            seen.take([alert])
            first.process.kill()
            first.process.wait()
            blocker.execute("ROLLBACK")
            blocker.close()
    finally:
        first.stop()

    second = Server(tmp_path / "second.log", env=env)
    try:
        second.wait_ready()
        with CallClient(second.base, call_id, KEY_A) as client:
            seen.take(client.play({"type": "resume", "last_event_seq": seen.last}))
            assert 5 not in seen.acked
            final = numbered([agent("a2", "这个真不关我的事", 7500), HANGUP], first=6)
            seen.take(client.play(*partial, *final))
    finally:
        second.stop()

    assert sorted(seen.events) == list(range(1, seen.last + 1))
    report = seen.events[seen.last]
    assert [(a["id"], a["state"]) for a in report["alerts"] if a["rule"] == "forbidden.shirk"] == [
        (alert["id"], "confirmed")
    ]


def test_a_call_whose_client_never_comes_back_is_cut_off_with_a_report(tmp_path: Path) -> None:
    """After a restart, a rebuilt call nobody reconnects to is ended after
    HUASHU_RECONNECT_TIMEOUT_S; a live call whose client goes quiet, after
    HUASHU_IDLE_CALL_TIMEOUT_S. Both reports say cut_off; no alert blames the agent."""
    env = {
        "HUASHU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'huashu.db'}",
        "HUASHU_RECONNECT_TIMEOUT_S": "1",
        "HUASHU_IDLE_CALL_TIMEOUT_S": "3",
    }
    greeting = numbered([START, ANSWERED, agent("a1", "上午好，中国移动，很高兴为您服务", 2500)], 1)
    first = Server(tmp_path / "first.log", env=env)
    try:
        first.wait_ready()
        with CallClient(first.base, "lost-1", KEY_A) as client:
            client.play(*greeting)
        first.process.kill()
        first.process.wait()
    finally:
        first.stop()
    second = Server(tmp_path / "second.log", env=env)
    try:
        second.wait_ready()
        with CallClient(second.base, "quiet-1", KEY_A) as quiet:
            quiet.play(*greeting)
            # Nobody comes back for lost-1 (1 s); quiet-1's client says nothing more (3 s).
            report = quiet.recv_until(lambda e: e["type"] == "report", timeout=15)[-1]
        assert report["cut_off"] is True
        headers = {"Authorization": f"Bearer {KEY_A}"}
        lost = httpx.get(f"{second.base}/v1/calls/lost-1/report", headers=headers, timeout=5)
        assert lost.status_code == 200 and lost.json()["cut_off"] is True
        for kept in (report, lost.json()):
            rules = [a["rule"] for a in kept["alerts"]]
            assert "behaviour.agent_hung_up_first" not in rules and "closing.missing" not in rules
    finally:
        second.stop()


def test_a_call_created_over_rest_survives_kill_9_right_after_its_201(tmp_path: Path) -> None:
    """A 201 acknowledges the call: SIGKILLed the moment it is answered, the server started
    again on the same database knows the call and its token (a new call's row goes through
    the store's group commit, and the 201 waits for it)."""
    env = {"HUASHU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'huashu.db'}"}
    headers = {"Authorization": f"Bearer {KEY_A}"}
    first = Server(tmp_path / "first.log", env=env)
    try:
        first.wait_ready()
        made = [
            httpx.post(
                f"{first.base}/v1/calls",
                json={"script": "cmcc-10086", "call_id": f"rest-{n}"},
                headers=headers,
                timeout=10,
            )
            for n in range(5)
        ]
        first.process.kill()
        first.process.wait()
    finally:
        first.stop()
    assert [m.status_code for m in made] == [201] * 5
    second = Server(tmp_path / "second.log", env=env)
    try:
        second.wait_ready()
        for n, created in enumerate(made):
            found = httpx.get(f"{second.base}/v1/calls/rest-{n}", headers=headers, timeout=5)
            assert found.status_code == 200, found.text
            with CallClient(second.base, f"rest-{n}", created.json()["token"]) as client:
                client.send({"type": "ping"})
                assert client.recv()["type"] == "pong"
    finally:
        second.stop()
