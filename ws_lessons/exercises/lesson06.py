"""Exercises of lesson 06: WebSocket endpoints in FastAPI."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketException, status
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ws_lessons.exercises.core import TIMEOUT, Hint, connected, exchange, exercise, served


@exercise(
    "06.1",
    hint="After accept(), loop forever: receive_text(), then send_text() of its .upper().",
)
def check_06_1(app: Any) -> str:
    """An endpoint at /shout that sends every text message back in capitals."""
    with served(app, "06.1") as server, connected(server, "/shout") as ws:
        for text in ("hello", "Still there?"):
            reply = exchange(ws, text, f"sending {text!r}")
            if reply == text:
                raise Hint(f"you sent {text!r} back unchanged: use text.upper()")
            if reply != text.upper():
                raise Hint(f"for {text!r} you replied {reply!r}; expected {text.upper()!r}")
    return "/shout answers every message in capitals"


@exercise(
    "06.2",
    hint="Declare room as a parameter of the endpoint; receive_json() and send_json() do "
    "the (de)serialising.",
)
def check_06_2(app: Any) -> str:
    """/rooms/{room} answers {"text": t} with {"room": room, "text": t, "length": len(t)}."""
    with served(app, "06.2") as server, connected(server, "/rooms/lobby") as ws:
        for text in ("hi", "héllo wörld"):
            reply = exchange(ws, json.dumps({"text": text}), f"sending {{'text': {text!r}}}")
            try:
                data = json.loads(reply)
            except (TypeError, ValueError):
                raise Hint(f"the reply {reply!r} is not JSON: use websocket.send_json()") from None
            expected = {"room": "lobby", "text": text, "length": len(text)}
            if data != expected:
                raise Hint(f"expected {expected}, got {data}")
    return "the room comes from the path and the reply is JSON"


@exercise(
    "06.3",
    hint="Declare token: str as a parameter (it comes from the query string) and raise "
    "WebSocketException(code=status.WS_1008_POLICY_VIOLATION) before accept().",
)
def check_06_3(app: Any) -> str:
    """/guarded?token=sesame echoes; any other token is refused with 1008 (policy violation)."""
    with served(app, "06.3") as server:
        url = server.ws_url("/guarded?token=wrong")
        try:
            with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
                ws.recv(timeout=TIMEOUT)
            raise Hint("a wrong token was let in and the connection stayed open")
        except InvalidStatus as exc:
            if exc.response.status_code != 403:
                raise Hint(f"a wrong token got HTTP {exc.response.status_code}, not 403") from None
        except TimeoutError:
            raise Hint("a wrong token was let in: nothing closed the connection") from None
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            if code != 1008:
                raise Hint(
                    f"a wrong token was closed with {code}; use 1008 (policy violation)"
                ) from None
        with connected(server, "/guarded?token=sesame") as ws:
            reply = exchange(ws, "open sesame", "connecting with the right token")
            if reply != "open sesame":
                raise Hint(f"with the right token, echo the message back; got {reply!r}")
    return "wrong tokens are refused with a policy violation, the right one gets in"


# Reference answers


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
