"""Lesson 11's checks name the mistakes learners typically make."""

from collections.abc import Callable
from typing import Any

import pytest
from exercisekit import rejected
from fastapi import FastAPI, WebSocket

from ws_lessons import checks
from ws_lessons.exercises.lesson11 import FEED

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("wrong", "diagnosis"),
    [
        ({"kept": [7, 8, 9, 9, 10], "gaps": [(6, 6)]}, "9 arrived twice"),
        ({"kept": [6, 7, 8, 9, 10], "gaps": []}, "6 never arrived"),
        ({"kept": [7, 8, 9, 10], "gaps": []}, "seq 6 never arrived"),
        ({"kept": [7, 8, 9, 10], "gaps": [(5, 6)]}, "only the seqs that never arrived"),
        ({"kept": [7, 8, 9, 10], "gaps": [6]}, "(first, last) pair"),
        ({"kept": [10], "gaps": [(6, 9)]}, "every seq above the client's last one is kept"),
        ({"kept": [], "gaps": []}, "fill in kept"),
        ([7, 8, 9, 10], "pass the dict prediction"),
    ],
    ids=[
        "duplicate",
        "kept what never came",
        "no gap",
        "gap too wide",
        "bare number",
        "live only",
        "unfilled",
        "a list",
    ],
)
def test_11_1_names_the_mistake(wrong: Any, diagnosis: str) -> None:
    assert diagnosis in rejected(checks.check_11_1, wrong)


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
    ("wrong", "diagnosis"),
    [
        (feed(lambda seq, since: seq >= since), "the client has N already"),
        (feed(lambda seq, since: True), "expected [8, 9, 10]"),
        (feed(lambda seq, since: seq > since, close=False), "close the connection"),
        (feed(lambda seq, since: seq > since), "should be refused"),  # a plain int lets -1 in
    ],
    ids=["since repeated", "everything", "never closes", "negative since"],
)
def test_11_2_names_the_mistake(wrong: FastAPI, diagnosis: str) -> None:
    assert diagnosis in rejected(checks.check_11_2, wrong)


@pytest.mark.parametrize(
    ("wrong", "diagnosis"),
    [
        ({"ws_ping_interval": 20.0, "ws_ping_timeout": 20.0}, "still there"),
        ({"ws_ping_interval": 0.3, "ws_ping_timeout": None}, "timeout"),
        ({"ws_ping_timeout": 0.5}, "without it, no ping is sent"),
        ({"ws_ping_interval": 0.3, "ws_ping_timeout": 0.001}, "healthy"),
        ({"ws_ping_interval": 0.1, "ws_ping_timeout": 0.1}, "healthy clients on a slow mobile"),
        ({"ws_ping_interval": 0.1, "ws_ping_timeout": 0.5}, "more than 4 times a second"),
        ({"ping_interval": 0.3, "ping_timeout": 0.5}, "remove"),
    ],
    ids=[
        "defaults",
        "no timeout",
        "no interval",
        "timeout too short",
        "the lesson's demo values",
        "pings too often",
        "client option names",
    ],
)
def test_11_3_names_the_mistake(wrong: dict[str, Any], diagnosis: str) -> None:
    assert diagnosis in rejected(checks.check_11_3, wrong)
