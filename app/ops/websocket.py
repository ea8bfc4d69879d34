"""uvicorn's WebSocket protocol (``websockets-sansio``), with two changes ``huashu serve`` relies
on (it passes this class to uvicorn as its ``ws`` protocol):

- **The handshake fix.** A handshake the ``websockets`` parser refuses on its own — a request
  line or a header past its limits (414, 431), a request it cannot read — is answered and the
  connection closed, instead of left open with the answer never written. uvicorn 0.54 writes
  what the parser produced only for the events it yields (a request, a frame); a refusal made
  while parsing the request yields none, so the client waits for ever (an 8,200-character call
  id in the stream's path hung the socket).
- **Frames handed over in place** (:class:`Direct`). uvicorn puts every received message on a
  per-connection queue, pauses reading, and wakes the app's task to take it; the app's answer
  waits for that task's turn of the event loop. An app that reads its messages the same way
  every time (the call stream) may instead give the protocol a handler, through the scope's
  ``huashu.direct`` extension: a text message that arrives while the app waits for one, with
  nothing queued before it, is given to the handler at once, inside ``data_received``, and the
  handler may write its answers at once (:meth:`Direct.write_text`). A handler that declines
  a message (it returns False) sends it down uvicorn's queue as before, where the app's
  ``receive`` finds it; a message that arrives while the app is busy also goes the queue's way,
  so messages are always handled in the order they came.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

#: The scope's extension under which the app finds the connection's :class:`Direct`.
DIRECT = "huashu.direct"


class Direct:
    """One connection's in-place frame delivery, as the app sees it."""

    __slots__ = ("_protocol", "handler", "idle")

    def __init__(self, protocol: HuashuWebSocketProtocol) -> None:
        self._protocol = protocol
        #: Called with each text message that may be handled in place; True when it was.
        self.handler: Callable[[str], bool] | None = None
        #: The app waits for its next message (set by the app around its ``receive``): only
        #: then may a message skip the queue.
        self.idle = False

    def defer(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for the app's ``receive`` (a message the handler took but cannot
        finish in place), reading paused until the app has taken it, as uvicorn does."""
        protocol = self._protocol
        protocol.queue.put_nowait(message)  # type: ignore[arg-type]
        if not protocol.read_paused:
            protocol.read_paused = True
            protocol.transport.pause_reading()

    def write_text(self, text: str) -> bool:
        """Write a text message now; False (nothing written) when the socket is not writable
        (the peer is not reading: send it the ASGI way, which waits), closing or closed."""
        protocol = self._protocol
        if (
            protocol.close_sent
            or protocol.disconnected
            or not protocol.writable.is_set()
            or protocol.transport.is_closing()
        ):
            return False
        try:
            protocol.conn.send_text(text.encode())
        except InvalidState:  # the peer's close arrived: the ASGI way raises for it
            return False
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        return True


class HuashuWebSocketProtocol(WebSocketsSansIOProtocol):
    direct: Direct | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            # The parser refused the handshake itself: send its answer, then close.
            output = self.conn.data_to_send()
            if output:
                self.transport.write(b"".join(output))
            self.close_sent = True
            self.transport.close()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            self.direct = Direct(self)
            scope["extensions"][DIRECT] = self.direct

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # The protocol, its scope and its Direct refer to one another: undone here, so that a
        # closed connection is freed when the app lets go of it, not at a full collection.
        direct = self.direct
        if direct is not None:
            direct.handler = None
            self.direct = None
            scope = getattr(self, "scope", None)
            if scope is not None:
                scope["extensions"].pop(DIRECT, None)

    def send_receive_event_to_app(self) -> None:
        direct = self.direct
        if (
            direct is not None
            and direct.idle
            and direct.handler is not None
            and self.curr_msg_data_type == "text"
            and not self.close_sent
            and len(self.frames) == 1
            and self.queue.empty()
        ):
            try:
                text = bytes(self.frames[0]).decode()
            except UnicodeDecodeError:
                pass  # uvicorn's way: it closes with 1007
            else:
                try:
                    handled = direct.handler(text)
                except Exception:  # noqa: BLE001 - as uvicorn does when the app raises
                    self.logger.exception("Exception in a WebSocket message handler\n")
                    self.frames = []
                    self.transport.close()
                    return
                if handled:
                    self.frames = []
                    return
        super().send_receive_event_to_app()
