"""One FastAPI app serving a ticker four ways: short polling, long polling, SSE, a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, WebSocket, WebSocketDisconnect
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ws_lessons.feeds.ticker import Ticker

__all__ = ["LONG_POLL_HOLD", "PATHS", "TRANSPORTS", "feed_app"]

#: The four ways of serving the feed: key (as passed to ``measure``) → name.
TRANSPORTS = {
    "poll": "short polling",
    "long-poll": "long polling",
    "sse": "Server-Sent Events",
    "ws": "WebSocket",
}
PATHS = {"poll": "/poll", "long-poll": "/long-poll", "sse": "/sse", "ws": "/ws"}
LONG_POLL_HOLD = 10.0  # seconds a long poll waits for an event before answering []


def feed_app(ticker: Ticker | None = None, *, only: Iterable[str] | None = None) -> FastAPI:
    """A FastAPI app serving ``ticker`` (default: a new one at 20 events/s) four ways.

    ``only`` limits it to some of :data:`TRANSPORTS` (``"poll"``, ``"long-poll"``,
    ``"sse"``, ``"ws"``). The ticker is on ``app.state.ticker``.
    """
    ticker = ticker if ticker is not None else Ticker()
    wanted = set(TRANSPORTS if only is None else only)
    unknown = wanted - set(TRANSPORTS)
    if unknown:
        raise ValueError(f"unknown transports {sorted(unknown)}; choose from {list(TRANSPORTS)}")
    app = FastAPI(title="A live feed, four ways", lifespan=ticker.lifespan)
    app.state.ticker = ticker

    if "poll" in wanted:

        @app.get("/poll")
        async def poll(after: int = 0) -> list[dict[str, Any]]:
            """Short polling: the events after ``after``, at once (often none)."""
            return [event.as_dict() for event in ticker.after(after)]

    if "long-poll" in wanted:

        @app.get("/long-poll")
        async def long_poll(
            after: int = 0, timeout: Annotated[float, Query(gt=0, le=60)] = LONG_POLL_HOLD
        ) -> list[dict[str, Any]]:
            """Long polling: hold the request until an event after ``after`` exists."""
            return [event.as_dict() for event in await ticker.wait_after(after, timeout)]

    if "sse" in wanted:

        @app.get("/sse", response_class=EventSourceResponse)
        async def sse(
            after: int | None = None,
            last_event_id: Annotated[int | None, Header()] = None,
        ) -> AsyncIterator[ServerSentEvent]:
            """Server-Sent Events: one response that never ends, an event per message.

            A reconnecting browser sends the last id it saw as ``Last-Event-ID``.
            """
            start = last_event_id if last_event_id is not None else after
            async for event in ticker.follow(start):
                yield ServerSentEvent(data=event.as_dict(), id=str(event.id))

    if "ws" in wanted:

        @app.websocket("/ws")
        async def ws(websocket: WebSocket, after: int | None = None) -> None:
            """A WebSocket: push every event; read at the same time to notice the client leave."""
            start = ticker.last_id if after is None else after  # "now" is before the 101
            await websocket.accept()

            async def push() -> None:
                async for event in ticker.follow(start):
                    await websocket.send_json(event.as_dict())

            pusher = asyncio.create_task(push())
            try:
                while True:
                    await websocket.receive_text()  # this feed ignores what clients say
            except WebSocketDisconnect:
                pass
            finally:
                pusher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pusher

    return app
