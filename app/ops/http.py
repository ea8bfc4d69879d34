"""uvicorn's HTTP protocol (httptools), with a deadline on reading a request's head.

uvicorn times out only a keep-alive connection that sends nothing after a response
(``timeout_keep_alive``). A connection that sends nothing at all, or half a request line or
half its headers and then stops, is held for ever — with its socket, buffers and a place in
uvicorn's connection set — so a client could hold as many as the process has file descriptors.
Here the head of every request (the first on a connection from the moment it opens, a later one
from its first byte) must be complete within ``header_timeout_s``; if it is not, the connection
is answered ``408`` (when part of a request came) and closed.

The WebSocket handshake is an HTTP request like any other, so the stream is covered too; once
its head is read the WebSocket protocol takes the connection over. ``huashu serve`` passes the
class :func:`protocol_with_header_timeout` makes to uvicorn as its ``http`` protocol.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings

log = logging.getLogger(__name__)

_TIMEOUT_BODY = b'{"error":"request_timeout","detail":"the request head did not come in time"}'
#: What a connection whose request head did not come in time is told before it is closed.
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(_TIMEOUT_BODY)
    + _TIMEOUT_BODY
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` that closes a connection whose request head is not complete
    within :attr:`header_timeout_s` (set on the subclass :func:`protocol_with_header_timeout`
    makes)."""

    header_timeout_s: float = 10.0

    _head_timer: asyncio.TimerHandle | None = None
    #: Bytes of the request being read have come (a 408 is owed rather than a silent close).
    _head_begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            # Between requests (uvicorn's keep-alive timer is running, and super() stops it):
            # a new request begins, and its head has as long as the first one's.
            self._await_head()
        self._head_begun = self._head_timer is not None
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._stop_waiting()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._stop_waiting()
        self._head_begun = False
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_late)

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        log.info("a request head did not come within %.1f s: closed", self.header_timeout_s)
        if self._head_begun:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


class HuashuHttpProtocol(HeaderTimeoutProtocol):
    """The protocol ``huashu serve`` gives uvicorn. A class of the module's own, not one made
    per call: ``--workers`` sends uvicorn's configuration to each worker by pickling it, and a
    class pickles by its name. A worker imports this module afresh and reads the deadline from
    the settings (``HUASHU_HEADER_TIMEOUT_S``), as its app does; the parent sets it from the
    settings it checked (:func:`protocol_with_header_timeout`)."""

    header_timeout_s = Settings().header_timeout_s


def protocol_with_header_timeout(header_timeout_s: float) -> type[HeaderTimeoutProtocol]:
    """The HTTP protocol class for uvicorn, with this deadline on a request's head
    (``HUASHU_HEADER_TIMEOUT_S``)."""
    HuashuHttpProtocol.header_timeout_s = header_timeout_s
    return HuashuHttpProtocol
