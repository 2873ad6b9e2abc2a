"""Reference answers to the exercises, one function each; the tests run them through the checks.

``show("06.1")`` prints the answer's source in a notebook, for when a hint is not enough.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketException, status

from ws_lessons.server import RunningServer, serve


def solution_00_1(app: FastAPI) -> RunningServer:
    return serve(app, name="exercise 00.1")


def solution_06_1() -> FastAPI:
    app = FastAPI()

    @app.websocket("/shout")
    async def shout(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(text.upper())

    return app


def solution_06_2() -> FastAPI:
    app = FastAPI()

    @app.websocket("/rooms/{room}")
    async def room_echo(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive_json()
            text = message["text"]
            await websocket.send_json({"room": room, "text": text, "length": len(text)})

    return app


def solution_06_3() -> FastAPI:
    app = FastAPI()

    @app.websocket("/guarded")
    async def guarded(websocket: WebSocket, token: str = "") -> None:
        if token != "sesame":
            # Raised before accept(): the handshake is refused with HTTP 403.
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="bad token")
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    return app


SOLUTIONS: dict[str, Callable[..., Any]] = {
    "00.1": solution_00_1,
    "06.1": solution_06_1,
    "06.2": solution_06_2,
    "06.3": solution_06_3,
}


def show(exercise: str) -> None:
    """Print the reference answer to ``exercise`` (e.g. ``"06.1"``)."""
    if exercise not in SOLUTIONS:
        print(f"No exercise {exercise!r}; there are: {', '.join(SOLUTIONS)}")
        return
    print(inspect.getsource(SOLUTIONS[exercise]))
