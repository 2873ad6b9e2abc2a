"""Lesson 01's checks reject the mistakes learners typically make."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from ws_lessons import checks
from ws_lessons.feeds import Ticker

pytestmark = pytest.mark.timeout(60)

MakeApp = Callable[[Ticker], FastAPI]


def poll_app(answer: Callable[[Ticker, int], list[Any]], path: str = "/poll") -> MakeApp:
    """make_app whose GET ``path`` answers ``answer(ticker, after)``."""

    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI()

        @app.get(path)
        async def poll(after: int = 0, timeout: float = 10.0) -> list[Any]:
            return [event.as_dict() for event in answer(ticker, after)]

        return app

    return make_app


def own_ticker(ticker: Ticker) -> FastAPI:
    """Ignores the ticker it is given and polls one of its own."""
    mine = Ticker(rate=None)
    return poll_app(lambda _, after: mine.after(after))(mine)


@pytest.mark.parametrize(
    "wrong",
    [
        poll_app(lambda ticker, after: ticker.history),
        poll_app(lambda ticker, after: ticker.history[-1:]),
        poll_app(lambda ticker, after: ticker.after(after - 1)),
        poll_app(lambda ticker, after: ticker.after(after), path="/events"),
        own_ticker,
    ],
    ids=["ignores-after", "latest-only", "off-by-one", "wrong-path", "own-ticker"],
)
def test_01_1_rejects(wrong: MakeApp) -> None:
    assert not checks.check_01_1(wrong)


def test_01_1_rejects_an_app_instead_of_make_app() -> None:
    assert not checks.check_01_1(checks_solution("01.1")(Ticker(rate=None)))


def sleeping_long_poll(ticker: Ticker) -> FastAPI:
    """Sleeps the whole timeout, then answers: never early when an event arrives."""
    app = FastAPI()

    @app.get("/long-poll")
    async def long_poll(after: int = 0, timeout: float = 10.0) -> list[Any]:
        if not ticker.after(after):
            await asyncio.sleep(timeout)
        return [event.as_dict() for event in ticker.after(after)]

    return app


@pytest.mark.parametrize(
    "wrong",
    [
        poll_app(lambda ticker, after: ticker.after(after), path="/long-poll"),
        sleeping_long_poll,
    ],
    ids=["short-poll-at-long-poll", "sleeps-the-whole-timeout"],
)
def test_01_2_rejects(wrong: MakeApp) -> None:
    assert not checks.check_01_2(wrong)


def checks_solution(exercise: str) -> Any:
    from ws_lessons import solutions

    return solutions.SOLUTIONS[exercise]()
