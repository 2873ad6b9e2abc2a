"""Lesson 03's checks reject the mistakes learners typically make."""

import asyncio
from collections.abc import Callable
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


def orders_app(order_model: type[BaseModel]) -> FastAPI:
    app = FastAPI()

    @app.post("/orders")
    async def place_order(order: order_model) -> dict:  # type: ignore[valid-type]
        return {"item": order.item, "quantity": order.quantity, "total": order.quantity * 3}

    return app


class UnconstrainedOrder(BaseModel):
    item: str
    quantity: int


class QuantityBoundOrder(BaseModel):
    item: str
    quantity: int = Field(ge=1, le=100)


@pytest.mark.parametrize(
    ("order_model", "hint"),
    [
        (UnconstrainedOrder, "give quantity a lowest value in the model"),
        (QuantityBoundOrder, "give item a shortest length in the model"),
    ],
    ids=["no-limits", "no-length-limits"],
)
def test_03_2_hints(order_model: type[BaseModel], hint: str) -> None:
    assert hint in rejected(checks.check_03_2, orders_app(order_model))


def me_app(current_user: Callable[..., str]) -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(user: Annotated[str, Depends(current_user)]) -> dict:
        return {"user": user}

    return app


def required_header(x_token: Annotated[str, Header()]) -> str:
    """A required header: a missing token gets FastAPI's 422, not a 401."""
    if x_token != "secret":
        raise HTTPException(401, "wrong token")
    return "learner"


def any_token(x_token: Annotated[str | None, Header()] = None) -> str:
    if x_token is None:
        raise HTTPException(401, "no token")
    return "learner"


@pytest.mark.parametrize(
    ("current_user", "hint"),
    [
        (required_header, "because the header parameter is required"),
        (any_token, "with a wrong X-Token, GET /me answered 200"),
    ],
    ids=["422", "any-token"],
)
def test_03_3_hints(current_user: Callable[..., str], hint: str) -> None:
    assert hint in rejected(checks.check_03_3, me_app(current_user))


@pytest.mark.usefixtures("chinese")
def test_03_2_hint_in_chinese() -> None:
    message = rejected(checks.check_03_2, orders_app(UnconstrainedOrder))
    assert "返回了 200，而不是 422：让模型来拒绝它：在模型里给 quantity 设定最小值" in message
