"""Exercises of lesson 03: path operations, pydantic validation, dependencies.

No ``from __future__ import annotations`` here: the reference answers define their models
inside a function, and FastAPI must see those annotations as classes, not strings.
"""

import asyncio
import concurrent.futures
import time
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Header, HTTPException, status
from pydantic import BaseModel, Field

from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, served
from ws_lessons.i18n import _

__all__ = [
    "CALLS_03_1",
    "LOOKUP_SECONDS",
    "PRICE",
    "check_03_1",
    "check_03_2",
    "check_03_3",
    "lookup",
    "solution_03_1",
    "solution_03_2",
    "solution_03_3",
]

PRICE = 3  # what one unit costs in exercise 03.2


def _request(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return http.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise Hint(
            _("{method} {path} did not answer within {seconds:.0f} s").format(
                method=method, path=path, seconds=TIMEOUT
            )
        ) from None


def _json_of(response: httpx.Response, where: str) -> Any:
    if response.status_code == 404:
        raise Hint(_("{where} answered 404: is the path right?").format(where=where))
    if response.status_code == 405:
        raise Hint(
            _("{where} answered 405: is it declared with the right method?").format(where=where)
        )
    if response.status_code != 200:
        raise Hint(
            _("{where} answered {status}: {body}").format(
                where=where, status=response.status_code, body=response.text[:200]
            )
        )
    return response.json()


# 03.1 -------------------------------------------------------------------------------------------

LOOKUP_SECONDS = 0.2
CALLS_03_1: list[str] = []
"""The cities ``lookup`` was asked about, so the check can tell that the answers come from it."""


def lookup(city: str) -> dict[str, str]:
    """A slow, blocking library call (think: a database driver without async support)."""
    CALLS_03_1.append(city)
    time.sleep(LOOKUP_SECONDS)
    return {"city": city, "weather": "sunny"}


@exercise(
    "03.1",
    nudge="Lesson 03 timed three endpoints that wait 0.1 s. Which of them is `weather` like, "
    "and what did five requests at once cost there?",
    hint="While `lookup` sleeps, the thread that called it can do nothing else. In an "
    "`async def` endpoint that thread runs the event loop, so every other request waits. "
    "Either let FastAPI run the endpoint in a worker thread, or hand just the call to a "
    "thread and await it. Keep `lookup` as it is.",
)
def check_03_1(app: Any) -> str:
    """GET /weather/{city} answers lookup(city), and five requests at once wait for one lookup."""
    cities = ["oslo", "lima", "pune", "kobe", "graz"]
    with served(app, "03.1") as server, httpx.Client(timeout=TIMEOUT) as single:
        CALLS_03_1.clear()
        first = _request_at(single, server.url, "/weather/oslo")
        reply = _json_of(first, "GET /weather/oslo")
        if "oslo" not in CALLS_03_1:
            raise Hint(
                _(
                    "GET /weather/oslo answered {reply} without calling lookup(city): the "
                    "answer must come from it"
                ).format(reply=reply)
            )
        if reply != {"city": "oslo", "weather": "sunny"}:
            raise Hint(
                _("GET /weather/oslo answered {reply}; return what lookup(city) returns").format(
                    reply=reply
                )
            )
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(len(cities)) as pool:
            futures = [
                pool.submit(_request_at, single, server.url, f"/weather/{city}") for city in cities
            ]
            for future in futures:
                _json_of(future.result(), "GET /weather/...")
        elapsed = time.perf_counter() - started
    serial = len(cities) * LOOKUP_SECONDS
    if elapsed >= 0.8 * serial:
        raise Hint(
            _(
                "{count} requests at once took as long as {count} lookups one "
                "after the other: lookup still blocks the event loop, so the server can do "
                "nothing else while it sleeps. Moving the call into another `async def` does "
                "not change that"
            ).format(count=len(cities))
        )
    return _(
        "{count} requests at once took about as long as one lookup: the loop stayed "
        "free while they waited"
    ).format(count=len(cities))


def _request_at(http: httpx.Client, base: str, path: str) -> httpx.Response:
    response = _request(http, "GET", f"{base}{path}")
    if response.status_code == 500:
        raise Hint(
            _(
                "GET {path} failed on the server (HTTP 500): is there a coroutine you did not "
                "await?"
            ).format(path=path)
        )
    return response


@exercise(
    "03.2",
    nudge="Lesson 03's Order model already refuses bad orders: which part of each field's "
    "declaration does that?",
    hint="Limits belong in the model, on each field: a length range for text, a range of "
    "values for numbers. A route that takes the model as its parameter never runs for "
    "a body that breaks them; it only computes the total.",
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
            raise Hint(
                _("POST /orders with {order} answered {reply}; expected {expected}").format(
                    order=good, reply=reply, expected=expected
                )
            )
        bad_orders = [
            ({"item": "tea", "quantity": 0}, _("give quantity a lowest value in the model")),
            ({"item": "tea", "quantity": 101}, _("give quantity a highest value in the model")),
            ({"item": "", "quantity": 1}, _("give item a shortest length in the model")),
            ({"item": "x" * 51, "quantity": 1}, _("give item a longest length in the model")),
            ({"item": "tea"}, _("a field without a default is required")),
            ({"item": "tea", "quantity": "many"}, _("declare quantity an int")),
        ]
        for order, fix in bad_orders:
            response = _request(http, "POST", "/orders", json=order)
            if response.status_code != 422:
                raise Hint(
                    _(
                        "POST /orders with {order} answered {status}, not 422: "
                        "let the model refuse it: {fix}"
                    ).format(order=order, status=response.status_code, fix=fix)
                )
    return _("the model checks every order before your function even runs")


@exercise(
    "03.3",
    nudge="Lesson 03's `current_user` guards GET /orders. What does it read, and what does "
    "it do when the value is wrong?",
    hint="Write a small function that reads the header (missing is allowed, so it needs a "
    "default) and raises a 401 error unless the value is right; the route asks for "
    "that function's result through Depends and only builds the answer.",
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
                _(
                    "without the header, FastAPI answered 422, because the header parameter is "
                    "required: give it the default None, and raise the 401 yourself"
                )
            )
        if missing.status_code == 404:
            raise Hint(_("GET /me answered 404: is the path right?"))
        if missing.status_code != 401:
            raise Hint(
                _("without X-Token, GET /me answered {status}; expected 401").format(
                    status=missing.status_code
                )
            )
        wrong = _request(http, "GET", "/me", headers={"X-Token": "guess"})
        if wrong.status_code != 401:
            raise Hint(
                _("with a wrong X-Token, GET /me answered {status}; expected 401").format(
                    status=wrong.status_code
                )
            )
        right = _request(http, "GET", "/me", headers={"X-Token": "secret"})
        if _json_of(right, _("GET /me with X-Token: secret")) != {"user": "learner"}:
            raise Hint(
                _("with the right token, GET /me answered {reply}").format(reply=right.json())
            )
    return _("the dependency guards the route; the route itself stays one line")


# Reference answers


def solution_03_1() -> FastAPI:
    app = FastAPI()

    @app.get("/weather/{city}")
    async def weather(city: str) -> dict[str, str]:
        # A worker thread sleeps; the event loop serves other requests meanwhile.
        # (A plain `def` endpoint does the same: FastAPI runs it in a worker thread.)
        return await asyncio.to_thread(lookup, city)

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
