"""Lesson 01's checks give each typical mistake its own hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from exercisekit import rejected
from fastapi import FastAPI, Query

from ws_lessons import checks
from ws_lessons.feeds import Ticker

pytestmark = pytest.mark.timeout(60)


def follower(next_after: Callable[[list[dict[str, Any]], int], int]) -> Callable[..., list[int]]:
    """A polling client that moves ``after`` with ``next_after(events, after)``."""

    def follow(client: httpx.Client, polls: int) -> list[int]:
        after, seen = 0, []
        for _ in range(polls):
            events = client.get("/poll", params={"after": after}).json()
            seen += [event["id"] for event in events]
            after = next_after(events, after)
        return seen

    return follow


@pytest.mark.parametrize(
    ("follow", "hint"),
    [
        (follower(lambda events, after: events[0]["id"]), "raised IndexError on poll 1"),
        (
            follower(lambda events, after: events[0]["id"] if events else after),
            "got events [2, 4, 5, 6] more than once",
        ),
        (follower(lambda events, after: after), "more than once"),
        (
            follower(lambda events, after: events[-1]["id"] + 1 if events else after),
            "never got events [3, 6]",
        ),
        (
            lambda client, polls: follower(lambda e, a: e[-1]["id"] if e else a)(client, 3),
            "sent 3 requests; send exactly 7",
        ),
    ],
    ids=["oldest-and-crash", "oldest", "never-moves", "one-past-newest", "fewer-polls"],
)
def test_01_1_hints(follow: Any, hint: str) -> None:
    assert hint in rejected(checks.check_01_1, follow)


def long_poll_app(answer: Callable[[list[Any], int], list[Any]], bounded: bool) -> Any:
    """Lesson 01's long poll with a ``limit``, cut by ``answer(events, limit)``."""

    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI()
        default: Any = Query(100, ge=1, le=100) if bounded else 100

        @app.get("/long-poll")
        async def long_poll(after: int = 0, timeout: float = 1.0, limit: int = default) -> Any:
            events = await ticker.wait_after(after, timeout)
            return [event.as_dict() for event in answer(events, limit)]

        return app

    return make_app


@pytest.mark.parametrize(
    ("make_app", "hint"),
    [
        (long_poll_app(lambda events, limit: events, True), "you answered all five events"),
        (long_poll_app(lambda events, limit: events[-limit:], True), "sent the two newest"),
        (long_poll_app(lambda events, limit: events[:limit], False), "limit=0 answered"),
        (
            long_poll_app(lambda events, limit: events[: limit + 1], True),
            "limit=2 answered [1, 2, 3]",
        ),
    ],
    ids=["ignores-limit", "newest-first", "no-bounds", "off-by-one"],
)
def test_01_2_hints(make_app: Any, hint: str) -> None:
    assert hint in rejected(checks.check_01_2, make_app)


def test_01_2_rejects_an_app_instead_of_make_app() -> None:
    assert "pass the function that builds the app" in rejected(checks.check_01_2, FastAPI())


@pytest.mark.usefixtures("chinese")
def test_01_1_hint_in_chinese() -> None:
    asks_after_the_oldest = follower(lambda events, after: events[0]["id"] if events else after)
    message = rejected(checks.check_01_1, asks_after_the_oldest)
    assert "客户端不止一次收到了事件 [2, 4, 5, 6]" in message
