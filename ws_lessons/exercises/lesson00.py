"""Exercises of lesson 00: start a server inside the kernel."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from ws_lessons.exercises.core import TIMEOUT, Hint, exercise
from ws_lessons.server import RunningServer, serve


@exercise("00.1", hint="serve(app) returns a handle: keep it in a variable and pass it on.")
def check_00_1(server: Any) -> str:
    """Start the lesson's app with serve() and pass the handle."""
    if not isinstance(server, RunningServer):
        raise Hint(
            f"pass what serve(app) returned (a RunningServer), not a {type(server).__name__}"
        )
    if not server.running:
        raise Hint("this server is stopped: did you leave a `with serve(...)` block already?")
    response = httpx.get(f"{server.url}/", timeout=TIMEOUT)
    if response.status_code != 200:
        raise Hint(f"GET / answered {response.status_code}; serve the app defined in the lesson")
    return f"your server answers on port {server.port}"


# Reference answers


def solution_00_1() -> RunningServer:
    app = FastAPI()

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return serve(app, name="exercise 00.1")
