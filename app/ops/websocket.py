"""uvicorn's WebSocket protocol (``websockets-sansio``), with one fix: a handshake the
``websockets`` parser refuses on its own — a request line or a header past its limits (414,
431), a request it cannot read — is answered and the connection closed, instead of left open
with the answer never written.

uvicorn 0.54 writes what the parser produced only for the events it yields (a request, a
frame); a refusal made while parsing the request yields none, so the client waits for ever (an
8,200-character call id in the stream's path hung the socket). ``huashu serve`` passes this
class to uvicorn as its ``ws`` protocol.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class HuashuWebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            # The parser refused the handshake itself: send its answer, then close.
            output = self.conn.data_to_send()
            if output:
                self.transport.write(b"".join(output))
            self.close_sent = True
            self.transport.close()
