"""The call stream WebSocket: ``/v1/calls/{call_id}/stream``.

The handler only translates: the connection's decoder (``app.asr``) turns a frame into a
message, the call's runner processes it, and what comes back (the call's events from the bus,
this connection's own ``ack``/``pong``/``error``) is sent in order. Bad input becomes an
``error`` event on this connection only and the connection stays open; nothing already accepted
is touched.

A connection receives the call's events from its first message on (a ``resume`` first replays
the history it asks for), or from the moment its ``start`` creates the call.

This is the hot path of the service, so it is plain ASGI: the app hands stream connections to
:func:`serve` before FastAPI's middleware and routing (which cost coroutines and wrappers per
connection and per message and do nothing for a WebSocket). A fragment on a connection that
already follows its call is handled synchronously, start to end; only the first message and a
``resume`` await anything. Under ``huashu serve`` (Huashu's uvicorn protocol,
``app.ops.websocket``) such a fragment is handled the moment it arrives, inside the protocol's
``data_received``, and answered at once (:func:`_in_place_for`), without passing through
uvicorn's queue and this connection's task; under any other server it takes the loop below, the
same code.

``?format=`` picks the connection's decoder (PROTOCOL's JSON, or an ASR engine's own messages,
``app.asr``); an engine's connection carries one leg of the call, ``?speaker=``. Both legs'
connections feed the call's one runner.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from app.asr import DEFAULT_FORMAT, Decoded, Refused, decoder_for, leg_from_query
from app.calls.connection import Connection
from app.calls.repository import CallRepository
from app.calls.runner import After, CallRunner
from app.calls.schemas import CALL_ID_PATTERN, PingMessage, ResumeMessage, StartMessage
from app.calls.socket import (
    CLOSE_FORBIDDEN,
    CLOSE_TOO_MANY,
    CLOSE_UNKNOWN_CALL,
    CLOSE_UNSUPPORTED,
    Receive,
    Scope,
    Send,
    Socket,
    close_for,
    header,
    origins,
)
from app.deps import State
from app.engine.messages import Event, Fragment, Input
from app.errors import HuashuError, StoreBehind
from app.ops.metrics import Metrics
from app.ops.quotas import RATE_LIMITED, Quotas, TooMany
from app.ops.websocket import DIRECT, Direct

log = logging.getLogger(__name__)


#: The stream's path (after the root path); ``call_id`` as FastAPI's ``{call_id}`` matches it.
STREAM_PATH = re.compile(r"/v1/calls/([^/]+)/stream")
#: A call id, as ``POST /v1/calls`` accepts it (``CreateCall.call_id``).
CALL_ID = re.compile(CALL_ID_PATTERN)


async def serve(state: State, scope: Scope, receive: Receive, send: Send, call_id: str) -> None:
    """One stream connection, to its end."""
    calls = state.calls
    metrics = state.metrics
    websocket = Socket(scope, receive, send)
    if not await websocket.accept():
        return
    if not CALL_ID.fullmatch(call_id) or call_id in (".", ".."):
        await websocket.close(CLOSE_UNKNOWN_CALL, "not a call id: letters, digits and ._:- only")
        return
    fmt = websocket.query("format") or DEFAULT_FORMAT
    try:
        leg = leg_from_query(websocket.query("speaker"), websocket.query("offset_ms"))
        decoder = decoder_for(fmt, state.settings, leg)
    except Refused as refused:
        await websocket.close(CLOSE_UNSUPPORTED, refused.detail[:120])
        return
    origin = header(scope, b"origin")
    allowed = state.settings.allowed_origins
    if origin is not None and allowed and origin not in origins(allowed):
        await websocket.close(CLOSE_FORBIDDEN, "this origin may not open the stream")
        return
    quotas = state.quotas
    repository = state.repository
    try:
        principal = await state.identity.authenticate(websocket.credential(), call_tokens=True)
        key = state.identity.call_key(principal, call_id)
        record = await calls.find(key)
        quotas.connect(principal.tenant)
    except HuashuError as exc:
        await websocket.close(*close_for(exc))
        return
    tenant = principal.tenant
    connection = Connection(
        websocket,
        key,
        principal,
        decoder,
        calls,
        metrics,
        fmt,
        state.settings.max_pending_events,
    )
    if record is not None:
        connection.take(record)
    subscriber = connection.subscriber
    state.connections.add(connection)
    connections = metrics.connections.labels(fmt)
    connections.inc()
    direct: Direct | None = websocket.scope.get("extensions", {}).get(DIRECT)
    # Ids and formats only: what is said on a call is never logged.
    about = {"call_id": call_id, "format": fmt, "speaker": leg.speaker}
    log.info("stream opened", extra=about)
    try:
        if direct is not None:
            direct.handler = _in_place_for(connection, direct, quotas, repository)
        while True:
            if direct is not None:
                direct.idle = True
            frame = await receive()
            if direct is not None:
                direct.idle = False
            if frame["type"] != "websocket.receive":
                break
            decoded: Decoded | Refused | None = frame.get(DECODED)
            if decoded is None and not _admitted(connection, quotas, tenant):
                continue
            # This connection sends what its own frame produced, unless a sender is at work.
            held = subscriber.hold()
            try:
                if decoded is None:
                    decoded = _decode(connection, frame)
                if _at_once(connection, decoded, repository):
                    close = None
                elif connection.record is None:
                    close = await _late_call(connection, decoded, metrics)
                else:
                    assert not isinstance(decoded, Refused)
                    close = await _follow_then_handle(connection, decoded, metrics)
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
        if direct is not None:
            direct.handler = None
            direct.idle = False
        quotas.disconnect(tenant)
        state.connections.discard(connection)
        connections.dec()
        await connection.close()
        log.info("stream closed", extra=about)


#: Where a message handed back to the connection's loop by :func:`_in_place_for`'s handler carries
#: what it was decoded to (it is decoded once).
DECODED = "huashu.decoded"


def _admitted(connection: Connection, quotas: Quotas, tenant: str | None) -> bool:
    """A message arrived now: within its tenant's rate (else refused, ``rate_limited``)?"""
    connection.arrived = time.perf_counter()
    if quotas.message(tenant):
        return True
    _refuse(connection, connection.metrics, "rate_limited", RATE_LIMITED)
    return False


def _decode(connection: Connection, frame: Mapping[str, Any]) -> Decoded | Refused:
    try:
        return connection.decoder.decode(frame)
    except Refused as refused:
        connection.metrics.decode_error(connection.format, refused.code)
        # Kept as a value, without what it was raised through: its traceback (and the decoding
        # error it was raised from, with its own) holds this frame, and this frame its
        # caller's, which holds the refusal — a cycle per malformed message that only the
        # collector would break.
        refused.__traceback__ = None
        refused.__context__ = None
        return refused


def _at_once(
    connection: Connection, decoded: Decoded | Refused, repository: CallRepository
) -> bool:
    """Handle ``decoded`` if it needs no await (the common fragment, a refusal): True when it
    was handled; False leaves it to the connection's loop."""
    metrics = connection.metrics
    if (
        not isinstance(decoded, Refused)
        and repository.behind
        and (decoded.item is not None or isinstance(decoded.message, StartMessage))
    ):
        metrics.message(decoded.kind)
        _refuse(connection, metrics, StoreBehind.code, StoreBehind.DETAIL)
        return True
    if connection.record is None:
        return False
    if isinstance(decoded, Refused):
        _refuse(connection, metrics, decoded.code, decoded.detail)
        return True
    if (
        connection.following
        and connection.runner is not None
        and not isinstance(decoded.message, ResumeMessage)
    ):
        _handle(connection, decoded, metrics)
        return True
    return False


def _in_place_for(
    connection: Connection, direct: Direct, quotas: Quotas, repository: CallRepository
) -> Callable[[str], bool]:
    """The handler of the text messages the protocol hands over as they arrive, while the
    connection's loop waits for one (``app.ops.websocket``): each is handled at once and its
    answers written at once, as the loop would; one that needs an await (a ``resume``) goes
    to the loop, decoded. A message is declined (False: the protocol queues it for the loop)
    while the connection's call is not followed yet or a sender is at work, so that
    everything stays in order."""
    subscriber = connection.subscriber
    tenant = connection.principal.tenant
    write = direct.write_text

    def in_place(text: str) -> bool:
        if subscriber.busy or not connection.following or connection.runner is None:
            return False
        subscriber.hold()  # before the quota: a refusal is written here too, in line
        if _admitted(connection, quotas, tenant):
            frame: dict[str, Any] = {"type": "websocket.receive", "text": text}
            decoded = _decode(connection, frame)
            if not _at_once(connection, decoded, repository):
                subscriber.release_now(write)
                frame[DECODED] = decoded
                direct.defer(frame)
                return True
        subscriber.release_now(write)
        return True

    return in_place


def _refuse(connection: Connection, metrics: Metrics, code: str, detail: str) -> None:
    metrics.refused(code)
    connection.error(code, detail)


async def _follow_then_handle(
    connection: Connection, decoded: Decoded, metrics: Metrics
) -> tuple[int, str] | None:
    """The first message of a connection to a known call, a ``resume``, or a message for a
    call that does not run on this instance (yet)."""
    if isinstance(decoded.message, ResumeMessage):
        metrics.message(decoded.kind)
        connection.resumed = True
        await connection.follow(decoded.message.last_event_seq)
        return None
    if not connection.following:
        await connection.follow()
    record = connection.record
    writes = decoded.item is not None or isinstance(decoded.message, StartMessage)
    if connection.runner is None and writes and record is not None:
        if connection.moved is not None:
            metrics.message(decoded.kind)
            _refuse(connection, metrics, "call_moved", connection.moved)
            return None
        # A call another instance runs (or ran): take it over, or say why not.
        try:
            connection.runner = await connection.calls.claim(record, connection.resumed)
        except HuashuError as exc:
            metrics.message(decoded.kind)
            _refuse(connection, metrics, exc.code, exc.detail)
            return None
    _handle(connection, decoded, metrics)
    return None


async def _late_call(
    connection: Connection, decoded: Decoded | Refused, metrics: Metrics
) -> tuple[int, str] | None:
    """A frame on a connection whose call did not exist when it opened: the call may exist now
    (made over REST); else a ``start`` creates it and anything else (valid) closes with 4404."""
    record = await connection.calls.find(connection.key)
    if record is not None:
        connection.take(record)
    if isinstance(decoded, Refused):
        _refuse(connection, metrics, decoded.code, decoded.detail)
        return None
    if record is not None:
        return await _follow_then_handle(connection, decoded, metrics)
    if not isinstance(decoded.message, StartMessage):
        metrics.message(decoded.kind)
        return CLOSE_UNKNOWN_CALL, "unknown call: send start first"
    try:
        record = await connection.calls.create(
            decoded.message, connection.key.call_id, connection.key.tenant
        )
    except HuashuError as exc:
        metrics.message(decoded.kind)
        connection.error(exc.code, exc.detail)
        code = CLOSE_TOO_MANY if isinstance(exc, TooMany) else CLOSE_UNKNOWN_CALL
        return code, exc.detail[:120]
    connection.take(record)
    return await _follow_then_handle(connection, decoded, metrics)


def _handle(connection: Connection, decoded: Decoded, metrics: Metrics) -> None:
    """A decoded message for the connection's call, which it follows: synchronous."""
    kind, seq, message, item, more = decoded
    metrics.message(kind)
    if item is None and message is None:
        return  # an ASR engine's message with nothing for the call: a handshake, a repeat
    after: After | None = None
    if seq is not None or isinstance(message, PingMessage):
        reply = connection.subscriber.reply
        ping = isinstance(message, PingMessage)
        arrived = connection.arrived
        store_write = metrics.store_write

        def after(duplicate: bool) -> None:
            # Behind the events of everything before: ack and pong mean "processed".
            store_write.observe(time.perf_counter() - arrived)
            if seq is not None:
                reply({"type": "ack", "seq": seq})
            if ping:
                reply({"type": "pong"})

    runner = connection.runner
    if runner is None:
        if item is None and isinstance(message, PingMessage) and after is not None:
            after(False)  # a listener of a call run elsewhere: it wrote nothing to wait for
            return
        assert connection.record is not None
        try:
            runner = connection.calls.runner(connection.record)
        except HuashuError as exc:
            _refuse(connection, metrics, exc.code, exc.detail)
            return
    if type(item) is Fragment and not connection.may_write(runner, item.speaker):
        metrics.refused("writer_taken")
        return
    if (
        isinstance(message, StartMessage)
        and connection.record is not None
        and message.script != connection.record.script_id
    ):
        _refuse(
            connection,
            metrics,
            "start_mismatch",
            f"call {connection.key.call_id!r} runs script {connection.record.script_id!r}, "
            f"not {message.script!r}",
        )
        return
    # start for an existing call and ping carry no input: they wait their turn, nothing more.
    if item is None:
        try:
            runner.process(None, seq=seq, after=after)
        except HuashuError as exc:
            _refuse(connection, metrics, exc.code, exc.detail)
        return
    started = time.perf_counter()
    if more:
        events = _process_all(connection, metrics, runner, (item, *more))
    else:
        try:
            events = runner.process(item, seq=seq, after=after)
        except HuashuError as exc:
            _refuse(connection, metrics, exc.code, exc.detail)
            return
    done = time.perf_counter()
    metrics.handling.observe(done - started)
    if type(item) is Fragment:
        connection.fragments.inc(1 + len(more))
    for event in events:
        if event.type == "alert":
            connection.alert_latency.observe(done - connection.arrived)


def _process_all(
    connection: Connection, metrics: Metrics, runner: CallRunner, items: tuple[Input, ...]
) -> list[Event]:
    """Several inputs of one ASR message (they carry no ``seq``): each in turn; one the call
    refuses is an error event and the others go on."""
    events: list[Event] = []
    for item in items:
        try:
            events += runner.process(item)
        except HuashuError as exc:
            _refuse(connection, metrics, exc.code, exc.detail)
    return events
