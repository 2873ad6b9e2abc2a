"""Lesson 03's checks reject the mistakes learners typically make."""

import asyncio
from typing import Annotated, Any

import pytest
from exercisekit import rejected
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

from ws_lessons import checks
from ws_lessons.exercises.lesson03 import lookup

pytestmark = pytest.mark.timeout(60)


def weather_app(endpoint: Any) -> FastAPI:
    app = FastAPI()
    app.get("/weather/{city}")(endpoint)
    return app


async def blocking(city: str) -> dict:
    """The starter: a blocking call inside `async def`."""
    return lookup(city)


async def wrapped_in_async(city: str) -> dict:
    async def lookup_async(city: str) -> dict:
        return lookup(city)  # still blocks the loop

    return await lookup_async(city)


async def not_awaited(city: str) -> Any:
    return asyncio.to_thread(lookup, city)


async def made_up(city: str) -> dict:
    return {"city": city, "weather": "sunny"}


def in_a_thread(city: str) -> dict:
    return lookup(city)


@pytest.mark.parametrize(
    ("endpoint", "hint"),
    [
        (blocking, "lookup still blocks the event loop"),
        (wrapped_in_async, "lookup still blocks the event loop"),
        (not_awaited, "is there a coroutine you did not await?"),
        (made_up, "without calling lookup(city)"),
    ],
    ids=["blocking", "wrapped-in-async", "not-awaited", "made-up"],
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_03_1_hints(endpoint: Any, hint: str) -> None:
    assert hint in rejected(checks.check_03_1, weather_app(endpoint))


def test_03_1_accepts_a_plain_def_endpoint() -> None:
    assert checks.check_03_1(weather_app(in_a_thread))


def unconstrained_orders() -> FastAPI:
    app = FastAPI()

    class Order(BaseModel):
        item: str
        quantity: int

    @app.post("/orders")
    async def place_order(order: Order) -> dict:
        return {"item": order.item, "quantity": order.quantity, "total": order.quantity * 3}

    return app


def bounded_quantity_only() -> FastAPI:
    app = FastAPI()

    class Order(BaseModel):
        item: str
        quantity: int = Field(ge=1, le=100)

    @app.post("/orders")
    async def place_order(order: Order) -> dict:
        return {"item": order.item, "quantity": order.quantity, "total": order.quantity * 3}

    return app


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (unconstrained_orders(), "give quantity a lowest value in the model"),
        (bounded_quantity_only(), "give item a shortest length in the model"),
    ],
    ids=["no-limits", "no-length-limits"],
)
def test_03_2_hints(wrong: FastAPI, hint: str) -> None:
    assert hint in rejected(checks.check_03_2, wrong)


def required_header() -> FastAPI:
    """A required header: a missing token gets FastAPI's 422, not a 401."""
    app = FastAPI()

    def current_user(x_token: Annotated[str, Header()]) -> str:
        if x_token != "secret":
            raise HTTPException(401, "wrong token")
        return "learner"

    @app.get("/me")
    async def me(user: Annotated[str, Depends(current_user)]) -> dict:
        return {"user": user}

    return app


def any_token() -> FastAPI:
    app = FastAPI()

    def current_user(x_token: Annotated[str | None, Header()] = None) -> str:
        if x_token is None:
            raise HTTPException(401, "no token")
        return "learner"

    @app.get("/me")
    async def me(user: Annotated[str, Depends(current_user)]) -> dict:
        return {"user": user}

    return app


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (required_header(), "because the header parameter is required"),
        (any_token(), "with a wrong X-Token, GET /me answered 200"),
    ],
    ids=["422", "any-token"],
)
def test_03_3_hints(wrong: FastAPI, hint: str) -> None:
    assert hint in rejected(checks.check_03_3, wrong)


@pytest.mark.usefixtures("chinese")
def test_03_2_hint_in_chinese() -> None:
    message = rejected(checks.check_03_2, unconstrained_orders())
    assert "返回了 200，而不是 422：让模型来拒绝它：在模型里给 quantity 设定最小值" in message
