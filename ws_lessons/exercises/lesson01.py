"""Exercises of lesson 01: short polling and long polling, built on a ticker.

Each answer is a function ``make_app(ticker) -> FastAPI``: the check builds the app around
a quiet ticker of its own, so it decides when events happen.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, served
from ws_lessons.feeds import Ticker

HOLD = 0.3  # seconds the long-poll check waits before it publishes the event


def build(make_app: Any, ticker: Ticker) -> Any:
    """Call the learner's ``make_app(ticker)``, turning every way of failing into a hint."""
    if isinstance(make_app, FastAPI) or not callable(make_app):
        raise Hint(
            "pass the function that builds the app (make_app, without calling it), "
            f"not {type(make_app).__name__}"
        )
    try:
        app = make_app(ticker)
    except Exception as exc:
        raise Hint(f"make_app(ticker) raised {type(exc).__name__}: {exc}") from None
    if not isinstance(app, FastAPI):
        raise Hint(f"make_app(ticker) must end with `return app`; it returned {app!r}")
    return app


def get_events(http: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """GET ``path`` and return the list of events it answered, or explain what is wrong."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    where = f"GET {path}?{query}"
    try:
        response = http.get(path, params=params)
    except httpx.TimeoutException:
        raise Hint(f"{where} did not answer within {TIMEOUT:.0f} s") from None
    if response.status_code == 404:
        raise Hint(f"{where} answered 404: is the path exactly {path!r}?")
    if response.status_code == 422:
        raise Hint(f"{where} answered 422 (validation failed): {response.json()['detail']}")
    if response.status_code == 500:
        raise Hint(f"{where} failed on the server (HTTP 500): does it return a list?")
    if response.status_code != 200:
        raise Hint(f"{where} answered {response.status_code}; expected 200")
    events = response.json()
    if not isinstance(events, list) or not all(
        isinstance(event, dict) and {"id", "ts", "price"} <= event.keys() for event in events
    ):
        raise Hint(f"{where} answered {events!r}; return a list of event.as_dict()")
    return events


def ids(events: list[dict[str, Any]]) -> list[int]:
    return [event["id"] for event in events]


@exercise(
    "01.1",
    hint="Return [event.as_dict() for event in ticker.after(after)]: the ticker already "
    "knows which events are newer than `after`.",
)
def check_01_1(make_app: Any) -> str:
    """GET /poll?after=<id> answers at once with the events whose id is greater than id."""
    ticker = Ticker(rate=None)
    app = build(make_app, ticker)
    with (
        served(app, "01.1") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
    ):
        if get_events(http, "/poll", after=0):
            raise Hint("before any event, /poll?after=0 should answer []")
        for _ in range(3):
            ticker.publish()
        everything = ids(get_events(http, "/poll", after=0))
        if not everything:
            raise Hint(
                "three events exist but /poll?after=0 answered []: "
                "use the ticker make_app receives (ticker.after(after))"
            )
        if everything != [1, 2, 3]:
            raise Hint(f"/poll?after=0 answered events {everything}; expected [1, 2, 3]")
        newer = ids(get_events(http, "/poll", after=2))
        if newer == [1, 2, 3]:
            raise Hint("/poll?after=2 answered every event: use the `after` parameter")
        if newer == [2, 3]:
            raise Hint("/poll?after=2 included event 2: only events *after* the id")
        if newer != [3]:
            raise Hint(f"/poll?after=2 answered events {newer}; expected [3]")
        if ids(get_events(http, "/poll", after=3)):
            raise Hint("/poll?after=3 should answer [] when 3 is the newest event")
    return "your short poll answers with exactly the events the client has not seen"


@exercise(
    "01.2",
    hint="await ticker.wait_after(after, timeout) returns the newer events as soon as one "
    "exists, or [] once `timeout` seconds have passed.",
)
def check_01_2(make_app: Any) -> str:
    """GET /long-poll?after=<id>&timeout=<s> waits for an event after id, or answers [] at last."""
    ticker = Ticker(rate=None)
    app = build(make_app, ticker)
    with (
        served(app, "01.2") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
        httpx.Client(base_url=server.url, timeout=3 + TIMEOUT) as waiting,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        ticker.publish()
        if ids(get_events(http, "/long-poll", after=0, timeout=5)) != [1]:
            raise Hint("with event 1 waiting, /long-poll?after=0 should answer [event 1] at once")
        # Ask for what comes after event 1, and publish event 2 while the request waits.
        held: concurrent.futures.Future[list[dict[str, Any]]] = pool.submit(
            get_events, waiting, "/long-poll", after=1, timeout=3
        )
        time.sleep(HOLD)  # the request should still be waiting now
        if held.done():
            early = held.result() if held.exception() is None else None
            raise Hint(
                f"/long-poll answered {early!r} at once although no new event existed: "
                "wait for one (await ticker.wait_after(after, timeout))"
            )
        ticker.publish()
        try:
            got = held.result(TIMEOUT)
        except concurrent.futures.TimeoutError:
            raise Hint(
                "event 2 arrived but the long poll kept waiting: answer as soon as an event "
                "exists, not after the whole timeout (ticker.wait_after does that)"
            ) from None
        if ids(got) != [2]:
            raise Hint(f"after event 2 arrived, /long-poll answered {ids(got)}; expected [2]")
        if get_events(http, "/long-poll", after=2, timeout=0.2):
            raise Hint("with no new event, the long poll should answer [] when `timeout` is up")
    return "your long poll waits for news, answers the moment it comes, and gives up on time"


# Reference answers


def solution_01_1() -> Callable[[Ticker], FastAPI]:
    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI(lifespan=ticker.lifespan)

        @app.get("/poll")
        async def poll(after: int = 0) -> list[dict[str, Any]]:
            return [event.as_dict() for event in ticker.after(after)]

        return app

    return make_app


def solution_01_2() -> Callable[[Ticker], FastAPI]:
    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI(lifespan=ticker.lifespan)

        @app.get("/long-poll")
        async def long_poll(after: int = 0, timeout: float = 10.0) -> list[dict[str, Any]]:
            events = await ticker.wait_after(after, timeout)
            return [event.as_dict() for event in events]

        return app

    return make_app
