"""A closed stream connection is freed by reference counts alone: on a real uvicorn server with
Huashu's protocol and the whole app, ten calls opened, spoken on and closed leave no connection
object and no protocol object behind with the collector off. A cycle through a connection would
keep its whole graph (socket, decoder, pending messages) until a full collection, which comes
rarely: the connection is old by the time it closes."""

from __future__ import annotations

import gc
import json
import time
import types

import orjson
import pytest
from websockets.sync.client import connect

from app.asr import Refused
from app.calls.connection import Connection
from app.config import Settings
from app.main import create_app
from app.ops.websocket import HuashuWebSocketProtocol
from tests.serving import served


def _alive(kind: type) -> int:
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def test_closed_stream_connections_leave_nothing_for_the_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUASHU_STORE", "memory")
    monkeypatch.delenv("HUASHU_API_KEYS", raising=False)
    with served(create_app(Settings())) as port:
        gc.collect()
        before = (_alive(Connection), _alive(HuashuWebSocketProtocol))
        gc.disable()
        try:
            for n in range(10):
                with connect(f"ws://127.0.0.1:{port}/v1/calls/freed-{n}/stream") as ws:
                    ws.send(json.dumps({"type": "start", "script": "cmcc-10086"}))
                    fragment = {"speaker": "agent", "segment": "a1", "text": "您好", "final": True}
                    ws.send(json.dumps({"type": "fragment", **fragment, "seq": 1}))
                    ws.send(json.dumps({"type": "ping"}))
                    while json.loads(ws.recv(timeout=10))["type"] != "pong":
                        pass
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                after = (_alive(Connection), _alive(HuashuWebSocketProtocol))
                if after[0] <= before[0] and after[1] <= before[1]:
                    break
                time.sleep(0.05)
            assert after[0] <= before[0] and after[1] <= before[1], (before, after)
        finally:
            gc.enable()


def test_refused_messages_leave_nothing_for_the_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refusal kept with its traceback holds the frames it was raised through and, through
    them, the frame that keeps the refusal: a cycle per malformed message, which a client
    sending nothing else would pile up between collections. Refused messages of every kind, on
    a followed call and before a call exists, leave no refusal, decoding error or frame."""
    monkeypatch.setenv("HUASHU_STORE", "memory")
    monkeypatch.delenv("HUASHU_API_KEYS", raising=False)
    bad = [
        "{not json",
        json.dumps({"type": "nonsense"}),
        json.dumps({"type": "fragment", "speaker": "robot", "text": "x", "final": True}),
        json.dumps([1, 2]),
        json.dumps({"no": "type"}),
        json.dumps({"type": "event", "name": "hold", "at": "9999-12-31T00:00:00Z"}),
        json.dumps(
            {"type": "fragment", "speaker": "agent", "segment": "x", "text": "你", "end_ms": 1e30}
        ),
        json.dumps(
            {"type": "fragment", "speaker": "agent", "text": "你", "final": True, "seq": True}
        ),
    ]
    kinds = (Refused, orjson.JSONDecodeError, types.FrameType, types.TracebackType)
    with served(create_app(Settings())) as port:
        gc.collect()
        before = [_alive(kind) for kind in kinds]
        gc.disable()
        try:
            with connect(f"ws://127.0.0.1:{port}/v1/calls/refused-0/stream") as ws:
                for text in bad:  # before the call exists
                    ws.send(text)
                    assert json.loads(ws.recv(timeout=10))["type"] == "error"
                ws.send(json.dumps({"type": "start", "script": "cmcc-10086"}))
                for _ in range(10):  # on a followed call
                    for text in bad:
                        ws.send(text)
                ws.send(json.dumps({"type": "ping"}))
                errors = 0
                while (message := json.loads(ws.recv(timeout=10)))["type"] != "pong":
                    errors += message["type"] == "error"
                assert errors == 10 * len(bad)
            deadline = time.monotonic() + 5
            while (after := [_alive(kind) for kind in kinds]) != before:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            named = {
                kind.__name__: (was, now)
                for kind, was, now in zip(kinds, before, after, strict=True)
            }
            assert after == before, named
        finally:
            gc.enable()
