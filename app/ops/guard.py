"""What every connection meets before routing: the open service answers loopback clients only,
and a REST body beyond ``HUASHU_MAX_BODY_BYTES`` is refused before it is read.

Asked at the app's ASGI entry (``app.main.Huashu``), so both hold however the app is served —
``huashu serve`` (which also refuses to bind beyond loopback with no keys) or a bare
``uvicorn app.main:app``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from app.calls.socket import CLOSE_FORBIDDEN
from app.config import Settings


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is this machine only."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Guard:
    """Built from the settings once; :meth:`admit` is asked first for every connection."""

    def __init__(self, settings: Settings) -> None:
        self._open = not settings.api_keys and not settings.insecure
        self._max_body = settings.max_body_bytes

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """The ``receive`` to go on with (counting a request body), or None when the
        connection was refused here (the answer is sent)."""
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return receive
        if self._open and not _from_loopback(scope):
            await _refuse(scope, receive, send, 403, "forbidden", OPEN_ONLY_LOOPBACK)
            return None
        if kind == "websocket":
            return receive
        declared = _content_length(scope)
        if declared is not None and declared > self._max_body:
            await _refuse(scope, receive, send, 413, "too_large", self._too_large())
            return None
        return self._counting(receive)

    def _too_large(self) -> str:
        return f"a request body is at most {self._max_body} bytes"

    def _counting(self, receive: Receive) -> Receive:
        """``receive`` that refuses a body sent in chunks (no length given) past the limit."""
        seen = 0
        limit = self._max_body
        too_large = self._too_large()

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised while the route reads its body: FastAPI passes an HTTPException
                    # on, and the app's handler answers it in the service's error shape.
                    raise HTTPException(413, too_large)
            return message

        return counted


OPEN_ONLY_LOOPBACK = (
    "this service has no API keys configured and answers this machine only; "
    "its operator must set HUASHU_API_KEYS"
)


def _from_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    return client is None or is_loopback(str(client[0]))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str
) -> None:
    if scope["type"] == "websocket":
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN, "reason": detail[:120]})
        return
    body: Any = orjson.dumps({"error": code, "detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
