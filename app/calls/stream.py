"""The call stream WebSocket: ``/v1/calls/{call_id}/stream``.

The handler only translates: decode a frame, validate it, hand the engine input to the call's
runner, and let the runner's fan-out send the events. Bad input becomes an ``error`` event on this
connection only and the connection stays open; nothing already accepted is touched.

A connection receives the call's events from its first message on (a ``resume`` first replays
the history it asks for), or from the moment its ``start`` creates the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from app.calls.registry import CallRecord, CallService
from app.calls.runner import Subscriber
from app.calls.schemas import (
    CLIENT_MESSAGE,
    MESSAGE_TYPES,
    EventMessage,
    FragmentMessage,
    PingMessage,
    ResumeMessage,
    StartMessage,
    describe,
    limit_text,
)
from app.config import Settings
from app.errors import HuashuError, TooLarge
from app.ops.metrics import Metrics

router = APIRouter()

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_CALL = 4404
CLOSE_RESTART = 1012


class _Refused(Exception):
    """A frame refused with an ``error`` event; the connection goes on."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Connection:
    """One socket: its outgoing queue (events, acks, errors in order) and the call it follows."""

    def __init__(self, websocket: WebSocket, call_id: str, tenant: str | None) -> None:
        self.websocket = websocket
        self.call_id = call_id
        self.tenant = tenant
        self.subscriber = Subscriber()
        self.record: CallRecord | None = None
        self.attached = False
        self.sender = asyncio.get_running_loop().create_task(self._send_loop())

    async def _send_loop(self) -> None:
        queue = self.subscriber.queue
        with contextlib.suppress(Exception):
            while (message := await queue.get()) is not None:
                await self.websocket.send_text(message)

    def error(self, code: str, detail: str) -> None:
        self.subscriber.reply({"type": "error", "code": code, "detail": detail})

    def attach(self, after_seq: int | None = None) -> None:
        assert self.record is not None
        runner = self.record.runner
        if self.attached:
            runner.detach(self.subscriber)
        runner.attach(self.subscriber, after_seq)
        self.attached = True

    async def close(self) -> None:
        if self.record is not None:
            self.record.runner.detach(self.subscriber)
        self.subscriber.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sender, timeout=5)


async def _authorize(
    websocket: WebSocket, call_id: str, calls: CallService, settings: Settings
) -> tuple[bool, str | None]:
    """(allowed, tenant). Closes the socket with 4401/4403 when not allowed."""
    keys = settings.tenants_by_key
    if not keys:
        return True, None
    token = websocket.query_params.get("token")
    if token in keys:
        tenant = keys[token]
        record = await calls.store.get(call_id)
        if record is not None and record.tenant != tenant:
            await websocket.close(CLOSE_FORBIDDEN, "this call belongs to another tenant")
            return False, None
        return True, tenant
    owner = await calls.store.by_token(token) if token else None
    if owner is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "a call token or API key is needed: ?token=")
        return False, None
    if owner.call_id != call_id:
        await websocket.close(CLOSE_FORBIDDEN, "this token is for another call")
        return False, None
    return True, owner.tenant


@router.websocket("/v1/calls/{call_id}/stream")
async def stream(websocket: WebSocket, call_id: str) -> None:
    state = websocket.app.state
    settings: Settings = state.settings
    calls: CallService = state.calls
    metrics: Metrics = state.metrics
    await websocket.accept()
    allowed, tenant = await _authorize(websocket, call_id, calls, settings)
    if not allowed:
        return
    connection = Connection(websocket, call_id, tenant)
    state.connections.add(connection)
    metrics.connections.inc()
    try:
        connection.record = await calls.store.get(call_id)
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            if not await _on_frame(connection, frame, settings, calls, metrics):
                break
    except WebSocketDisconnect:
        pass
    finally:
        state.connections.discard(connection)
        metrics.connections.dec()
        await connection.close()


def _decode(frame: Mapping[str, Any], settings: Settings) -> Any:
    text = frame.get("text")
    if text is None:
        raise _Refused("binary_not_supported", "send JSON as text frames, not binary")
    if (
        len(text) * 4 > settings.max_message_bytes
        and len(text.encode()) > settings.max_message_bytes
    ):
        raise _Refused("too_large", f"a message is at most {settings.max_message_bytes} bytes")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _Refused("invalid_json", f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _Refused("invalid_message", "a message is a JSON object with a 'type'")
    kind = data.get("type")
    if kind is None:
        raise _Refused("invalid_message", "type: missing")
    if kind not in MESSAGE_TYPES:
        raise _Refused("unknown_type", f"unknown type {kind!r}; known: {', '.join(MESSAGE_TYPES)}")
    try:
        message = CLIENT_MESSAGE.validate_python(data)
    except ValidationError as exc:
        raise _Refused("invalid_message", describe(exc.errors(), str(kind))) from None
    if isinstance(message, FragmentMessage):
        try:
            limit_text(message, settings.max_text_chars)
        except TooLarge as exc:
            raise _Refused(exc.code, exc.detail) from None
    return message


async def _on_frame(
    connection: Connection,
    frame: Mapping[str, Any],
    settings: Settings,
    calls: CallService,
    metrics: Metrics,
) -> bool:
    """Handle one frame; False when the connection must close."""
    try:
        message = _decode(frame, settings)
    except _Refused as refused:
        metrics.errors.labels(refused.code).inc()
        connection.error(refused.code, refused.detail)
        return True
    metrics.messages.labels(message.type).inc()
    if connection.record is None:
        connection.record = await calls.store.get(connection.call_id)
    if connection.record is None:
        if not isinstance(message, StartMessage):
            await connection.websocket.close(CLOSE_UNKNOWN_CALL, "unknown call: send start first")
            return False
        try:
            connection.record = await calls.create(message, connection.call_id, connection.tenant)
        except HuashuError as exc:
            connection.error(exc.code, exc.detail)
            await asyncio.sleep(0)  # let the sender flush the error before the close
            await connection.close()
            await connection.websocket.close(CLOSE_UNKNOWN_CALL, exc.detail[:120])
            return False
    runner = connection.record.runner
    if isinstance(message, ResumeMessage):
        connection.attach(message.last_event_seq)
        return True
    if not connection.attached:
        connection.attach()
    seq = message.seq
    reply = connection.subscriber.reply

    def done(duplicate: bool) -> None:
        # In the runner, behind the events of everything before: ack and pong mean "processed".
        if seq is not None:
            reply({"type": "ack", "seq": seq})
        if isinstance(message, PingMessage):
            reply({"type": "pong"})

    # start for an existing call and ping carry no input: they wait their turn, nothing more.
    item = message.to_input() if isinstance(message, (EventMessage, FragmentMessage)) else None
    started = time.perf_counter()
    try:
        await runner.submit(item, seq=seq, after=done)
    except HuashuError as exc:
        metrics.errors.labels(exc.code).inc()
        connection.error(exc.code, exc.detail)
        return True
    if item is not None:
        metrics.handling.observe(time.perf_counter() - started)
    return True
