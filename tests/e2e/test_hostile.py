"""Hostile clients against a real server: a stuck listener, oversize bodies and frames, ids
that are no call ids, and a service started open to the network."""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.e2e.client import CallClient, agent
from tests.e2e.conftest import KEY_A, ROOT, Server

_ids = itertools.count()
START = {"type": "start", "script": "cmcc-10086", "call_type": "consult"}
ANSWERED = {"type": "event", "name": "answered"}


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with small bounds, to reach them quickly."""
    running = Server(
        tmp_path_factory.mktemp("tight") / "server.log",
        env={
            "HUASHU_MAX_PENDING_EVENTS": "16",
            "HUASHU_MAX_BODY_BYTES": "2000",
            "HUASHU_MAX_FRAME_BYTES": "300000",
            # Alerts that carry their whole segment: large events, to fill a socket quickly.
            "HUASHU_ALERT_CONTEXT_CHARS": "4096",
        },
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def _silent_listener(port: int, call_id: str) -> socket.socket:
    """A WebSocket listener that resumes the call from the start and then never reads a byte:
    a raw socket (a client library would read in the background), with a small receive buffer
    so that the server's sends back up quickly."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET /v1/calls/{call_id}/stream?token={KEY_A} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    payload = json.dumps({"type": "resume", "last_event_seq": 0}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    raw.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return raw


def test_a_listener_that_never_reads_does_not_hold_back_the_call(tight: Server) -> None:
    call_id = f"stuck-{next(_ids)}"
    url = tight.base.replace("http", "ws", 1) + f"/v1/calls/{call_id}/stream?token={KEY_A}"
    with CallClient(tight.base, call_id, KEY_A) as ingest:
        ingest.play(START, ANSWERED)
        stuck = _silent_listener(tight.port, call_id)
        watched: list[str] = []
        try:
            with connect(url, max_size=None) as watcher:
                watcher.send(json.dumps({"type": "resume", "last_event_seq": 0}))

                def watch() -> None:  # a listener that keeps up, reading as events come
                    try:
                        while True:
                            watched.append(json.loads(watcher.recv(timeout=30))["type"])
                    except (ConnectionClosed, TimeoutError):
                        pass

                reader = threading.Thread(target=watch)
                reader.start()
                started = time.monotonic()
                alerts = 0
                # Each alert carries the whole segment text here (12 KB): more than the
                # kernel's socket buffers hold, so the server's sends to the silent listener
                # wait.
                for n in range(600):
                    events = ingest.play(agent(f"a{n}", "这个不关我的事" + "，" * 4000, 1000 + n))
                    alerts += sum(e["type"] == "alert" for e in events)
                took = time.monotonic() - started
                deadline = time.monotonic() + 30
                while watched.count("alert") < 600 and time.monotonic() < deadline:
                    time.sleep(0.05)
                watcher.close()
                reader.join()
            # Ingest and the listener that reads had every alert, not held back by the other.
            assert alerts == 600 and watched.count("alert") == 600
            assert took < 60
            # The silent listener was given up (what waits for it is bounded); the call goes on.
            assert "stream too slow" in tight.log
            assert ingest.play({"type": "ping"}) == []
        finally:
            stuck.close()


def test_a_fragment_of_one_phrase_over_and_over_sends_a_few_small_alerts(server: str) -> None:
    """One 4,096-character fragment of 不关我的事 said over and over used to raise ~820 alerts
    each carrying the whole segment (~10 MB). On the defaults it raises at most
    HUASHU_MAX_ALERTS_PER_FRAGMENT (16) alerts, each carrying at most HUASHU_ALERT_CONTEXT_CHARS
    (40) characters either side of its match: no event over 1 KiB, under 20 KB in all. The call
    goes on."""
    repeated = ("不关我的事" * 820)[:4096]
    with CallClient(server, f"repeat-{next(_ids)}", KEY_A) as client:
        client.play(START, ANSWERED)
        client.send(agent("a1", repeated, 2000))
        client.send({"type": "ping"})
        sent: list[str] = []
        while '"type":"pong"' not in (message := str(client.ws.recv(timeout=10))):
            sent.append(message)
        forbidden = [json.loads(m) for m in sent if '"category":"forbidden"' in m]
        assert len(forbidden) == 16
        assert all(f["text"] in repeated and len(f["text"]) <= 40 + 5 + 40 for f in forbidden)
        assert max(len(m.encode()) for m in sent) <= 1024
        assert sum(len(m.encode()) for m in sent) < 20_000
        events = client.play(agent("a2", "这个真不关我的事", 5000))
        (alert,) = [e for e in events if e["type"] == "alert" and e["category"] == "forbidden"]
        assert alert["text"] == "这个真不关我的事" and alert["segment"] == "a2"
        client.send({"type": "event", "name": "hangup", "by": "customer"})
        assert client.sync()[-1]["type"] == "report"


def test_a_rest_body_past_the_limit_is_413_declared_or_streamed(tight: Server) -> None:
    headers = {"Authorization": f"Bearer {KEY_A}"}
    big = {"script": "cmcc-10086", "agent": {"name": "x" * 3000}}
    declared = httpx.post(f"{tight.base}/v1/calls", json=big, headers=headers)
    assert declared.status_code == 413 and declared.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:
        body = json.dumps(big).encode()
        for i in range(0, len(body), 500):
            yield body[i : i + 500]

    streamed = httpx.post(
        f"{tight.base}/v1/calls",
        content=chunks(),
        headers={**headers, "content-type": "application/json"},
    )
    assert streamed.status_code == 413 and streamed.json()["error"] == "too_large"
    small = httpx.post(f"{tight.base}/v1/calls", json={"script": "cmcc-10086"}, headers=headers)
    assert small.status_code == 201


def test_a_frame_past_the_message_limit_is_an_error_and_the_socket_stays(tight: Server) -> None:
    with CallClient(tight.base, f"frame-{next(_ids)}", KEY_A) as client:
        client.play(START)
        client.send({"type": "ping", "pad": "x" * 200_000})  # over 64 KiB, under the frame limit
        error = client.recv()
        assert (error["type"], error["code"]) == ("error", "too_large")
        assert client.play({"type": "ping"}) == []


@pytest.mark.parametrize(
    "call_id", ["%00", "a%0Ab", "%3Cscript%3E", ".", "..", "x" * 129, "a%20b", "y" * 7000]
)
def test_a_socket_path_that_is_no_call_id_closes_4404(tight: Server, call_id: str) -> None:
    url = tight.base.replace("http", "ws", 1) + f"/v1/calls/{call_id}/stream?token={KEY_A}"
    with connect(url, open_timeout=5, max_size=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


def test_a_handshake_past_the_line_limit_is_answered_not_left_hanging(tight: Server) -> None:
    """An 8,200-character call id makes the request line longer than the WebSocket parser
    takes: the handshake is refused at once (it used to get no answer at all)."""
    url = tight.base.replace("http", "ws", 1) + f"/v1/calls/{'y' * 8200}/stream?token={KEY_A}"
    started = time.monotonic()
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10)
    assert refused.value.response.status_code == 414 and time.monotonic() - started < 5


def test_serving_beyond_loopback_with_no_keys_is_refused(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HUASHU_STORE": "memory"}
    refused = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "HUASHU_API_KEYS" in refused.stderr


def test_a_second_writer_of_a_leg_is_refused_not_acknowledged_and_dropped(tight: Server) -> None:
    call_id = f"two-writers-{next(_ids)}"
    with CallClient(tight.base, call_id, KEY_A) as first:
        first.play(
            {**START, "seq": 1}, {**ANSWERED, "seq": 2}, {**agent("a1", "您好", 1000), "seq": 3}
        )
        with CallClient(tight.base, call_id, KEY_A) as second:
            second.send({**agent("b1", "这个不关我的事", 2000), "seq": 1})
            error = second.recv()
            assert (error["type"], error["code"]) == ("error", "writer_taken")
            with pytest.raises(ConnectionClosed) as closed:
                second.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409
        # The first writer goes on; the refused words were never taken in.
        events = first.play({**agent("a2", "不关我的事", 3000), "seq": 4})
        assert [e["type"] for e in events] == ["alert", "ack"]
        # A listener that never writes is welcome (ping and resume are no writing).
        with CallClient(tight.base, call_id, KEY_A) as listener:
            assert (
                listener.play({"type": "resume", "last_event_seq": 0})[-1]["seq"]
                == events[0]["seq"]
            )
    # Once the writer is gone, a new connection may write.
    with CallClient(tight.base, call_id, KEY_A) as third:
        assert third.play({**agent("a3", "好的", 4000), "seq": 5}) == [{"type": "ack", "seq": 5}]


def test_a_client_that_reconnects_with_resume_takes_over_its_leg(tight: Server) -> None:
    call_id = f"takeover-{next(_ids)}"
    with CallClient(tight.base, call_id, KEY_A) as old:
        old.play(
            {**START, "seq": 1}, {**ANSWERED, "seq": 2}, {**agent("a1", "您好", 1000), "seq": 3}
        )
        # The same client, reconnecting before its old socket is noticed gone.
        with CallClient(tight.base, call_id, KEY_A) as new:
            new.play({"type": "resume", "last_event_seq": 0})
            assert new.play({**agent("a2", "您好", 2000), "seq": 4}) == [{"type": "ack", "seq": 4}]
            replaced = old.recv()
            assert (replaced["type"], replaced["code"]) == ("error", "writer_replaced")
            with pytest.raises(ConnectionClosed) as closed:
                old.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409


def test_a_second_start_naming_another_script_is_an_error(tight: Server) -> None:
    call_id = f"restart-{next(_ids)}"
    with CallClient(tight.base, call_id, KEY_A) as client:
        assert client.play({**START, "seq": 1}) == [{"type": "ack", "seq": 1}]
        same = client.play({**START, "seq": 2})
        assert same == [{"type": "ack", "seq": 2}]  # the same start again: nothing to change
        other = client.play({**START, "script": "ct-10000", "seq": 3})
        assert [(e["type"], e.get("code")) for e in other] == [("error", "start_mismatch")]
        assert "cmcc-10086" in other[0]["detail"]


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(
        tmp_path_factory.mktemp("bounded") / "server.log",
        env={
            "HUASHU_MAX_CONNECTIONS_PER_TENANT": "3",
            "HUASHU_MAX_LIVE_CALLS_PER_TENANT": "2",
            "HUASHU_MAX_MESSAGES_PER_S_PER_TENANT": "40",
            "HUASHU_MAX_LIBRARY_WRITES_PER_MIN_PER_TENANT": "3",
            "HUASHU_ALLOWED_ORIGINS": "https://desk.example.cn",
        },
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_a_tenants_bounds_hold_and_other_tenants_are_untouched(bounded: Server) -> None:
    from tests.e2e.conftest import KEY_B

    headers = {"Authorization": f"Bearer {KEY_A}"}
    made = [
        httpx.post(f"{bounded.base}/v1/calls", json={"script": "cmcc-10086"}, headers=headers)
        for _ in range(3)
    ]
    assert [m.status_code for m in made] == [201, 201, 429]
    assert made[2].json()["error"] == "too_many_calls"
    other = httpx.post(
        f"{bounded.base}/v1/calls",
        json={"script": "cmcc-10086"},
        headers={"Authorization": f"Bearer {KEY_B}"},
    )
    assert other.status_code == 201
    call_id = made[0].json()["call_id"]
    clients = [CallClient(bounded.base, call_id, KEY_A) for _ in range(3)]
    try:
        for client in clients:  # each is past its handshake and counted
            assert client.sync() == []
        with pytest.raises(ConnectionClosed) as closed:
            with CallClient(bounded.base, call_id, KEY_A) as fourth:
                fourth.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        # Messages past the tenant's rate: an error each, not processed, nor acknowledged.
        first = clients[0]
        for n in range(120):
            first.send({"type": "ping", "seq": n + 1})
        answers = first.recv_until(lambda e: e.get("code") == "rate_limited", timeout=10)
        assert answers[-1]["type"] == "error"
    finally:
        for client in clients:
            client.__exit__()


def test_rest_messages_share_the_tenants_rate(bounded: Server) -> None:
    """Fragments over REST take from the same bucket as the stream's messages: past the rate
    a POST is ``429 rate_limited`` and changes nothing; those accepted are all there."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.e2e.conftest import KEY_B

    headers = {"Authorization": f"Bearer {KEY_B}"}  # a tenant of its own: a full bucket
    with httpx.Client(base_url=bounded.base, headers=headers, timeout=10) as http:
        made = http.post("/v1/calls", json={"script": "cmcc-10086"})
        assert made.status_code == 201, made.text
        call = f"/v1/calls/{made.json()['call_id']}"
        http.post(f"{call}/events", json={"type": "event", "name": "answered"})

        def post(n: int) -> httpx.Response:
            fragment = {"speaker": "agent", "segment": f"r-{n}", "text": "这个不关我的事"}
            return http.post(f"{call}/fragments", json={**fragment, "final": True})

        # Faster than the rate of 40 a second, in rounds until the bucket runs dry: a machine
        # busy with other tests may answer the first round slower than the rate refills it.
        answers: list[httpx.Response] = []
        with ThreadPoolExecutor(max_workers=8) as pool:
            while len(answers) < 2000 and all(a.status_code != 429 for a in answers):
                answers += pool.map(post, range(len(answers), len(answers) + 200))
        codes = [a.status_code for a in answers]
        assert set(codes) == {200, 429}, codes
        assert all(a.json()["error"] == "rate_limited" for a in answers if a.status_code == 429)
        accepted = {f"r-{n}" for n, a in enumerate(answers) if a.status_code == 200}
        time.sleep(1.5)  # the bucket fills again
        state = http.get(call).json()
    alerted = {a["segment"] for a in state["alerts"]}
    assert alerted == accepted


def test_library_versions_past_the_tenants_rate_are_refused_and_not_stored(
    bounded: Server,
) -> None:
    lexicon = {
        "id": "own",
        "name": "自己的禁语",
        "categories": {"own_curt": {"name": "生硬", "severity": "major"}},
        "entries": [{"phrase": "自己去看说明书", "category": "own_curt", "source": "ACME 2026"}],
    }
    headers = {"Authorization": f"Bearer {KEY_A}"}
    with httpx.Client(base_url=bounded.base, headers=headers, timeout=10) as http:
        answers = [http.put("/v1/lexicons/own", json=lexicon) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert answers[3].json()["error"] == "too_many_writes"
        assert http.get("/v1/lexicons/own").json()["version"] == 3


def test_a_browser_of_another_origin_may_not_open_the_stream(bounded: Server) -> None:
    url = bounded.base.replace("http", "ws", 1) + f"/v1/calls/o-1/stream?token={KEY_A}"
    with connect(url, origin="https://evil.example.com") as ws:  # type: ignore[arg-type]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    with connect(url, origin="https://desk.example.cn") as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "ping"}))
        with pytest.raises(ConnectionClosed) as closed:  # an unknown call: 4404, not 4403
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


@pytest.mark.parametrize("how", ["header", "subprotocol"])
def test_the_credential_may_stay_out_of_the_url(tight: Server, how: str) -> None:
    url = tight.base.replace("http", "ws", 1) + f"/v1/calls/hdr-{next(_ids)}/stream"
    good: dict[str, Any] = (
        {"additional_headers": {"Authorization": f"Bearer {KEY_A}"}}
        if how == "header"
        else {"subprotocols": [f"bearer.{KEY_A}"]}
    )
    with connect(url, **good) as ws:
        if how == "subprotocol":
            assert ws.subprotocol == f"bearer.{KEY_A}"
        ws.send(json.dumps({**START, "seq": 1}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "ack", "seq": 1}
    bad: dict[str, Any] = (
        {"additional_headers": {"Authorization": "Bearer nope"}}
        if how == "header"
        else {"subprotocols": ["bearer.nope"]}
    )
    with connect(url, **bad) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert KEY_A not in tight.log  # in a header or a subprotocol, never in a log line


def test_inputs_wait_no_longer_than_the_store_can_hold_them(tmp_path: Path) -> None:
    """The database locked by another process (as one that is down or far too slow): the
    writes waiting for it stop at ``HUASHU_MAX_UNSTORED_WRITES``. Past it each input is refused
    with ``store_unavailable`` (REST: ``503``), not taken, not acknowledged; once the database
    is back, everything taken is acknowledged and new inputs are taken again."""
    import sqlite3

    from tests.e2e.client import ANSWERED

    server = Server(tmp_path / "server.log", env={"HUASHU_MAX_UNSTORED_WRITES": "100"})
    try:
        server.wait_ready()
        headers = {"Authorization": f"Bearer {KEY_A}"}
        made = httpx.post(f"{server.base}/v1/calls", json={"script": "cmcc-10086"}, headers=headers)
        assert made.status_code == 201, made.text
        call_id = made.json()["call_id"]
        with CallClient(server.base, call_id, KEY_A) as client:
            client.play(ANSWERED)
            blocker = sqlite3.connect(tmp_path / "huashu.db", timeout=5, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            try:
                for n in range(1, 301):
                    client.send(
                        {**agent(f"s{n}", "好的，我帮您查一下", 4_000 + n * 1_000), "seq": n}
                    )
                before = client.recv_until(
                    lambda e: e.get("code") == "store_unavailable", timeout=20
                )
                assert not [e for e in before if e["type"] == "ack"]  # nothing durable yet
                rest = httpx.post(
                    f"{server.base}/v1/calls/{call_id}/fragments",
                    json={"speaker": "agent", "segment": "r-1", "text": "好的", "final": True},
                    headers=headers,
                )
                assert rest.status_code == 503 and rest.json()["error"] == "store_unavailable"
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            events = before + client.sync(timeout=60)
            acked = [e["seq"] for e in events if e["type"] == "ack"]
            refused = [e for e in events if e.get("code") == "store_unavailable"]
            assert acked == list(range(1, len(acked) + 1)) and 10 <= len(acked) < 300
            assert len(refused) == 300 - len(acked)
            # Caught up: the first refused input, sent again, is taken.
            n = len(acked) + 1
            client.send({**agent(f"s{n}", "好的，我帮您查一下", 4_000 + n * 1_000), "seq": n})
            assert [e for e in client.sync() if e["type"] == "ack"] == [{"type": "ack", "seq": n}]
    finally:
        server.stop()
