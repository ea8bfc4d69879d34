"""The guard every connection meets: the open service answers loopback clients only; a body past
the limit is refused before it is read. Real ASGI calls on a real Guard; the served behaviour is
tested end to end in tests/e2e/test_hostile.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.exceptions import HTTPException

from app.config import Settings
from app.ops.guard import Guard, is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def call(
    guard: Guard, scope: dict[str, Any], body: list[bytes] | None = None
) -> tuple[Any, list[Any]]:
    sent: list[Any] = []
    chunks = list(body or [b""])

    async def receive() -> dict[str, Any]:
        if scope["type"] == "websocket":
            return {"type": "websocket.connect"}
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: Any) -> None:
        sent.append(message)

    async def main() -> Any:
        admitted = await guard.admit(scope, receive, send)
        if admitted is None:
            return None
        read = b""
        while True:
            message = await admitted()
            read += message["body"]
            if not message["more_body"]:
                return read

    return asyncio.run(main()), sent


def scope(
    kind: str = "http", client: str = "127.0.0.1", length: int | None = None
) -> dict[str, Any]:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    return {"type": kind, "client": (client, 5000), "headers": headers}


OPEN = Settings(api_keys=None)
KEYED = Settings(api_keys="t:k")


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_the_open_service_refuses_clients_beyond_loopback(kind: str) -> None:
    result, sent = call(Guard(OPEN), scope(kind, client="10.1.2.3"))
    assert result is None
    if kind == "http":
        assert sent[0]["status"] == 403 and b"HUASHU_API_KEYS" in sent[1]["body"]
    else:
        assert (
            sent == [sent[0]] and sent[0]["type"] == "websocket.close" and sent[0]["code"] == 4403
        )


def test_with_keys_or_insecure_every_client_is_admitted() -> None:
    for settings in (KEYED, Settings(api_keys=None, insecure=True)):
        result, sent = call(Guard(settings), scope(client="10.1.2.3"), [b"{}"])
        assert result == b"{}" and sent == []


def test_a_declared_body_past_the_limit_is_refused_unread() -> None:
    guard = Guard(Settings(api_keys="t:k", max_body_bytes=10))
    result, sent = call(guard, scope(length=11), [b"x" * 11])
    assert result is None and sent[0]["status"] == 413 and b"too_large" in sent[1]["body"]


def test_a_chunked_body_past_the_limit_is_refused_as_it_arrives() -> None:
    guard = Guard(Settings(api_keys="t:k", max_body_bytes=10))
    with pytest.raises(HTTPException) as refused:
        call(guard, scope(), [b"x" * 6, b"x" * 6])
    assert refused.value.status_code == 413
    assert call(guard, scope(), [b"x" * 5, b"x" * 5])[0] == b"x" * 10  # at the limit: fine
