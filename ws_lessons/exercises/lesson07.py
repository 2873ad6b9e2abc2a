"""Exercises of lesson 07: WebSocket endpoints in FastAPI."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketException, status
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ws_lessons.exercises.core import TIMEOUT, Hint, connected, exchange, exercise, served
from ws_lessons.i18n import N_, _

__all__ = [
    "PATHS_07_1",
    "PROBE",
    "check_07_1",
    "check_07_2",
    "check_07_3",
    "endpoints_07_1",
    "solution_07_1",
    "solution_07_2",
    "solution_07_3",
]

# 07.1 -------------------------------------------------------------------------------------------


def endpoints_07_1() -> FastAPI:
    """Five endpoints, five ways a WebSocket conversation ends. Read them; predict."""
    app = FastAPI()

    @app.websocket("/a")
    async def a(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        # ...and the function simply returns

    @app.websocket("/b")
    async def b(websocket: WebSocket) -> None:
        await websocket.accept()
        raise ValueError("a bug in the endpoint")

    @app.websocket("/c")
    async def c(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close(code=4001, reason="come back later")

    @app.websocket("/d")
    async def d(websocket: WebSocket) -> None:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="no")

    @app.websocket("/e")
    async def e(websocket: WebSocket, room: int) -> None:
        await websocket.accept()  # the client connects to /e?room=lobby

    return app


PATHS_07_1 = {"A": "/a", "B": "/b", "C": "/c", "D": "/d", "E": "/e?room=lobby"}

_WHY_07_1 = {
    "A": N_(
        "nothing calls close(), so no close frame is sent: when the function returns, "
        "uvicorn just closes the TCP connection. Which code does a client report for a "
        "connection that ended without a close frame (RFC 6455 §7.1.5)?"
    ),
    "B": N_(
        "after accept() there is no HTTP any more. When the endpoint raises, uvicorn logs "
        "the error and closes the TCP connection, without a close frame"
    ),
    "C": N_("close() sends the code you give it, whatever it is"),
    "D": N_(
        "raised before accept(), so the handshake itself is refused, with an HTTP status; "
        "the 1008 of the exception has no frame to travel in"
    ),
    "E": N_(
        "the query parameter fails validation before the endpoint runs, so the handshake "
        "is refused, as lesson 07 showed for a room that is not a number"
    ),
}
_MISTAKES_07_1 = {
    ("A", 1000): N_("1000 (normal closure) would need a close frame, and nothing calls close()"),
    ("B", 500): N_("500 is an HTTP status, but the handshake was over when the error happened"),
    ("B", 1011): N_(
        "1011 (internal error) is what a server could send, in a close frame; look "
        "at what uvicorn does when the endpoint raises: it sends no frame at all"
    ),
    ("D", 1008): N_("a close code needs an open WebSocket to travel in, and this one never opened"),
    ("E", 422): N_(
        "422 is what an HTTP route answers; a WebSocket handshake that fails "
        "validation gets the same refusal as any endpoint that does not accept"
    ),
}


def _ending(server: Any, path: str) -> int:
    """The close code the client received, or the HTTP status of a refused handshake."""
    try:
        with connect(server.ws_url(path), open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
            while True:
                ws.recv(timeout=TIMEOUT)
    except InvalidStatus as refused:
        return refused.response.status_code
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 1006
    except TimeoutError:
        return 0


@exercise(
    "07.1",
    nudge="Sort the endpoints first: which of them call accept() before they end? Only a "
    "WebSocket that was accepted can be closed with a code.",
    hint="Before accept(), the only answer is an HTTP status, and uvicorn uses one status "
    "for every refusal. After accept(), a code reaches the client only inside a close "
    "frame; when the connection just ends without one, the client reports a code of "
    "its own, one that is never sent on the wire.",
)
def check_07_1(prediction: Any) -> str:
    """For each endpoint of endpoints_07_1(), the close code the client gets (an int), or the
    HTTP status if the handshake is refused."""
    if not isinstance(prediction, dict) or set(prediction) != set(PATHS_07_1):
        raise Hint(_('answer with a dict {"A": code, ..., "E": code} of ints'))
    try:
        guesses = {letter: int(prediction[letter]) for letter in PATHS_07_1}
    except (TypeError, ValueError):
        raise Hint(
            _("give each letter an int: a close code like 1001, or an HTTP status")
        ) from None
    with served(endpoints_07_1(), "07.1") as server:
        seen = {letter: _ending(server, path) for letter, path in PATHS_07_1.items()}
    for letter, guess in guesses.items():
        if guess != seen[letter]:
            mistake = _MISTAKES_07_1.get((letter, guess))
            raise Hint(
                _("think again about {letter}: {why}").format(
                    letter=letter, why=_(mistake or _WHY_07_1[letter])
                )
            )
    codes = ", ".join(f"{letter} {code}" for letter, code in seen.items())
    return _("the real server agrees: {codes}").format(codes=codes)


@exercise(
    "07.2",
    nudge="Lesson 07's /rooms/{room_id} takes its room from the path, and /sum speaks JSON "
    "both ways: this endpoint does both.",
    hint="A parameter named like the path's placeholder receives it. The JSON helpers of "
    "the WebSocket parse what arrives and serialise what you send, so the loop only "
    "builds a dict.",
)
def check_07_2(app: Any) -> str:
    """/rooms/{room} answers {"text": t} with {"room": room, "text": t, "length": len(t)}."""
    with served(app, "07.2") as server, connected(server, "/rooms/lobby") as ws:
        for text in ("hi", "héllo wörld"):
            after = _("sending {message}").format(message={"text": text})
            reply = exchange(ws, json.dumps({"text": text}), after)
            try:
                data = json.loads(reply)
            except (TypeError, ValueError):
                raise Hint(
                    _("the reply {reply!r} is not JSON: use websocket.send_json()").format(
                        reply=reply
                    )
                ) from None
            expected = {"room": "lobby", "text": text, "length": len(text)}
            if data == expected:
                continue
            if isinstance(data, dict) and data.get("room") != "lobby":
                raise Hint(
                    _(
                        "connected to /rooms/lobby, the reply said room {room!r}: "
                        "take the room from the path"
                    ).format(room=data.get("room"))
                )
            if isinstance(data, dict) and data.get("length") == len(text.encode()) != len(text):
                raise Hint(
                    _(
                        "for {text!r} you counted {length}: that is its UTF-8 bytes; "
                        "the length asked for is in characters, as Python's len() of the text"
                    ).format(text=text, length=data["length"])
                )
            raise Hint(_("expected {expected}, got {got}").format(expected=expected, got=data))
    return _("the room comes from the path and the reply is JSON")


@exercise(
    "07.3",
    nudge="Follow a client with a wrong token through the endpoint, line by line: when "
    "does it learn it is not welcome, and is it stopped there?",
    hint="Decide before letting the client in: the token is in the request, so the "
    "handshake can be refused (lesson 07's door does that). If you close after "
    "accepting instead, give the code for a policy violation, and stop there.",
)
def check_07_3(app: Any) -> str:
    """/guarded?token=sesame echoes; any other token is refused with 1008 (policy violation)."""
    with served(app, "07.3") as server:
        _guarded_visits(server)
    return _("wrong tokens are refused with a policy violation, the right one gets in")


def _guarded_visits(server: Any) -> None:
    """A wrong token is refused with 1008 (or HTTP 403); the right one gets an echo."""
    url = server.ws_url("/guarded?token=wrong")
    try:
        with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
            _read_until_closed(ws)
    except InvalidStatus as exc:
        if exc.response.status_code != 403:
            raise Hint(
                _("a wrong token got HTTP {status}, not 403").format(
                    status=exc.response.status_code
                )
            ) from None
    with connected(server, "/guarded?token=sesame") as ws:
        reply = exchange(ws, "open sesame", _("connecting with the right token"))
        if reply != "open sesame":
            raise Hint(
                _("with the right token, echo the message back; got {reply!r}").format(reply=reply)
            )


PROBE = "may I come in?"


def _read_until_closed(ws: Any) -> None:
    """Knock with a wrong token: read every message (a warning is fine) until the server
    closes, and judge the close. An echo of the probe, or no close at all, means it got in."""
    try:
        ws.send(PROBE)
        while True:
            if ws.recv(timeout=TIMEOUT) == PROBE:
                raise Hint(_("a wrong token was let in and the connection stayed open"))
    except TimeoutError:
        raise Hint(_("a wrong token was let in: nothing closed the connection")) from None
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
    if code == 1008:
        return
    if code is None:
        raise Hint(
            _(
                "a wrong token saw the connection end without a close frame (a client reports "
                "1006): close it with the code for a policy violation"
            )
        )
    if code == 1000:
        raise Hint(
            _(
                "a wrong token was closed with 1000: 1000 says all went well; tell the "
                "client why it is refused, with the code for a policy violation"
            )
        )
    raise Hint(
        _("a wrong token was closed with {code}; use the code for a policy violation").format(
            code=code
        )
    )


# Reference answers


def solution_07_1() -> dict[str, int]:
    # A and B: no close frame (uvicorn closes the TCP connection), so 1006 abnormal closure.
    # C: the code given. D and E: refused before accept(), so HTTP 403 and no close code.
    return {"A": 1006, "B": 1006, "C": 4001, "D": 403, "E": 403}


def solution_07_2() -> FastAPI:
    app = FastAPI()

    @app.websocket("/rooms/{room}")
    async def room_echo(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive_json()
            text = message["text"]
            await websocket.send_json({"room": room, "text": text, "length": len(text)})

    return app


def solution_07_3() -> FastAPI:
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
