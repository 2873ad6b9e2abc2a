"""Lesson 10's checks reject the mistakes learners typically make."""

import random
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket

from ws_lessons import checks
from ws_lessons.exercises.lesson10 import FEED

pytestmark = pytest.mark.timeout(60)


def no_jitter(attempts: int, initial: float, factor: float, cap: float) -> list[float]:
    return [min(cap, initial * factor**n) for n in range(attempts)]


def no_cap(attempts: int, initial: float, factor: float, cap: float) -> list[float]:
    return [initial * factor**n * random.uniform(0.5, 1) for n in range(attempts)]


def full_jitter(attempts: int, initial: float, factor: float, cap: float) -> list[float]:
    return [random.uniform(0, min(cap, initial * factor**n)) for n in range(attempts)]


def jitter_only(attempts: int, initial: float, factor: float, cap: float) -> list[float]:
    return [initial * random.uniform(0.5, 1) for _ in range(attempts)]


@pytest.mark.parametrize("wrong", [no_jitter, no_cap, full_jitter, jitter_only])
def test_10_1_rejects(wrong: Callable[..., list[float]]) -> None:
    assert not checks.check_10_1(wrong)


def feed(keep: Callable[[int, int], bool], *, close: bool = True) -> FastAPI:
    """A /feed endpoint that sends the events ``keep(seq, since)`` approves."""
    app = FastAPI()

    @app.websocket("/feed")
    async def endpoint(websocket: WebSocket, since: int = 0) -> None:
        await websocket.accept()
        for event in FEED:
            if keep(event["seq"], since):
                await websocket.send_json(event)
        if close:
            await websocket.close()
        else:
            await websocket.receive_text()

    return app


@pytest.mark.parametrize(
    "wrong",
    [
        feed(lambda seq, since: seq >= since),
        feed(lambda seq, since: True),
        feed(lambda seq, since: seq > since, close=False),
        feed(lambda seq, since: seq > since),  # plain int: a negative since is let in
    ],
    ids=["since repeated", "everything", "never closes", "negative since"],
)
def test_10_2_rejects(wrong: FastAPI) -> None:
    assert not checks.check_10_2(wrong)


@pytest.mark.parametrize(
    "wrong",
    [
        {"ws_ping_interval": 20.0, "ws_ping_timeout": 20.0},
        {"ws_ping_interval": 0.3, "ws_ping_timeout": None},
        {"ws_ping_timeout": 0.5},
        {"ws_ping_interval": 0.3, "ws_ping_timeout": 0.001},
        {"ping_interval": 0.3, "ping_timeout": 0.5},
    ],
    ids=["defaults", "no timeout", "no interval", "timeout too short", "client option names"],
)
def test_10_3_rejects(wrong: dict[str, Any]) -> None:
    assert not checks.check_10_3(wrong)
