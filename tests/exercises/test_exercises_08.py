"""Lesson 08's checks reject the mistakes learners typically make."""

from __future__ import annotations

import inspect

import pytest
import uvicorn
from exercisekit import rejected
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect

from ws_lessons import checks
from ws_lessons.exercises.lesson08 import solution_08_2, solution_08_3

pytestmark = pytest.mark.timeout(60)


def router_app(
    prefix: str, *, on_app: bool = False, echo_loops: bool = True, included: str | None = ""
) -> FastAPI:
    """Health and echo routes on a router with ``prefix`` (or straight on the app), included
    with the prefix ``included`` (None: not included)."""
    app = FastAPI()
    where = app if on_app else APIRouter(prefix=prefix)

    @where.get("/api/health" if on_app else "/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @where.websocket("/api/echo" if on_app else "/echo")
    async def echo_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
                if not echo_loops:
                    return
        except WebSocketDisconnect:
            pass

    if not on_app and included is not None:
        app.include_router(where, prefix=included)
    return app


def test_08_1_accepts_a_router_with_the_prefix() -> None:
    assert checks.check_08_1(router_app("/api"))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (router_app("/api", included="/api", echo_loops=False), "the prefix is there twice"),
        (router_app("/api", echo_loops=False), "does your endpoint keep looping"),
        (router_app("/api", on_app=True), "they are declared on the app itself"),
        (router_app("/api", included=None), "is the router included in the app?"),
        (router_app("/v1"), "is the router's prefix /api"),
    ],
    ids=["as-given", "prefix-fixed-only", "on-the-app", "not-included", "wrong-prefix"],
)
def test_08_1_hints(wrong: FastAPI, hint: str) -> None:
    assert hint in rejected(checks.check_08_1, wrong)


def negotiating_app(choose, *, unmatched: str = "accept") -> FastAPI:  # type: ignore[no-untyped-def]
    """/negotiate accepts with ``choose(offered)``; when that is None, ``unmatched`` says what
    the endpoint does: "accept" anyway, "close" after accepting, or "refuse" before."""
    app = FastAPI()

    @app.websocket("/negotiate")
    async def negotiate(websocket: WebSocket) -> None:
        chosen = choose(websocket.scope["subprotocols"])
        if chosen is None and unmatched == "refuse":
            await websocket.close(code=1008)  # before accept(): the handshake is refused
            return
        await websocket.accept(subprotocol=chosen)
        if chosen is None and unmatched == "close":
            await websocket.close(code=1008)
            return
        await websocket.send_text(chosen or "")
        await websocket.close()

    return app


def preferred(offered: list[str]) -> str | None:
    return next((p for p in ("chat.v2", "chat.v1") if p in offered), None)


@pytest.mark.parametrize(
    ("choose", "unmatched", "hint"),
    [
        (
            lambda offered: offered[0] if offered else None,  # the client's order, not ours
            "accept",
            "offered ['chat.v1', 'chat.v2'], you chose chat.v1; expected chat.v2",
        ),
        (
            preferred,
            "accept",
            "offered ['mqtt'], you accepted (with no subprotocol): refuse the handshake",
        ),
        (
            preferred,
            "close",
            "offered ['mqtt'], the connection opened, then you closed it (code 1008): a close "
            "after accept() comes too late, the client was already connected. Decide before "
            "accept(): raise WebSocketException there",
        ),
    ],
    ids=["client-order", "accepts-without-a-match", "accepts-then-closes"],
)
def test_08_2_hints(choose, unmatched: str, hint: str) -> None:  # type: ignore[no-untyped-def]
    message = rejected(checks.check_08_2, negotiating_app(choose, unmatched=unmatched))
    assert hint in message
    assert "send the chosen subprotocol's name" not in message


@pytest.mark.parametrize(
    "app",
    [negotiating_app(preferred, unmatched="refuse"), solution_08_2()],
    ids=["close-before-accept", "websocket-exception"],
)
def test_08_2_accepts_a_refusal_before_accept(app: FastAPI) -> None:
    assert checks.check_08_2(app)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        ({"ws_max_size": 4096}, "the server still negotiated compression"),
        ({**solution_08_3(), "ws_max_size": 4 * 1024 * 1024}, "a 4097-byte message was echoed"),
        ({**solution_08_3(), "ws_ping_timeout": None}, "never answers pings was still connected"),
        ({**solution_08_3(), "ws_per_message_deflate": True}, "still negotiated compression"),
        ({**solution_08_3(), "max_size": 4096}, "unexpected keyword argument 'max_size'"),
        ({**solution_08_3(), "ws_ping_interval": None}, "uvicorn sends no pings at all"),
        ({**solution_08_3(), "ws_ping_timeout": "1"}, "a number of seconds (or None), not '1'"),
    ],
    ids=[
        "size-only",
        "4-MiB",
        "no-ping-timeout",
        "deflate-on",
        "not-a-uvicorn-option",
        "no-pings",
        "seconds-as-text",
    ],
)
def test_08_3_hints(wrong: dict, hint: str) -> None:  # type: ignore[type-arg]
    assert hint in rejected(checks.check_08_3, wrong)


def test_08_3_accepts_one_second_and_one_second() -> None:
    """An interval and a timeout that add up to the limit exactly: a silent client goes after
    2 s by design, and whatever the machine adds to that is not held against the answer."""
    one_and_one = {**solution_08_3(), "ws_ping_interval": 1, "ws_ping_timeout": 1}
    assert checks.check_08_3(one_and_one)


def test_08_3_timeout_alone_names_the_interval_and_its_default() -> None:
    options = {**solution_08_3(), "ws_ping_timeout": 2}
    del options["ws_ping_interval"]
    default = inspect.signature(uvicorn.Config).parameters["ws_ping_interval"].default
    message = rejected(checks.check_08_3, options)
    assert "never answers pings was still connected" in message
    assert f"here {default!r} + 2 s" in message
    used = f"uvicorn {uvicorn.__version__} uses its default: ws_ping_interval={default!r}"
    assert used in message


def test_08_3_too_long_by_design_is_named_even_when_dropped() -> None:
    options = {**solution_08_3(), "ws_ping_interval": 0.3, "ws_ping_timeout": 2.2}
    message = rejected(checks.check_08_3, options)
    assert "one ws_ping_interval (0.3 s) plus one ws_ping_timeout (2.2 s)" in message
