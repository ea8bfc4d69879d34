"""The ceiling: a bare Starlette WebSocket echo on the same uvicorn, orjson on the wire, and the
same garbage-collector policy as the service (``app.main``: freeze what start-up made, full
collections at 100 middle ones) so the comparison is of the work per message, not of the
collector's settings."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

#: As the service's (``app.main.GC_OLDER_THRESHOLDS`` and ``HUASHU_GC_YOUNG_THRESHOLD``, read
#: here: the echo must not load the service).
GC_THRESHOLDS = (int(os.environ.get("HUASHU_GC_YOUNG_THRESHOLD", "700")), 10, 100)


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = orjson.loads(await websocket.receive_text())
            await websocket.send_text(orjson.dumps(message).decode())
    except WebSocketDisconnect:
        pass


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    yield


app = Starlette(routes=[WebSocketRoute("/echo", echo)], lifespan=lifespan)
