"""The benches' server process: uvicorn on the options ``huashu serve`` uses, with its WebSocket
protocol (``app.ops.websocket``), for Huashu and the echo alike.

``python -m bench.serve <app> <port> <workers>``; ``BENCH_LOOP`` (``uvloop``) and ``BENCH_WS``
(a uvicorn protocol name such as ``websockets-sansio``, instead of Huashu's) change the loop and
the protocol.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import uvicorn

from app.ops.websocket import HuashuWebSocketProtocol


def main() -> None:
    app, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ws: Any = os.environ.get("BENCH_WS") or HuashuWebSocketProtocol
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop=os.environ.get("BENCH_LOOP", "uvloop"),
        http="httptools",
        ws=ws,
        ws_per_message_deflate=False,
        ws_max_size=262144,
        log_level="warning",
        backlog=4096,
        workers=workers,
    )


if __name__ == "__main__":
    main()
