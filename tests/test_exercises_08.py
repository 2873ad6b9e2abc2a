"""Lesson 08's checks reject the mistakes learners typically make."""

from __future__ import annotations

import pytest
from exercisekit import rejected
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect

from ws_lessons import checks
from ws_lessons.exercises.lesson08 import solution_08_3

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


def negotiating_app(choose) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI()

    @app.websocket("/negotiate")
    async def negotiate(websocket: WebSocket) -> None:
        chosen = choose(websocket.scope["subprotocols"])
        await websocket.accept(subprotocol=chosen)
        await websocket.send_text(chosen or "")
        await websocket.close()

    return app


@pytest.mark.parametrize(
    ("choose", "hint"),
    [
        (
            lambda offered: offered[0] if offered else None,  # the client's order, not ours
            "offered ['chat.v1', 'chat.v2'], you chose chat.v1; expected chat.v2",
        ),
        (
            lambda offered: next((p for p in ("chat.v2", "chat.v1") if p in offered), None),
            "offered ['mqtt'], you accepted (with no subprotocol): refuse the handshake",
        ),
    ],
    ids=["client-order", "accepts-without-a-match"],
)
def test_08_2_hints(choose, hint: str) -> None:  # type: ignore[no-untyped-def]
    assert hint in rejected(checks.check_08_2, negotiating_app(choose))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        ({"ws_max_size": 4096}, "the server still negotiated compression"),
        ({**solution_08_3(), "ws_max_size": 4 * 1024 * 1024}, "a 4097-byte message was echoed"),
        ({**solution_08_3(), "ws_ping_timeout": None}, "never answers pings was still connected"),
        ({**solution_08_3(), "ws_per_message_deflate": True}, "still negotiated compression"),
        ({**solution_08_3(), "max_size": 4096}, "unexpected keyword argument 'max_size'"),
    ],
    ids=["size-only", "4-MiB", "no-ping-timeout", "deflate-on", "not-a-uvicorn-option"],
)
def test_08_3_hints(wrong: dict, hint: str) -> None:  # type: ignore[type-arg]
    assert hint in rejected(checks.check_08_3, wrong)
