"""A small real WebSocket client for the tests (websockets' sync client)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter
from websockets.sync.client import ClientConnection, connect

from app import responses

Event = dict[str, Any]
#: Every event a test receives is checked against the documented event models.
EVENT = TypeAdapter(responses.Event)
CONTROL = {"ack": {"type", "seq"}, "pong": {"type"}, "error": {"type", "code", "detail"}}
#: A consultation call rung at 10:00 on 22 November 2026 (Shanghai) and answered 3 s later.
START = {
    "type": "start",
    "script": "cmcc-10086",
    "call_type": "consult",
    "agent": {"id": "A1", "work_no": "1001"},
    "ring_at": "2026-11-22T10:00:00+08:00",
}
ANSWERED = {"type": "event", "name": "answered", "at": "2026-11-22T10:00:03+08:00"}


class CallClient:
    def __init__(self, base: str, call_id: str, token: str | None) -> None:
        url = base.replace("http", "ws", 1) + f"/v1/calls/{call_id}/stream"
        if token is not None:
            url += f"?token={token}"
        self._connect = connect(url, open_timeout=5, max_size=None)
        self.ws: ClientConnection = self._connect.__enter__()

    def __enter__(self) -> CallClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._connect.__exit__(None, None, None)

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        if isinstance(message, dict):
            message = json.dumps(message, ensure_ascii=False)
        self.ws.send(message)

    def recv(self, timeout: float = 5) -> Event:
        event = dict(json.loads(self.ws.recv(timeout=timeout)))
        if event["type"] in CONTROL:
            assert set(event) == CONTROL[event["type"]], event
        else:
            EVENT.validate_python(event)
        return event

    def recv_until(self, stop: Callable[[Event], bool], timeout: float = 5) -> list[Event]:
        """Events up to and including the first that ``stop`` accepts."""
        events = []
        while True:
            event = self.recv(timeout)
            events.append(event)
            if stop(event):
                return events

    def sync(self, timeout: float = 5) -> list[Event]:
        """Everything sent so far processed: the events it produced, before the pong."""
        self.send({"type": "ping"})
        return self.recv_until(lambda e: e["type"] == "pong", timeout)[:-1]

    def play(self, *messages: dict[str, Any]) -> list[Event]:
        for message in messages:
            self.send(message)
        return self.sync()


def agent(
    segment: str, text: str, end_ms: int, final: bool = True, start_ms: int | None = None
) -> dict[str, Any]:
    return {
        "type": "fragment",
        "speaker": "agent",
        "segment": segment,
        "text": text,
        "final": final,
        "start_ms": start_ms if start_ms is not None else max(end_ms - 1000, 0),
        "end_ms": end_ms,
    }


def customer(segment: str, text: str, end_ms: int, final: bool = True) -> dict[str, Any]:
    return {
        "type": "fragment",
        "speaker": "customer",
        "segment": segment,
        "text": text,
        "final": final,
        "start_ms": max(end_ms - 1000, 0),
        "end_ms": end_ms,
    }


def brief(events: list[Event]) -> list[tuple[Any, ...]]:
    """The events in short: type and the field that says what happened."""
    out: list[tuple[Any, ...]] = []
    for e in events:
        kind = e["type"]
        if kind == "prompt":
            out.append((kind, e["rule"], e["text"]))
        elif kind == "prompt_done":
            out.append((kind, e["rule"]))
        elif kind == "phase":
            out.append((kind, e["phase"]))
        elif kind == "alert":
            out.append((kind, e["rule"], e["state"]))
        elif kind == "alert_update":
            out.append((kind, e["state"]))
        elif kind == "call_type":
            out.append((kind, e["call_type"]))
        else:
            out.append((kind,))
    return out
