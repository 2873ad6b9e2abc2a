"""Lesson 09's checks reject the mistakes learners typically make."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

import pytest
from fastapi import FastAPI, WebSocket, WebSocketException, status
from pydantic import BaseModel, Field

from ws_lessons import checks

pytestmark = pytest.mark.timeout(60)


def feed(admit: Callable[[str | None], bool], *, close_after_accept: bool = False) -> FastAPI:
    """A /feed endpoint that lets in the origins ``admit`` approves."""
    app = FastAPI()

    @app.websocket("/feed")
    async def endpoint(websocket: WebSocket) -> None:
        allowed = admit(websocket.headers.get("origin"))
        if not allowed and not close_after_accept:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
        await websocket.accept()
        if not allowed:
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
            return
        await websocket.send_text("welcome")
        await websocket.close()

    return app


@pytest.mark.parametrize(
    "wrong",
    [
        feed(lambda origin: True),
        feed(lambda origin: origin is None or origin.startswith("https://chat.example")),
        feed(lambda origin: origin == "https://chat.example"),
        feed(lambda origin: origin is None or "chat.example" in origin),
        feed(lambda origin: origin in (None, "https://chat.example"), close_after_accept=True),
    ],
    ids=["no check", "startswith", "refuses programs", "substring", "closes after accepting"],
)
def test_09_1_rejects(wrong: FastAPI) -> None:
    assert not checks.check_09_1(wrong)


class Unbounded(BaseModel):
    type: Literal["move"]
    x: int
    y: int


class AnyType(BaseModel):
    type: str
    x: int = Field(ge=0, le=7)
    y: int = Field(ge=0, le=7)


class Floats(BaseModel):
    type: Literal["move"]
    x: float = Field(ge=0, le=7)
    y: float = Field(ge=0, le=7)


class OffByOne(BaseModel):
    type: Literal["move"]
    x: int = Field(ge=0, le=8)
    y: int = Field(ge=0, le=8)


@pytest.mark.parametrize("wrong", [Unbounded, AnyType, Floats, OffByOne])
def test_09_2_rejects(wrong: type[BaseModel]) -> None:
    assert not checks.check_09_2(wrong)


def fixed_window(times: list[float], rate: float, burst: int) -> list[bool]:
    """Counts events per whole second: lets a double burst through at a window's edge."""
    counts: dict[int, int] = {}
    verdicts = []
    for now in times:
        window = int(now)
        counts[window] = counts.get(window, 0) + 1
        verdicts.append(counts[window] <= burst)
    return verdicts


def uncapped(times: list[float], rate: float, burst: int) -> list[bool]:
    tokens, last, verdicts = float(burst), times[0], []
    for now in times:
        tokens += (now - last) * rate  # no cap: a long pause saves up a huge burst
        last = now
        verdicts.append(tokens >= 1)
        tokens -= tokens >= 1
    return verdicts


def starts_empty(times: list[float], rate: float, burst: int) -> list[bool]:
    tokens, last, verdicts = 0.0, times[0], []
    for now in times:
        tokens = min(burst, tokens + (now - last) * rate)
        last = now
        verdicts.append(tokens >= 1)
        tokens -= tokens >= 1
    return verdicts


@pytest.mark.parametrize("wrong", [fixed_window, uncapped, starts_empty, lambda *args: None])
def test_09_3_rejects(wrong: Callable[..., list[bool]]) -> None:
    assert not checks.check_09_3(wrong)


def test_09_3_rejects_a_random_answer() -> None:
    assert not checks.check_09_3(lambda times, rate, burst: [random.random() < 0.5 for _ in times])
