"""Exercises of lesson 02: Server-Sent Events, a full-duplex WebSocket, choosing a transport."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Header, WebSocket, WebSocketDisconnect
from fastapi.sse import EventSourceResponse, ServerSentEvent
from httpx_sse import connect_sse
from websockets.exceptions import ConnectionClosed

from ws_lessons.exercises.core import TIMEOUT, Hint, connected, exercise, served
from ws_lessons.exercises.lesson01 import build
from ws_lessons.feeds import Ticker


@exercise(
    "02.1",
    hint="async for event in ticker.follow(last_event_id): yield "
    "ServerSentEvent(data=event.as_dict(), id=str(event.id)).",
)
def check_02_1(make_app: Any) -> str:
    """GET /sse streams every event with its id, resuming after the Last-Event-ID header."""
    ticker = Ticker(rate=None)
    app = build(make_app, ticker)
    with (
        served(app, "02.1") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
    ):
        ticker.publish()
        ticker.publish()
        try:
            with connect_sse(http, "GET", "/sse", headers={"Last-Event-ID": "1"}) as source:
                response = source.response
                if response.status_code != 200:
                    raise Hint(f"GET /sse answered {response.status_code}; is the path right?")
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    raise Hint(
                        "GET /sse did not answer with text/event-stream: declare the route with "
                        "response_class=EventSourceResponse and `yield` the events"
                    )
                messages = source.iter_sse()
                first = next(messages)
                data = _json(first.data)
                if data.get("id") == 1:
                    raise Hint(
                        "the client sent Last-Event-ID: 1 and got event 1 again: read the header "
                        "(last_event_id: Annotated[int | None, Header()] = None), follow after it"
                    )
                if data.get("id") != 2:
                    raise Hint(f"the first message was {first.data!r}; expected event 2")
                if first.id != "2":
                    raise Hint(
                        "give each message an id, so a browser can resume: "
                        "yield ServerSentEvent(data=event.as_dict(), id=str(event.id))"
                    )
                ticker.publish()
                second = next(messages)
                if (second.id, _json(second.data).get("id")) != ("3", 3):
                    raise Hint(f"after event 2 came {second!r}; expected event 3 with id '3'")
        except httpx.ReadTimeout:
            raise Hint(
                f"no event arrived within {TIMEOUT:.0f} s, although events 1 and 2 exist and the "
                "client sent Last-Event-ID: 1: start after that id (ticker.follow(last_event_id))"
            ) from None
        except StopIteration:
            raise Hint(
                "the stream ended: keep yielding (async for event in ticker.follow(...))"
            ) from None
    return "your stream carries ids, and a client that reconnects misses nothing"


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise Hint(f"the data {text!r} is not JSON: yield ServerSentEvent(data=...)") from None
    if not isinstance(data, dict):
        raise Hint(f"the data {text!r} should be an event: data=event.as_dict()")
    return data


@exercise(
    "02.2",
    hint="After accept(), start a task that sends every event of ticker.follow(after), then "
    "loop on receive_text() and answer 'ping' with 'pong'; cancel the task when the "
    "client leaves.",
)
def check_02_2(make_app: Any) -> str:
    """WS /ws?after=<id> pushes every event after id, and answers "ping" with "pong" meanwhile."""
    ticker = Ticker(rate=None)
    app = build(make_app, ticker)
    with served(app, "02.2") as server:
        ticker.publish()
        ticker.publish()
        try:
            with connected(server, "/ws?after=0") as ws:
                # 1. The server speaks first: events 1 and 2 arrive before the client says a word.
                events, pongs = _receive(ws, lambda events, pongs: len(events) >= 2)
                if not events:
                    raise Hint(
                        "no event arrived before the client said anything: push them from a "
                        "task (async for event in ticker.follow(after): await "
                        "websocket.send_json(event.as_dict()))"
                    )
                # 2. Both directions at once: a ping goes up while event 3 comes down.
                ws.send("ping")
                ticker.publish()
                more, pongs = _receive(ws, lambda events, pongs: len(events) >= 1 and pongs >= 1)
                events += more
                if not pongs:
                    raise Hint(
                        "events arrive but 'ping' got no 'pong': read the client's messages at "
                        "the same time, in a receive loop beside the task that pushes events"
                    )
                if events != [1, 2, 3]:
                    raise Hint(f"events arrived as {events}; expected [1, 2, 3] (after `after`)")
        finally:
            # An endpoint that never reads cannot learn that the client left: stop the
            # server without waiting the usual grace period for it.
            server.stop(timeout=1.0)
    return "one connection, both directions at once: events out, pings in, pongs out"


def _receive(ws: Any, enough: Callable[[list[int], int], bool]) -> tuple[list[int], int]:
    """Collect event ids and pongs until ``enough(events, pongs)`` or TIMEOUT seconds."""
    events: list[int] = []
    pongs = 0
    deadline = time.monotonic() + TIMEOUT
    while not enough(events, pongs):
        try:
            message = ws.recv(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            break
        except ConnectionClosed as exc:
            code = f" with code {exc.rcvd.code}" if exc.rcvd else ""
            raise Hint(
                f"the server closed the connection{code}: keep the endpoint running, with a "
                "task that pushes events and a loop that reads the client's messages"
            ) from None
        if message == "pong":
            pongs += 1
            continue
        try:
            events.append(json.loads(message)["id"])
        except (TypeError, ValueError, KeyError):
            raise Hint(
                f"got {message!r}: send events as JSON (send_json(event.as_dict())) "
                "and answer 'ping' with the text 'pong'"
            ) from None
    return events, pongs


#: Lesson 02's quiz: which transport fits each situation best?
SCENARIOS = {
    "game": "a multiplayer game: every player's moves go to the server and out to the others, "
    "many times a second",
    "build log": "a build log shown in the browser line by line while the build runs",
    "export": "a page checks every minute whether a nightly export has finished",
    "whiteboard": "a shared whiteboard: everyone's strokes appear on everyone's screen as drawn",
    "notifications": "a bell icon that lights up when someone comments on your post",
    "daily total": "yesterday's sales total, which changes once a day",
}
CHOICES = ("polling", "sse", "websocket")
_BEST = {  # the best choice, and a clue for those who chose otherwise
    "game": ("websocket", "clients send as much as they receive, many times a second"),
    "build log": ("sse", "after asking, the browser only listens to a stream of lines"),
    "export": ("polling", "the news comes once, minutes away: a request a minute is cheap"),
    "whiteboard": ("websocket", "everyone draws and everyone watches, continuously"),
    "notifications": ("sse", "the server speaks first; the browser only listens"),
    "daily total": ("polling", "it changes once a day: an ordinary, cacheable GET is enough"),
}


@exercise(
    "02.3",
    hint="Ask who sends and how often: both sides often → websocket; only the server → sse; "
    "rarely → polling.",
)
def check_02_3(answer: Any) -> str:
    """A dict: each key of SCENARIOS → "polling", "sse" or "websocket"."""
    if not isinstance(answer, dict):
        raise Hint(
            f"answer with a dict like {{'game': 'websocket', ...}}, not {type(answer).__name__}"
        )
    missing = [key for key in SCENARIOS if key not in answer]
    if missing:
        raise Hint(f"give a choice for every scenario; missing: {', '.join(missing)}")
    for key, (best, clue) in _BEST.items():
        choice = str(answer[key]).strip().lower()
        if choice not in CHOICES:
            raise Hint(f"{key!r}: choose one of {', '.join(CHOICES)}, not {answer[key]!r}")
        if choice != best:
            raise Hint(f"{key!r}: think again about {choice!r}. Who sends, and how often? ({clue})")
    return "each situation gets the simplest tool that does the job"


# Reference answers


def solution_02_1() -> Callable[[Ticker], FastAPI]:
    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI(lifespan=ticker.lifespan)

        @app.get("/sse", response_class=EventSourceResponse)
        async def sse(
            last_event_id: Annotated[int | None, Header()] = None,
        ) -> AsyncIterator[ServerSentEvent]:
            async for event in ticker.follow(last_event_id):
                yield ServerSentEvent(data=event.as_dict(), id=str(event.id))

        return app

    return make_app


def solution_02_2() -> Callable[[Ticker], FastAPI]:
    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI(lifespan=ticker.lifespan)

        @app.websocket("/ws")
        async def ws(websocket: WebSocket, after: int = 0) -> None:
            await websocket.accept()

            async def push() -> None:
                async for event in ticker.follow(after):
                    await websocket.send_json(event.as_dict())

            pusher = asyncio.create_task(push())
            try:
                while True:
                    if await websocket.receive_text() == "ping":
                        await websocket.send_text("pong")
            except WebSocketDisconnect:
                pass
            finally:
                pusher.cancel()

        return app

    return make_app


def solution_02_3() -> dict[str, str]:
    return {key: best for key, (best, _) in _BEST.items()}
