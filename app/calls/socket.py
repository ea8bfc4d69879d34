"""The WebSocket side of the call stream: the close codes and what they mean, the few socket
operations the stream needs straight on the ASGI callables, and how a handshake's credential,
headers and origin are read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from app.auth import bearer
from app.errors import Forbidden, HuashuError, NotFound, Unauthorized
from app.ops.quotas import TooMany

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: An unknown ``?format=`` or ``?speaker=`` (unsupported data).
CLOSE_UNSUPPORTED = 1003
#: A peer that lets more than ``HUASHU_MAX_PENDING_EVENTS`` wait unread (policy violation).
CLOSE_TOO_SLOW = 1008
#: A second writer of a call's leg, or a writer replaced by a client reconnecting (HTTP 409).
CLOSE_CONFLICT = 4409
#: A tenant's bound on open connections is reached (HTTP 429).
CLOSE_TOO_MANY = 4429
#: The instance is going away: reconnect (to any instance), ``resume``, resend (PROTOCOL).
CLOSE_RESTART = 1012
#: PROTOCOL's: a bad or missing token, a token of another call or tenant, an unknown call.
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_CALL = 4404


#: The subprotocol a browser names its credential in: ``bearer.<token>``.
BEARER_SUBPROTOCOL = "bearer."


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def origins(allowed: str) -> set[str]:
    return {origin.strip() for origin in allowed.split(",") if origin.strip()}


def close_for(error: HuashuError) -> tuple[int, str]:
    """The close code and reason of an identity or lookup error (PROTOCOL: bad or missing token
    4401; token for another call 4403; unknown call 4404 — another tenant's call too: call ids
    are each tenant's own, so it is no call of this one)."""
    if isinstance(error, Unauthorized):
        return CLOSE_UNAUTHORIZED, "a call token or API key is needed: ?token="
    if isinstance(error, Forbidden):
        return CLOSE_FORBIDDEN, error.detail
    if isinstance(error, NotFound):
        return CLOSE_UNKNOWN_CALL, error.detail[:120]
    if isinstance(error, TooMany):
        return CLOSE_TOO_MANY, error.detail[:120]
    raise error


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
        """Accept the handshake; False when the client left before it. A client that offered
        the credential as a subprotocol (``bearer.<token>``) gets it named back, as a
        WebSocket handshake must."""
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return False
        accept: dict[str, Any] = {"type": "websocket.accept"}
        offered = self._bearer_subprotocol()
        if offered is not None:
            accept["subprotocol"] = offered
        await self._send(accept)
        return True

    def credential(self) -> str | None:
        """The client's token or key: ``Authorization: Bearer`` (clients that can set
        headers), a ``bearer.<token>`` subprotocol (browsers, which cannot), else ``?token=``
        (PROTOCOL; kept out of the logs). The first two keep it out of URLs altogether."""
        authorization = header(self.scope, b"authorization")
        if authorization is not None:
            found = bearer(authorization)
            if found is not None:
                return found
        offered = self._bearer_subprotocol()
        if offered is not None:
            return offered[len(BEARER_SUBPROTOCOL) :] or None
        return self.query("token")

    def _bearer_subprotocol(self) -> str | None:
        for subprotocol in self.scope.get("subprotocols", ()):
            if subprotocol.startswith(BEARER_SUBPROTOCOL):
                return str(subprotocol)
        return None

    def receive(self) -> Awaitable[MutableMapping[str, Any]]:
        return self._receive()

    def send_text(self, text: str) -> Awaitable[None]:
        return self._send({"type": "websocket.send", "text": text})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason})
