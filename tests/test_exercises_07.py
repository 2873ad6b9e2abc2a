"""Lesson 07's checks reject the mistakes learners typically make."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect

from ws_lessons import checks
from ws_lessons.exercises.lesson07 import solution_07_3

pytestmark = pytest.mark.timeout(60)


def router_app(prefix: str, *, on_app: bool = False, echo: bool = True) -> FastAPI:
    """Health and echo routes on a router with ``prefix`` (or straight on the app)."""
    app = FastAPI()
    where = app if on_app else APIRouter(prefix=prefix)

    @where.get("/api/health" if on_app else "/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    if echo:

        @where.websocket("/api/echo" if on_app else "/echo")
        async def echo_endpoint(websocket: WebSocket) -> None:
            await websocket.accept()
            try:
                while True:
                    await websocket.send_text(await websocket.receive_text())
            except WebSocketDisconnect:
                pass

    if not on_app:
        app.include_router(where)
    return app


def test_07_1_accepts_a_router_with_the_prefix() -> None:
    assert checks.check_07_1(router_app("/api"))


@pytest.mark.parametrize(
    "wrong",
    [router_app(""), router_app("/v1"), router_app("/api", echo=False)],
    ids=["no-prefix", "wrong-prefix", "no-websocket-route"],
)
def test_07_1_rejects(wrong: FastAPI) -> None:
    assert not checks.check_07_1(wrong)


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
    "choose",
    [
        lambda offered: offered[0] if offered else None,  # the client's order, not ours
        lambda offered: next((p for p in ("chat.v2", "chat.v1") if p in offered), None),
    ],
    ids=["client-order", "accepts-without-a-match"],
)
def test_07_2_rejects(choose) -> None:  # type: ignore[no-untyped-def]
    assert not checks.check_07_2(negotiating_app(choose))


@pytest.mark.parametrize(
    "wrong",
    [
        {"ws_max_size": 4096},
        {**solution_07_3(), "ws_max_size": 4 * 1024 * 1024},
        {**solution_07_3(), "ws_ping_timeout": None},
        {**solution_07_3(), "ws_per_message_deflate": True},
        {**solution_07_3(), "max_size": 4096},
    ],
    ids=["size-only", "4-MiB", "no-ping-timeout", "deflate-on", "not-a-uvicorn-option"],
)
def test_07_3_rejects(wrong: dict) -> None:  # type: ignore[type-arg]
    assert not checks.check_07_3(wrong)
