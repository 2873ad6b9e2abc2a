"""Exercises of lesson 09: security."""

from __future__ import annotations

import inspect
from typing import Any, Literal

from fastapi import FastAPI, WebSocket, WebSocketException, status
from pydantic import BaseModel, Field, ValidationError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, require_function, served

# 09.1 -------------------------------------------------------------------------------------------

ALLOWED = {"https://chat.example"}


def _outcome(server: Any, origin: str | None) -> str:
    """``"accepted"``, ``"refused <status>"`` or ``"closed <code>"``, for one handshake."""
    try:
        with connect(
            server.ws_url("/feed"), origin=origin, open_timeout=TIMEOUT, close_timeout=TIMEOUT
        ) as ws:
            try:
                ws.recv(timeout=TIMEOUT)
            except TimeoutError:
                return "accepted"
            except ConnectionClosed as exc:
                return f"closed {exc.rcvd.code if exc.rcvd else 1006}"
            return "accepted"
    except InvalidStatus as exc:
        return f"refused {exc.response.status_code}"


@exercise(
    "09.1",
    hint="Read websocket.headers.get('origin') before accept(); if there is one and it is not "
    "exactly in ALLOWED, raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION).",
)
def check_09_1(app: Any) -> str:
    """/feed lets in no Origin or one of ALLOWED, and refuses any other before accepting."""
    with served(app, "09.1") as server:
        for origin in (None, "https://chat.example"):
            got = _outcome(server, origin)
            if got != "accepted" and origin is None:
                raise Hint(
                    f"a client with no Origin was {got}: is there an endpoint at /feed that "
                    "calls accept()? Programs send no Origin: let them in."
                )
            if got != "accepted":
                who = origin or "a client with no Origin (a program, not a browser)"
                raise Hint(f"{who} should get in; it was {got}")
        for origin, why in [
            ("https://evil.example", "a foreign site"),
            ("null", 'the "null" origin of sandboxed pages and local files'),
            ("https://chat.example.evil.example", "a lookalike that starts like an allowed one"),
            ("http://chat.example", "the allowed site over plain http (another origin)"),
        ]:
            got = _outcome(server, origin)
            if got == "accepted":
                raise Hint(f"{why} ({origin}) got in: compare the whole Origin with ALLOWED")
            if got.startswith("closed"):
                raise Hint(
                    f"{origin} was accepted, then {got}: refuse it before accept(), so that "
                    "the connection never opens (raise WebSocketException)"
                )
    return "only the allowed origin, or none, gets in; the rest never get a connection"


# 09.2 -------------------------------------------------------------------------------------------

GOOD_MOVES = [
    '{"type": "move", "x": 0, "y": 7}',
    '{"type": "move", "x": 3, "y": 4, "comment": "extra fields are ignored"}',
]
BAD_MOVES = [
    ('{"type": "jump", "x": 1, "y": 1}', "another type"),
    ('{"type": "move", "x": 1}', "a missing y"),
    ('{"type": "move", "x": 8, "y": 0}', "x = 8, off the board"),
    ('{"type": "move", "x": 0, "y": -1}', "y = -1, off the board"),
    ('{"type": "move", "x": 2.5, "y": 1}', "x = 2.5, not a square"),
    ('{"type": "move", "x": "three", "y": 1}', 'x = "three"'),
    ('["move", 1, 1]', "a list instead of an object"),
]


@exercise(
    "09.2",
    hint='type: Literal["move"], and x, y: int = Field(ge=0, le=7).',
)
def check_09_2(model: Any) -> str:
    """A pydantic model for ``{"type": "move", "x": 0-7, "y": 0-7}``."""
    if not (inspect.isclass(model) and issubclass(model, BaseModel)):
        raise Hint("pass your model class itself (class Move(BaseModel): ...)")
    for frame in GOOD_MOVES:
        try:
            move = model.model_validate_json(frame)
        except ValidationError as exc:
            raise Hint(f"{frame} is a valid move but your model refused it: {exc}") from None
        if (getattr(move, "x", None), getattr(move, "y", None)) != _xy(frame):
            raise Hint("give the model fields named x and y")
    for frame, what in BAD_MOVES:
        try:
            model.model_validate_json(frame)
        except ValidationError:
            continue
        raise Hint(f"your model accepted {what}: {frame}")
    return "every bad move is refused before any code of yours sees it"


def _xy(frame: str) -> tuple[int, int]:
    move = _Move.model_validate_json(frame)
    return move.x, move.y


class _Move(BaseModel):
    type: Literal["move"]
    x: int = Field(ge=0, le=7)
    y: int = Field(ge=0, le=7)


# 09.3 -------------------------------------------------------------------------------------------

BUCKET_CASES = [
    ([0.0, 0.0, 0.0, 0.0], 1.0, 3),  # a burst: the fourth is one too many
    ([0.0, 0.0, 0.0, 0.5, 1.0, 1.0], 1.0, 2),  # tokens come back at `rate` a second
    ([0.0, 10.0, 10.0, 10.0, 10.0], 1.0, 3),  # a long pause refills up to `burst` only
    ([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75], 2.0, 2),  # steady, twice too fast
]


def _bucket(times: list[float], rate: float, burst: int) -> list[bool]:
    tokens, last, verdicts = float(burst), times[0] if times else 0.0, []
    for now in times:
        tokens = min(burst, tokens + (now - last) * rate)
        last = now
        verdicts.append(tokens >= 1)
        if verdicts[-1]:
            tokens -= 1
    return verdicts


@exercise(
    "09.3",
    hint="Start with burst tokens; before each event add (now - last) * rate, but never more "
    "than burst; an event passes if a whole token is there, and spends it.",
)
def check_09_3(function: Any) -> str:
    """``allowed(times, rate, burst) -> list[bool]``: which events a token bucket lets through."""
    require_function(function)
    for times, rate, burst in BUCKET_CASES:
        try:
            got = function(list(times), rate, burst)
        except Exception as exc:
            raise Hint(
                f"allowed({times}, {rate}, {burst}) raised {type(exc).__name__}: {exc}"
            ) from None
        expected = _bucket(times, rate, burst)
        if inspect.iscoroutine(got):
            got.close()
            raise Hint("pass a plain function (def, not async def) that returns a list")
        if got is None:
            raise Hint("your function returns None: return the list of True/False")
        if not isinstance(got, list) or len(got) != len(times):
            raise Hint(f"return one True/False per event ({len(times)}), got {got!r}")
        if [bool(v) for v in got] != expected:
            shown = ", ".join(f"t={t:g}: {v}" for t, v in zip(times, got, strict=True))
            raise Hint(
                f"with rate={rate:g}/s and burst={burst}, expected {expected} but got [{shown}]"
                + (". Is the bucket full at the start?" if not got[0] else "")
            )
    return "bursts pass up to the limit, then events pass at the average rate"


# Reference answers


def solution_09_1() -> FastAPI:
    app = FastAPI()
    allowed = {"https://chat.example"}

    @app.websocket("/feed")
    async def feed(websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if origin is not None and origin not in allowed:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="origin")
        await websocket.accept()
        await websocket.send_text("welcome")
        await websocket.close()

    return app


def solution_09_2() -> type[BaseModel]:
    class Move(BaseModel):
        type: Literal["move"]
        x: int = Field(ge=0, le=7)
        y: int = Field(ge=0, le=7)

    return Move


def solution_09_3() -> Any:
    def allowed(times: list[float], rate: float, burst: int) -> list[bool]:
        tokens = float(burst)
        last = times[0] if times else 0.0
        verdicts = []
        for now in times:
            tokens = min(burst, tokens + (now - last) * rate)
            last = now
            if tokens >= 1:
                tokens -= 1
                verdicts.append(True)
            else:
                verdicts.append(False)
        return verdicts

    return allowed
