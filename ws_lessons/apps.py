"""Small apps the course serves to test its machinery: not lessons' code, fixtures.

:func:`echo_app` is lesson 07's echo as a FastAPI app; the doctor, the exercises, the
benchmarks and the tests serve it. :func:`websockets_echo` is the same echo for a bare
``websockets`` server, the baseline of the benchmarks.
"""

from __future__ import annotations

import contextlib

from fastapi import FastAPI, WebSocket
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

__all__ = ["echo_app", "websockets_echo"]


def echo_app(path: str = "/") -> FastAPI:
    """Lesson 07's echo at ``path``, for text and binary messages alike."""
    app = FastAPI()

    @app.websocket(path)
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while (message := await websocket.receive())["type"] == "websocket.receive":
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])

    return app


async def websockets_echo(websocket: ServerConnection) -> None:
    """The same echo for a bare ``websockets`` server: the baseline of the benchmarks."""
    with contextlib.suppress(ConnectionClosed):
        async for message in websocket:
            await websocket.send(message)
