"""Exercises of lesson 03: path operations, pydantic validation, dependencies.

No ``from __future__ import annotations`` here: the reference answers define their models
inside a function, and FastAPI must see those annotations as classes, not strings.
"""

from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Header, HTTPException, status
from pydantic import BaseModel, Field

from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, served

PRICE = 3  # what one unit costs in exercise 03.2


def _request(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return http.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise Hint(f"{method} {path} did not answer within {TIMEOUT:.0f} s") from None


def _json_of(response: httpx.Response, where: str) -> Any:
    if response.status_code == 404:
        raise Hint(f"{where} answered 404: is the path right?")
    if response.status_code == 405:
        raise Hint(f"{where} answered 405: is it declared with the right method?")
    if response.status_code != 200:
        raise Hint(f"{where} answered {response.status_code}: {response.text[:200]}")
    return response.json()


@exercise(
    "03.1",
    hint='@app.get("/items/{item_id}") with parameters item_id: int and q: str | None = None.',
)
def check_03_1(app: Any) -> str:
    """GET /items/{item_id} (an int) with an optional query q answers {"item_id", "q"}."""
    with (
        served(app, "03.1") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
    ):
        plain = _json_of(_request(http, "GET", "/items/5"), "GET /items/5")
        if plain == {"item_id": "5", "q": None}:
            raise Hint("item_id came back as the string '5': declare it `item_id: int`")
        if plain != {"item_id": 5, "q": None}:
            raise Hint(f"GET /items/5 answered {plain}; expected {{'item_id': 5, 'q': None}}")
        asked = _json_of(_request(http, "GET", "/items/5?q=red"), "GET /items/5?q=red")
        if asked != {"item_id": 5, "q": "red"}:
            raise Hint(
                f"GET /items/5?q=red answered {asked}; expected {{'item_id': 5, 'q': 'red'}}"
            )
        wrong = _request(http, "GET", "/items/five")
        if wrong.status_code != 422:
            raise Hint(
                f"GET /items/five answered {wrong.status_code}; with `item_id: int` FastAPI "
                "refuses it with 422 by itself"
            )
    return "path and query parameters arrive typed, and bad ones are refused for you"


@exercise(
    "03.2",
    hint="Give the model limits with Field(min_length=1, max_length=50) and Field(ge=1, "
    'le=100), and take it as the parameter of an @app.post("/orders") function.',
)
def check_03_2(app: Any) -> str:
    """POST /orders takes {"item": 1-50 chars, "quantity": 1-100}, answers with a total."""
    with (
        served(app, "03.2") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
    ):
        good = {"item": "tea", "quantity": 4}
        reply = _json_of(_request(http, "POST", "/orders", json=good), f"POST /orders {good}")
        expected = {"item": "tea", "quantity": 4, "total": 4 * PRICE}
        if reply != expected:
            raise Hint(f"POST /orders with {good} answered {reply}; expected {expected}")
        bad_orders = [
            ({"item": "tea", "quantity": 0}, "quantity: Field(ge=1, le=100)"),
            ({"item": "tea", "quantity": 101}, "quantity: Field(ge=1, le=100)"),
            ({"item": "", "quantity": 1}, "item: Field(min_length=1, max_length=50)"),
            ({"item": "x" * 51, "quantity": 1}, "item: Field(min_length=1, max_length=50)"),
            ({"item": "tea"}, "a field without a default is required"),
            ({"item": "tea", "quantity": "many"}, "quantity: int"),
        ]
        for order, fix in bad_orders:
            response = _request(http, "POST", "/orders", json=order)
            if response.status_code != 422:
                raise Hint(
                    f"POST /orders with {order} answered {response.status_code}, not 422: "
                    f"let the model refuse it ({fix})"
                )
    return "the model checks every order before your function even runs"


@exercise(
    "03.3",
    hint="A function reading x_token: Annotated[str | None, Header()] = None raises "
    "HTTPException(401) unless it is 'secret'; the route takes Depends(that function).",
)
def check_03_3(app: Any) -> str:
    """GET /me needs the header X-Token: secret (else 401) and answers {"user": "learner"}."""
    with (
        served(app, "03.3") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
    ):
        missing = _request(http, "GET", "/me")
        if missing.status_code == 422:
            raise Hint(
                "without the header, FastAPI answered 422: give the header a default "
                "(x_token: Annotated[str | None, Header()] = None) and raise a 401 yourself"
            )
        if missing.status_code == 404:
            raise Hint("GET /me answered 404: is the path right?")
        if missing.status_code != 401:
            raise Hint(f"without X-Token, GET /me answered {missing.status_code}; expected 401")
        wrong = _request(http, "GET", "/me", headers={"X-Token": "guess"})
        if wrong.status_code != 401:
            raise Hint(f"with a wrong X-Token, GET /me answered {wrong.status_code}; expected 401")
        right = _request(http, "GET", "/me", headers={"X-Token": "secret"})
        if _json_of(right, "GET /me with X-Token: secret") != {"user": "learner"}:
            raise Hint(f"with the right token, GET /me answered {right.json()}")
    return "the dependency guards the route; the route itself stays one line"


# Reference answers


def solution_03_1() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    return app


def solution_03_2() -> FastAPI:
    app = FastAPI()

    class Order(BaseModel):
        item: str = Field(min_length=1, max_length=50)
        quantity: int = Field(ge=1, le=100)

    class Priced(Order):
        total: int

    @app.post("/orders")
    async def place_order(order: Order) -> Priced:
        return Priced(**order.model_dump(), total=order.quantity * PRICE)

    return app


def solution_03_3() -> FastAPI:
    app = FastAPI()

    def current_user(x_token: Annotated[str | None, Header()] = None) -> str:
        if x_token != "secret":
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong X-Token")
        return "learner"

    @app.get("/me")
    async def me(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
        return {"user": user}

    return app
