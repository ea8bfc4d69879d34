"""The call stream WebSocket: ``/v1/calls/{call_id}/stream``.

The handler only translates: decode a frame, validate it, hand the engine input to the call's
runner, and send the events the runner gives this connection. Bad input becomes an ``error``
event on this connection only and the connection stays open; nothing already accepted is
touched.

A connection receives the call's events from its first message on (a ``resume`` first replays
the history it asks for), or from the moment its ``start`` creates the call.

This is the hot path of the service, so it is plain ASGI: the app hands stream connections to
:func:`serve` before FastAPI's middleware and routing (which cost coroutines and wrappers per
connection and per message and do nothing for a WebSocket), and the common fragment is checked
by hand; anything the hand check does not accept as it stands goes through the pydantic models,
which give every error of PROTOCOL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from pydantic import BaseModel, ValidationError

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
    text_too_long,
)
from app.config import Settings
from app.engine.messages import Fragment, Input
from app.errors import HuashuError
from app.ops.metrics import Metrics

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: The stream's path (after the root path); ``call_id`` as FastAPI's ``{call_id}`` matches it.
STREAM_PATH = re.compile(r"/v1/calls/([^/]+)/stream")

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


class Socket:
    """The few WebSocket operations the stream needs, straight on the ASGI callables."""

    __slots__ = ("scope", "_receive", "_send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send

    def query(self, name: str) -> str | None:
        values = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get(name)
        return values[-1] if values else None

    async def accept(self) -> bool:
        """Accept the handshake; False when the client left before it."""
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return False
        await self._send({"type": "websocket.accept"})
        return True

    def receive(self) -> Awaitable[MutableMapping[str, Any]]:
        return self._receive()

    def send_text(self, text: str) -> Awaitable[None]:
        return self._send({"type": "websocket.send", "text": text})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason})


class Connection:
    """One socket: its outgoing messages (events, acks, errors in order) and the call it
    follows."""

    __slots__ = ("websocket", "call_id", "tenant", "subscriber", "record", "attached")

    def __init__(self, websocket: Socket, call_id: str, tenant: str | None) -> None:
        self.websocket = websocket
        self.call_id = call_id
        self.tenant = tenant
        self.subscriber = Subscriber(websocket.send_text)
        self.record: CallRecord | None = None
        self.attached = False

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
        """Stop following the call; what was already queued for this connection is sent."""
        if self.record is not None:
            self.record.runner.detach(self.subscriber)
        await self.subscriber.wait_sent(timeout=5)


async def _authorize(
    websocket: Socket, call_id: str, calls: CallService, settings: Settings
) -> tuple[bool, str | None]:
    """(allowed, tenant). Closes the socket with 4401/4403 when not allowed."""
    keys = settings.tenants_by_key
    if not keys:
        return True, None
    token = websocket.query("token")
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


async def serve(state: Any, scope: Scope, receive: Receive, send: Send, call_id: str) -> None:
    """One stream connection, to its end. ``state`` is the app's state."""
    settings: Settings = state.settings
    calls: CallService = state.calls
    metrics: Metrics = state.metrics
    websocket = Socket(scope, receive, send)
    if not await websocket.accept():
        return
    allowed, tenant = await _authorize(websocket, call_id, calls, settings)
    if not allowed:
        return
    connection = Connection(websocket, call_id, tenant)
    subscriber = connection.subscriber
    state.connections.add(connection)
    metrics.connections.inc()
    try:
        connection.record = await calls.store.get(call_id)
        while True:
            frame = await receive()
            if frame["type"] != "websocket.receive":
                break
            # This connection sends what its own frame produced, unless a sender is at work.
            held = subscriber.hold()
            try:
                if connection.record is None:
                    close = await _on_first_frame(connection, frame, settings, calls, metrics)
                else:
                    close = _on_frame(connection, frame, settings, metrics)
            finally:
                if held:
                    if subscriber.pending:
                        await subscriber.release()
                    else:
                        subscriber.unhold()
            if close is not None:
                await connection.close()
                await websocket.close(*close)
                break
    finally:
        state.connections.discard(connection)
        metrics.connections.dec()
        await connection.close()


_SPEAKERS = ("agent", "customer")
_VOLUMES = (None, "low", "high")


def _offset(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0)


def _fast_fragment(data: dict[str, Any], max_chars: int) -> tuple[Fragment, int | None] | None:
    """The fragment and its seq when ``data`` is a fragment exactly as PROTOCOL writes it;
    None for anything else (the pydantic model then accepts it or says what is wrong)."""
    speaker = data.get("speaker")
    segment = data.get("segment")
    text = data.get("text")
    final = data.get("final", False)
    start_ms = data.get("start_ms")
    end_ms = data.get("end_ms")
    volume = data.get("volume")
    seq = data.get("seq")
    if not (
        speaker in _SPEAKERS
        and type(segment) is str
        and 0 < len(segment) <= 128
        and type(text) is str
        and type(final) is bool
        and _offset(start_ms)
        and _offset(end_ms)
        and _offset(seq)
        and volume in _VOLUMES
    ):
        return None
    if len(text) > max_chars:
        raise _Refused("too_large", text_too_long(len(text), max_chars))
    return Fragment(speaker, segment, text, final, start_ms, end_ms, volume), seq


def _decode(
    frame: MutableMapping[str, Any], settings: Settings
) -> tuple[str, int | None, BaseModel | None, Input | None]:
    """(type, client seq, the validated message or None for a hand-checked fragment, the
    engine input if any). Raises :class:`_Refused`."""
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
    if kind == "fragment":
        fast = _fast_fragment(data, settings.max_text_chars)
        if fast is not None:
            return "fragment", fast[1], None, fast[0]
    elif kind is None:
        raise _Refused("invalid_message", "type: missing")
    elif kind not in MESSAGE_TYPES:
        raise _Refused("unknown_type", f"unknown type {kind!r}; known: {', '.join(MESSAGE_TYPES)}")
    try:
        message = CLIENT_MESSAGE.validate_python(data)
    except ValidationError as exc:
        raise _Refused("invalid_message", describe(exc.errors(), str(kind))) from None
    if isinstance(message, FragmentMessage) and len(message.text) > settings.max_text_chars:
        raise _Refused("too_large", text_too_long(len(message.text), settings.max_text_chars))
    item = message.to_input() if isinstance(message, (EventMessage, FragmentMessage)) else None
    return message.type, message.seq, message, item


def _refuse(connection: Connection, metrics: Metrics, code: str, detail: str) -> None:
    metrics.refused(code)
    connection.error(code, detail)


async def _on_first_frame(
    connection: Connection,
    frame: MutableMapping[str, Any],
    settings: Settings,
    calls: CallService,
    metrics: Metrics,
) -> tuple[int, str] | None:
    """A frame on a connection that has no call yet: a ``start`` creates it; anything else
    (valid) closes with 4404. (code, reason) when the connection must close after what is
    queued."""
    connection.record = await calls.store.get(connection.call_id)
    if connection.record is not None:
        return _on_frame(connection, frame, settings, metrics)
    try:
        decoded = _decode(frame, settings)
    except _Refused as refused:
        _refuse(connection, metrics, refused.code, refused.detail)
        return None
    message = decoded[2]
    if not isinstance(message, StartMessage):
        metrics.message(decoded[0])
        return CLOSE_UNKNOWN_CALL, "unknown call: send start first"
    try:
        connection.record = await calls.create(message, connection.call_id, connection.tenant)
    except HuashuError as exc:
        metrics.message(decoded[0])
        connection.error(exc.code, exc.detail)
        return CLOSE_UNKNOWN_CALL, exc.detail[:120]
    _handle(connection, decoded, metrics)
    return None


def _on_frame(
    connection: Connection,
    frame: MutableMapping[str, Any],
    settings: Settings,
    metrics: Metrics,
) -> tuple[int, str] | None:
    """A frame for the connection's call: synchronous, start to end."""
    try:
        decoded = _decode(frame, settings)
    except _Refused as refused:
        _refuse(connection, metrics, refused.code, refused.detail)
        return None
    _handle(connection, decoded, metrics)
    return None


def _handle(
    connection: Connection,
    decoded: tuple[str, int | None, BaseModel | None, Input | None],
    metrics: Metrics,
) -> None:
    kind, seq, message, item = decoded
    metrics.message(kind)
    assert connection.record is not None
    runner = connection.record.runner
    if isinstance(message, ResumeMessage):
        connection.attach(message.last_event_seq)
        return
    if not connection.attached:
        connection.attach()
    after = None
    if seq is not None or isinstance(message, PingMessage):
        reply = connection.subscriber.reply
        ping = isinstance(message, PingMessage)

        def after(duplicate: bool) -> None:
            # Behind the events of everything before: ack and pong mean "processed".
            if seq is not None:
                reply({"type": "ack", "seq": seq})
            if ping:
                reply({"type": "pong"})

    # start for an existing call and ping carry no input: they wait their turn, nothing more.
    if item is None:
        try:
            runner.process(None, seq=seq, after=after)
        except HuashuError as exc:
            _refuse(connection, metrics, exc.code, exc.detail)
        return
    started = time.perf_counter()
    try:
        runner.process(item, seq=seq, after=after)
    except HuashuError as exc:
        _refuse(connection, metrics, exc.code, exc.detail)
        return
    metrics.handling.observe(time.perf_counter() - started)
