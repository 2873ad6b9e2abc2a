"""Lesson 06's checks reject the mistakes learners typically make."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI, WebSocket

from ws_lessons import checks

pytestmark = pytest.mark.timeout(60)


def replying_app(path: str, reply: Callable[[str], str]) -> FastAPI:
    """An app whose endpoint at ``path`` answers every text message with ``reply(text)``."""
    app = FastAPI()

    @app.websocket(path)
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_text(reply(await websocket.receive_text()))

    return app


def accept_and_leave(path: str) -> FastAPI:
    """Accepts, then returns at once: the receive loop was forgotten."""
    app = FastAPI()

    @app.websocket(path)
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()

    return app


@pytest.mark.parametrize(
    "wrong",
    [
        replying_app("/shout", lambda text: text),
        replying_app("/shout", str.lower),
        replying_app("/echo", str.upper),
        accept_and_leave("/shout"),
    ],
    ids=["unchanged", "lowercase", "wrong-path", "no-loop"],
)
def test_06_1_rejects(wrong: FastAPI) -> None:
    assert not checks.check_06_1(wrong)


def test_06_2_rejects_a_reply_that_is_not_the_json_asked_for() -> None:
    assert not checks.check_06_2(replying_app("/rooms/{room}", lambda text: text))


def test_06_3_rejects_a_door_that_never_checks_the_token() -> None:
    assert not checks.check_06_3(replying_app("/guarded", lambda text: text))
