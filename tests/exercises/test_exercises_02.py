"""Lesson 02's checks reject the mistakes learners typically make."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from exercisekit import rejected
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from ws_lessons import checks
from ws_lessons.exercises.lesson02 import SCENARIOS, STORY_02_1
from ws_lessons.feeds import Ticker

pytestmark = pytest.mark.timeout(60)

MakeApp = Callable[[Ticker], FastAPI]


@pytest.mark.parametrize(
    ("prediction", "hint"),
    [
        ({"with ids": [3, 4, 5, 6], "without ids": [6]}, "names the last event the browser got"),
        ({"with ids": [6], "without ids": [6]}, "the browser sends Last-Event-ID: 3"),
        ({"with ids": [4, 5, 6], "without ids": [4, 5, 6]}, "sends no Last-Event-ID"),
        ({"with ids": [4, 5, 6], "without ids": [1, 2, 3, 4, 5, 6]}, "starts from now"),
        ({"with ids": [4, 5], "without ids": [6]}, "event 6 is published after the browser"),
        ({"with ids": [5, 6], "without ids": [6]}, "a real browser session did not get [5, 6]"),
        ({"with ids": [4, 5, 6]}, "answer with a dict"),
    ],
    ids=[
        "resends-the-last",
        "from-now",
        "resumes-without-ids",
        "from-the-start",
        "no-6",
        "skips-4",
        "half",
    ],
)
def test_02_1_hints(prediction: Any, hint: str) -> None:
    assert hint in rejected(checks.check_02_1, prediction)


Talk = Callable[[WebSocket, Ticker, int], Awaitable[None]]


def feed_app(talk: Talk) -> MakeApp:
    """A make_app whose /ws accepts, then runs ``talk`` until the client leaves."""

    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI()

        @app.websocket("/ws")
        async def ws(websocket: WebSocket, after: int = 0) -> None:
            await websocket.accept()
            with contextlib.suppress(WebSocketDisconnect):
                await talk(websocket, ticker, after)

        return app

    return make_app


@feed_app
async def push_only(websocket: WebSocket, ticker: Ticker, after: int) -> None:
    """Pushes events but never reads what the client says."""
    async for event in ticker.follow(after):
        await websocket.send_json(event.as_dict())


@feed_app
async def pong_only(websocket: WebSocket, ticker: Ticker, after: int) -> None:
    """Answers pings but pushes nothing."""
    while True:
        if await websocket.receive_text() == "ping":
            await websocket.send_text("pong")


@feed_app
async def one_at_a_time(websocket: WebSocket, ticker: Ticker, after: int) -> None:
    """Waits for a client message, then sends the events so far: half duplex."""
    while True:
        await websocket.receive_text()
        await websocket.send_text("pong")
        for event in ticker.after(after):
            await websocket.send_json(event.as_dict())
            after = event.id
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (push_only, "events arrive but 'ping' got no 'pong'"),
        (pong_only, "no event arrived before the client said anything"),
        (one_at_a_time, "no event arrived before the client said anything"),
    ],
    ids=["push-only", "pong-only", "half-duplex"],
)
def test_02_2_hints(wrong: MakeApp, hint: str) -> None:
    assert hint in rejected(checks.check_02_2, wrong)


@pytest.mark.parametrize(
    ("choices", "hint"),
    [
        (dict.fromkeys(SCENARIOS, "websocket"), "'build log': think again about 'websocket'"),
        ({**dict.fromkeys(SCENARIOS, "sse"), "game": "websocket"}, "'export': think again"),
        (dict.fromkeys(SCENARIOS, "carrier pigeon"), "choose one of polling, sse, websocket"),
        ({"game": "websocket"}, "missing: build log"),
    ],
    ids=["websocket-everywhere", "sse-everywhere", "unknown-choice", "incomplete"],
)
def test_02_3_hints(choices: Any, hint: str) -> None:
    assert hint in rejected(checks.check_02_3, choices)


@pytest.mark.usefixtures("chinese")
def test_02_3_hint_and_scenarios_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    print(STORY_02_1, f"{SCENARIOS['export']:>5}")
    assert "它自动重新连接，然后事件 6 被发布。 一个页面每分钟检查一次" in capsys.readouterr().out
    message = rejected(checks.check_02_3, dict.fromkeys(SCENARIOS, "websocket"))
    assert "'build log'：再想想 'websocket'。谁在发送？多久一次？（发出请求之后" in message
