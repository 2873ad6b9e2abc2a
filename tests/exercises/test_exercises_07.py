"""Lesson 07's checks give each typical mistake its own hint."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from exercisekit import rejected
from fastapi import FastAPI, WebSocket

from ws_lessons import checks
from ws_lessons.exercises.lesson07 import solution_07_1, solution_07_3

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("changes", "hint"),
    [
        ({"A": 1000}, "1000 (normal closure) would need a close frame"),
        ({"B": 1011}, "1011 (internal error) is what a server could send"),
        ({"B": 500}, "the handshake was over when the error happened"),
        ({"C": 1000}, "close() sends the code you give it"),
        ({"D": 1008}, "this one never opened"),
        ({"E": 422}, "422 is what an HTTP route answers"),
        ({"E": "lobby"}, "give each letter an int"),
    ],
    ids=[
        "return-is-1000",
        "raise-is-1011",
        "raise-is-500",
        "close-4001",
        "refuse-1008",
        "422",
        "str",
    ],
)
def test_07_1_hints(changes: dict[str, Any], hint: str) -> None:
    assert hint in rejected(checks.check_07_1, {**solution_07_1(), **changes})


def replying_app(path: str, reply: Callable[[str], str]) -> FastAPI:
    """An app whose endpoint at ``path`` answers every text message with ``reply(text)``."""
    app = FastAPI()

    @app.websocket(path)
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_text(reply(await websocket.receive_text()))

    return app


def sized(message: str) -> dict[str, Any]:
    """The text of a JSON message with its length counted in UTF-8 bytes."""
    text = json.loads(message)["text"]
    return (
        {"text": text, "length": len(text.encode())}
        if text != "hi"
        else {"text": text, "length": 2}
    )


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (
            replying_app("/rooms/{room}", lambda message: json.loads(message)["text"]),
            "is not JSON: use websocket.send_json",
        ),
        (
            replying_app(
                "/rooms/{room}", lambda text: json.dumps({"room": "lobby", **sized(text)})
            ),
            "that is its UTF-8 bytes",
        ),
        (
            replying_app("/rooms/{room}", lambda text: json.dumps(sized(text))),
            "the reply said room None: take the room from the path",
        ),
        (
            replying_app("/room/{room}", lambda text: text),
            "handshake on /rooms/lobby was refused",
        ),
    ],
    ids=["plain-text", "bytes-not-characters", "no-room", "wrong-path"],
)
def test_07_2_hints(wrong: FastAPI, hint: str) -> None:
    assert hint in rejected(checks.check_07_2, wrong)


def door(refuse: Callable[[WebSocket], Any] | None, *, warn: bool = False) -> FastAPI:
    """The exercise's door: accepts first, then, if the token is wrong, sends the starter's
    warning when ``warn`` and calls ``refuse(websocket)`` (None: no refusal, in it goes)."""
    app = FastAPI()

    @app.websocket("/guarded")
    async def guarded(websocket: WebSocket, token: str = "") -> None:
        await websocket.accept()
        if token != "sesame":
            if warn or refuse is None:
                await websocket.send_text("wrong token")
            if refuse is not None:
                await refuse(websocket)
                return
        while True:
            await websocket.send_text(await websocket.receive_text())

    return app


async def no_close(websocket: WebSocket) -> None:
    """Return without closing: uvicorn ends the TCP connection without a close frame."""


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (door(None), "a wrong token was let in and the connection stayed open"),
        (door(lambda websocket: websocket.close()), "1000 says all went well"),
        (door(lambda websocket: websocket.close(1003)), "closed with 1003; use the code for"),
        (door(lambda websocket: websocket.close(1003), warn=True), "closed with 1003; use the"),
        (door(no_close, warn=True), "end without a close frame (a client reports 1006)"),
    ],
    ids=["let-in", "closed-normally", "wrong-code", "warned-wrong-code", "no-close-frame"],
)
def test_07_3_hints(wrong: FastAPI, hint: str) -> None:
    assert hint in rejected(checks.check_07_3, wrong)


@pytest.mark.parametrize("warn", [False, True], ids=["silent", "warned-first"])
def test_07_3_accepts_closing_with_1008_after_accepting(warn: bool) -> None:
    """The natural fix of the starter: keep its warning, then close with 1008 and return."""
    assert checks.check_07_3(door(lambda websocket: websocket.close(1008), warn=warn))


def test_07_3_accepts_the_refused_handshake() -> None:
    assert checks.check_07_3(solution_07_3())


@pytest.mark.usefixtures("chinese")
def test_07_1_hint_in_chinese() -> None:
    message = rejected(checks.check_07_1, {**solution_07_1(), "A": 1000})
    assert "再想想 A：1000（正常关闭）需要一个关闭帧，而没有任何地方调用 close()" in message
