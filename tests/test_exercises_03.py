"""Lesson 03's checks reject the mistakes learners typically make."""

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel

from ws_lessons import checks

pytestmark = pytest.mark.timeout(60)


def untyped_item() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id, q: str | None = None) -> dict:  # type: ignore[no-untyped-def]
        return {"item_id": item_id, "q": q}

    return app


def item_without_query() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict:
        return {"item_id": item_id, "q": None}

    return app


@pytest.mark.parametrize("wrong", [untyped_item(), item_without_query()], ids=["str-id", "no-q"])
def test_03_1_rejects(wrong: FastAPI) -> None:
    assert not checks.check_03_1(wrong)


def unconstrained_orders() -> FastAPI:
    app = FastAPI()

    class Order(BaseModel):
        item: str
        quantity: int

    @app.post("/orders")
    async def place_order(order: Order) -> dict:
        return {"item": order.item, "quantity": order.quantity, "total": order.quantity * 3}

    return app


def test_03_2_rejects_a_model_without_limits() -> None:
    assert not checks.check_03_2(unconstrained_orders())


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


@pytest.mark.parametrize("wrong", [required_header(), any_token()], ids=["422", "any-token"])
def test_03_3_rejects(wrong: FastAPI) -> None:
    assert not checks.check_03_3(wrong)
