"""An ASGI app on a real uvicorn server with Huashu's WebSocket protocol, in a thread of the test's
own process (so a test can look at the server's objects), on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from app.ops.websocket import HuashuWebSocketProtocol


@contextmanager
def served(app: Any, start_s: float = 60) -> Iterator[int]:
    """Serve ``app`` until the block ends; yields the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=HuashuWebSocketProtocol, log_level="critical"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_s
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(15)
