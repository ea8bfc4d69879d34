"""``app.ops.websocket``: messages handed over in place, on a real uvicorn server with Huashu's
protocol and a real WebSocket client.

The app here answers each message with where it was handled: ``in:`` (in place, by the
handler), ``queued:`` (through uvicorn's queue and the app's ``receive``) or ``deferred:`` (taken
by the handler and handed to the app's loop). Whatever the path, answers come in the order the
messages were sent.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.ops.websocket import DIRECT, Direct, HuashuWebSocketProtocol
from tests.serving import served

#: 64 KiB messages the "flood" handler writes at most; how many it wrote before the socket refused.
FLOOD_CAP = 2000
FLOODED: list[int] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()  # connect
    await send({"type": "websocket.accept"})
    direct: Direct = scope["extensions"][DIRECT]
    slow_until = 0.0

    def handler(text: str) -> bool:
        if text.startswith("slow"):  # declined: uvicorn's queue
            return False
        if text.startswith("boom"):
            raise RuntimeError("a handler that fails")
        if text == "flood":  # the client does not read: write until refused
            chunk = "x" * 65536
            written = 0
            while written < FLOOD_CAP and direct.write_text(chunk):
                written += 1
            FLOODED.append(written)
            return True
        if text.startswith("defer"):  # taken, finished by the loop
            direct.defer({"type": "websocket.receive", "text": text, "deferred": True})
            return True
        assert direct.write_text(f"in:{text}")
        return True

    direct.handler = handler
    while True:
        direct.idle = True
        message = await receive()
        direct.idle = False
        if message["type"] != "websocket.receive":
            return
        text = message["text"]
        if text.startswith("slow"):
            slow_until = time.monotonic() + 0.2
        kind = "deferred" if message.get("deferred") else "queued"
        # The loop is busy for a while (an await): what arrives meanwhile must wait its turn.
        while time.monotonic() < slow_until:
            await asyncio.sleep(0.01)
        await send({"type": "websocket.send", "text": f"{kind}:{text}"})


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with served(app, start_s=10) as port:
        yield f"ws://127.0.0.1:{port}/"


def test_a_message_that_arrives_while_the_app_waits_is_handled_in_place(server: str) -> None:
    with connect(server) as ws:
        for text in ("a", "b", "c"):
            ws.send(text)
            assert ws.recv(timeout=5) == f"in:{text}"


def test_answers_keep_the_order_of_the_messages_whatever_path_each_took(server: str) -> None:
    sent = ["a", "slow-1", "b", "c", "defer-1", "d", "slow-2", "e", "defer-2", "f"]
    with connect(server) as ws:
        for text in sent:  # all at once: some arrive while the loop is busy
            ws.send(text)
        answers = [str(ws.recv(timeout=5)) for _ in sent]
    assert [answer.split(":", 1)[1] for answer in answers] == sent
    by_path = dict(answer.split(":", 1)[::-1] for answer in answers)
    assert by_path["a"] == "in" and by_path["slow-1"] == "queued"
    assert by_path["b"] == "queued"  # the loop was busy with slow-1: b waited in the queue
    assert by_path["defer-1"] in ("deferred", "queued")


def test_a_handler_that_raises_closes_its_connection_and_no_other(server: str) -> None:
    with connect(server) as other, connect(server) as ws:
        ws.send("boom")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        other.send("still-here")
        assert other.recv(timeout=5) == "in:still-here"


def test_binary_and_fragmented_messages_take_the_queue(server: str) -> None:
    with connect(server) as ws:
        ws.send(["frag", "mented"])  # one message in two frames
        assert ws.recv(timeout=5) == "queued:fragmented"
        ws.send("whole")
        assert ws.recv(timeout=5) == "in:whole"


def test_a_peer_that_does_not_read_makes_write_text_refuse(server: str) -> None:
    """``write_text`` writes only while uvicorn's transport is writable: to a peer that does
    not read, it stops (False) once the socket's buffers are full, instead of buffering."""
    port = int(server.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        # A client of its own: websockets' client reads in a thread of its own, always.
        raw.sendall(
            b"GET / HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += raw.recv(1)  # the handshake's answer, and not a byte more
        assert answer.startswith(b"HTTP/1.1 101")
        mask = b"\x01\x02\x03\x04"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"flood"))
        raw.sendall(b"\x81\x85" + mask + payload)  # "flood", masked, as a client must
        deadline = time.monotonic() + 10
        while not FLOODED:
            assert time.monotonic() < deadline, "the handler never stopped writing"
            time.sleep(0.05)
    written = FLOODED[0]
    assert 0 < written < FLOOD_CAP  # stopped by the full socket, not by the cap


def test_a_closed_connection_is_freed_without_the_collector(server: str) -> None:
    """The protocol, its scope and its ``Direct`` refer to one another while the connection is
    open; once it closes they are freed by their reference counts alone, not left for a full
    collection (the protocol is old by then: only a full one would find the cycle)."""
    import gc

    def alive() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is HuashuWebSocketProtocol)

    gc.collect()
    before = alive()
    gc.disable()
    try:
        for n in range(10):
            with connect(server) as ws:
                ws.send(f"n{n}")
                assert ws.recv(timeout=5) == f"in:n{n}"
        deadline = time.monotonic() + 5
        while alive() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive() <= before  # (a connection of an earlier test may close meanwhile)
    finally:
        gc.enable()
