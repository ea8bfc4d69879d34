"""Connections that hold a place without asking for anything, against a real ``huashu serve``
over raw sockets: one that sends nothing, half a request line or half its headers is closed
once ``HUASHU_HEADER_TIMEOUT_S`` has passed; an idle keep-alive connection once
``HUASHU_KEEP_ALIVE_TIMEOUT_S`` has; a slow but timely request and a WebSocket that outlives the
deadline are served as ever."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import KEY_A, Server

HEADER_TIMEOUT_S = 1.0
KEEP_ALIVE_TIMEOUT_S = 1
#: How long a test waits for the server to close: the deadline, and room for a busy machine.
PATIENCE_S = 5.0
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: huashu\r\n\r\n"


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(
        tmp_path_factory.mktemp("timed") / "server.log",
        env={
            "HUASHU_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
            "HUASHU_KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE_TIMEOUT_S),
        },
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def opened(server: Server) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE_S)
    return raw


def until_closed(raw: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took
    (raises ``TimeoutError`` when it keeps it open past :data:`PATIENCE_S`)."""
    started = time.monotonic()
    received = b""
    while True:
        chunk = raw.recv(65536)
        if not chunk:
            return received, time.monotonic() - started
        received += chunk


def response(raw: socket.socket) -> bytes:
    """One whole response to a request (``/healthz``: a small body with its length)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += raw.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += raw.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # nothing at all
        b"GET /heal",  # half a request line
        b"GET /healthz HTTP/1.1\r\nHost: huashu\r\nX-Slow: ",  # half the headers
    ],
    ids=["nothing", "half-a-request-line", "half-the-headers"],
)
def test_a_request_head_that_does_not_come_is_closed_at_the_deadline(
    timed: Server, sent: bytes
) -> None:
    with opened(timed) as raw:
        raw.sendall(sent)
        received, took = until_closed(raw)
    assert HEADER_TIMEOUT_S * 0.8 <= took < PATIENCE_S
    if sent:
        assert received.startswith(b"HTTP/1.1 408 ")
        assert json.loads(received.partition(b"\r\n\r\n")[2])["error"] == "request_timeout"
    else:
        assert received == b""  # nothing was asked: nothing is answered


def test_an_idle_keep_alive_connection_is_closed(timed: Server) -> None:
    with opened(timed) as raw:
        raw.sendall(HEALTHZ)
        assert response(raw).startswith(b"HTTP/1.1 200 ")
        received, took = until_closed(raw)
    assert received == b"" and KEEP_ALIVE_TIMEOUT_S * 0.8 <= took < PATIENCE_S


def test_a_second_request_half_sent_on_a_kept_connection_is_closed(timed: Server) -> None:
    with opened(timed) as raw:
        raw.sendall(HEALTHZ)
        assert response(raw).startswith(b"HTTP/1.1 200 ")
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHo")
        received, took = until_closed(raw)
    assert received.startswith(b"HTTP/1.1 408 ") and took < PATIENCE_S


def test_a_slow_head_in_time_and_requests_after_it_are_served(timed: Server) -> None:
    with opened(timed) as raw:
        for piece in (HEALTHZ[:10], HEALTHZ[10:25], HEALTHZ[25:]):
            raw.sendall(piece)
            time.sleep(HEADER_TIMEOUT_S / 4)
        assert response(raw).startswith(b"HTTP/1.1 200 ")
        time.sleep(KEEP_ALIVE_TIMEOUT_S / 2)  # within keep-alive: the connection is reused
        raw.sendall(HEALTHZ)
        assert response(raw).startswith(b"HTTP/1.1 200 ")


def test_a_websocket_outlives_the_head_deadline(timed: Server) -> None:
    url = timed.base.replace("http", "ws", 1) + f"/v1/calls/timed-1/stream?token={KEY_A}"
    with connect(url, open_timeout=PATIENCE_S) as ws:
        time.sleep(HEADER_TIMEOUT_S + KEEP_ALIVE_TIMEOUT_S + 0.5)
        ws.send(json.dumps({"type": "start", "script": "cmcc-10086", "seq": 1}))
        assert json.loads(ws.recv(timeout=PATIENCE_S)) == {"type": "ack", "seq": 1}
