"""Instant feedback for the exercises: ``check_<lesson>_<n>(answer)``.

A check prints a pass or a hint and returns a :class:`Verdict` that is true when the
answer passes. It never raises on a wrong answer, so a notebook with unsolved
exercises still runs top to bottom. Checks that receive an app start it with
:func:`ws_lessons.server.serve` and talk to it with the real ``websockets`` client.
The reference answers live in :mod:`ws_lessons.solutions`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ws_lessons.server import RunningServer, ServerError, serve

__all__ = ["Verdict", "check_00_1", "check_06_1", "check_06_2", "check_06_3"]

TIMEOUT = 2.0


class Hint(Exception):
    """Raised inside a check to say what is wrong with the answer."""


class Verdict:
    """The outcome of a check: true when the answer passed. Already printed, so it shows nothing."""

    def __init__(self, exercise: str, passed: bool, message: str) -> None:
        self.exercise, self.passed, self.message = exercise, passed, message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "passed" if self.passed else "not yet"
        return f"<Verdict {self.exercise} {mark}: {self.message}>"

    def _ipython_display_(self) -> None:
        """The message was printed already: show nothing more when it ends a cell."""


def exercise(number: str) -> Callable[[Callable[[Any], str]], Callable[[Any], Verdict]]:
    """Turn ``check(answer) -> success message`` (raising :class:`Hint`) into a safe check."""

    def decorate(check: Callable[[Any], str]) -> Callable[[Any], Verdict]:
        @functools.wraps(check)
        def safe_check(answer: Any) -> Verdict:
            try:
                verdict = Verdict(number, True, check(answer))
            except Hint as hint:
                verdict = Verdict(number, False, str(hint))
            except Exception as exc:  # an answer must never crash the notebook
                verdict = Verdict(number, False, f"checking raised {type(exc).__name__}: {exc}")
            icon = "✅ passed" if verdict else "❌ not yet"
            print(f"Exercise {number} {icon}: {verdict.message}")
            return verdict

        return safe_check

    return decorate


@contextmanager
def _served(app: Any, exercise: str) -> Iterator[RunningServer]:
    if not callable(app):
        raise Hint(f"pass your FastAPI app (the object you called FastAPI()), not {app!r}")
    try:
        server = serve(app, name=f"check {exercise}")
    except ServerError as exc:
        raise Hint(f"your app did not start: {exc}") from None
    with server:
        yield server


@contextmanager
def _connected(server: RunningServer, path: str) -> Iterator[ClientConnection]:
    try:
        with connect(server.ws_url(path), open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
            yield ws
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise Hint(
            f"the handshake on {path} was refused with HTTP {status}. "
            + (
                "Is the path right, and does the endpoint call `await websocket.accept()`?"
                if status in (403, 404)
                else "Look at the server logs."
            )
        ) from None


def _exchange(ws: ClientConnection, message: str, after: str) -> str | bytes:
    """Send ``message`` and return the reply, turning every way of failing into a hint."""
    try:
        ws.send(message)
        return ws.recv(timeout=TIMEOUT)
    except TimeoutError:
        raise Hint(f"no reply within {TIMEOUT:.0f} s after {after}") from None
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else "none"
        raise Hint(
            f"the server closed the connection (code {code}) after {after}: "
            "does your endpoint keep looping with `while True`?"
        ) from None


@exercise("00.1")
def check_00_1(server: Any) -> str:
    """Start the lesson's app with serve() and pass the handle."""
    if not isinstance(server, RunningServer):
        raise Hint(
            f"pass what serve(app) returned (a RunningServer), not a {type(server).__name__}"
        )
    if not server.running:
        raise Hint("this server is stopped: did you leave a `with serve(...)` block already?")
    response = httpx.get(f"{server.url}/", timeout=TIMEOUT)
    if response.status_code != 200:
        raise Hint(f"GET / answered {response.status_code}; serve the app defined in the lesson")
    return f"your server answers on port {server.port}"


@exercise("06.1")
def check_06_1(app: Any) -> str:
    """An endpoint at /shout that sends every text message back in capitals."""
    with _served(app, "06.1") as server, _connected(server, "/shout") as ws:
        for text in ("hello", "Still there?"):
            reply = _exchange(ws, text, f"sending {text!r}")
            if reply == text:
                raise Hint(f"you sent {text!r} back unchanged: use text.upper()")
            if reply != text.upper():
                raise Hint(f"for {text!r} you replied {reply!r}; expected {text.upper()!r}")
    return "/shout answers every message in capitals"


@exercise("06.2")
def check_06_2(app: Any) -> str:
    """/rooms/{room} answers {"text": t} with {"room": room, "text": t, "length": len(t)}."""
    with _served(app, "06.2") as server, _connected(server, "/rooms/lobby") as ws:
        for text in ("hi", "héllo wörld"):
            reply = _exchange(ws, json.dumps({"text": text}), f"sending {{'text': {text!r}}}")
            try:
                data = json.loads(reply)
            except (TypeError, ValueError):
                raise Hint(f"the reply {reply!r} is not JSON: use websocket.send_json()") from None
            expected = {"room": "lobby", "text": text, "length": len(text)}
            if data != expected:
                raise Hint(f"expected {expected}, got {data}")
    return "the room comes from the path and the reply is JSON"


@exercise("06.3")
def check_06_3(app: Any) -> str:
    """/guarded?token=sesame echoes; any other token is refused with 1008 (policy violation)."""
    with _served(app, "06.3") as server:
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
        with _connected(server, "/guarded?token=sesame") as ws:
            reply = _exchange(ws, "open sesame", "connecting with the right token")
            if reply != "open sesame":
                raise Hint(f"with the right token, echo the message back; got {reply!r}")
    return "wrong tokens are refused with a policy violation, the right one gets in"
