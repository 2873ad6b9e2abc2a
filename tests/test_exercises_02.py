"""Lesson 02's checks reject the mistakes learners typically make."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Header, WebSocket, WebSocketDisconnect
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ws_lessons import checks
from ws_lessons.exercises.lesson02 import SCENARIOS
from ws_lessons.feeds import Ticker

pytestmark = pytest.mark.timeout(60)

MakeApp = Callable[[Ticker], FastAPI]


def sse_app(*, with_ids: bool = True, resumes: bool = True) -> MakeApp:
    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI()

        @app.get("/sse", response_class=EventSourceResponse)
        async def sse(
            last_event_id: Annotated[int | None, Header()] = None,
        ) -> AsyncIterator[Any]:
            start = last_event_id if resumes else 0
            async for event in ticker.follow(start):
                if with_ids:
                    yield ServerSentEvent(data=event.as_dict(), id=str(event.id))
                else:
                    yield event.as_dict()

        return app

    return make_app


def plain_stream(ticker: Ticker) -> FastAPI:
    """Streams JSON lines, not text/event-stream."""
    app = FastAPI()

    @app.get("/sse")
    async def sse() -> AsyncIterator[dict[str, Any]]:
        async for event in ticker.follow(0):
            yield event.as_dict()

    return app


@pytest.mark.parametrize(
    "wrong",
    [sse_app(with_ids=False), sse_app(resumes=False), plain_stream],
    ids=["no-ids", "ignores-last-event-id", "not-event-stream"],
)
def test_02_1_rejects(wrong: MakeApp) -> None:
    assert not checks.check_02_1(wrong)


def push_only(ticker: Ticker) -> FastAPI:
    """Pushes events but never reads what the client says."""
    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, after: int = 0) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            async for event in ticker.follow(after):
                await websocket.send_json(event.as_dict())

    return app


def pong_only(ticker: Ticker) -> FastAPI:
    """Answers pings but pushes nothing."""
    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, after: int = 0) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                if await websocket.receive_text() == "ping":
                    await websocket.send_text("pong")

    return app


def one_at_a_time(ticker: Ticker) -> FastAPI:
    """Waits for a client message, then sends the events so far: half duplex."""
    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, after: int = 0) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()
                await websocket.send_text("pong")
                for event in ticker.after(after):
                    await websocket.send_json(event.as_dict())
                    after = event.id
                await asyncio.sleep(0)

    return app


@pytest.mark.parametrize(
    "wrong", [push_only, pong_only, one_at_a_time], ids=["push-only", "pong-only", "half-duplex"]
)
def test_02_2_rejects(wrong: MakeApp) -> None:
    assert not checks.check_02_2(wrong)


def test_02_3_rejects_websockets_for_everything_and_unknown_choices() -> None:
    assert not checks.check_02_3(dict.fromkeys(SCENARIOS, "websocket"))
    assert not checks.check_02_3(dict.fromkeys(SCENARIOS, "carrier pigeon"))
    assert not checks.check_02_3({"game": "websocket"})
