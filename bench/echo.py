"""The ceiling: a bare Starlette WebSocket echo on the same uvicorn, orjson on the wire."""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = orjson.loads(await websocket.receive_text())
            await websocket.send_text(orjson.dumps(message).decode())
    except WebSocketDisconnect:
        pass


app = Starlette(routes=[WebSocketRoute("/echo", echo)])
