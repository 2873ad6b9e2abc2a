"""Lesson 09's checks reject the mistakes learners typically make."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from exercisekit import rejected
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from ws_lessons import checks, stop_all
from ws_lessons.exercises import lesson09

pytestmark = pytest.mark.timeout(60)


async def waits_for_room(outboxes: dict[str, asyncio.Queue[str]], message: str) -> list[str]:
    """The naive habit: await put(), which waits as long as the queue is full."""
    for outbox in outboxes.values():
        await outbox.put(message)
    return []


def keeps_the_slow_ones(outboxes: dict[str, asyncio.Queue[str]], message: str) -> list[str]:
    """Looks before it puts, and reports the full ones, but leaves them in ``outboxes``."""
    dropped = [name for name, outbox in outboxes.items() if outbox.full()]
    for name, outbox in outboxes.items():
        if name not in dropped:
            outbox.put_nowait(message)
    return dropped


def deletes_while_looping(outboxes: dict[str, asyncio.Queue[str]], message: str) -> list[str]:
    dropped = []
    for name, outbox in outboxes.items():
        try:
            outbox.put_nowait(message)
        except asyncio.QueueFull:
            dropped.append(name)
            del outboxes[name]
    return dropped


def drops_everyone_with_a_backlog(
    outboxes: dict[str, asyncio.Queue[str]], message: str
) -> list[str]:
    dropped = [name for name, outbox in outboxes.items() if not outbox.empty()]
    for name in dropped:
        del outboxes[name]
    for outbox in outboxes.values():
        outbox.put_nowait(message)
    return dropped


@pytest.mark.parametrize(
    ("wrong", "diagnosis"),
    [
        (waits_for_room, "`await queue.put()` waits for room in a full queue"),
        (keeps_the_slow_ones, "remove the dropped clients from the dict"),
        (deletes_while_looping, "the dict changed size while you looped over it"),
        (drops_everyone_with_a_backlog, "you dropped ['grace', 'slow']; expected ['slow']"),
    ],
    ids=["await-put", "not-removed", "delete-while-looping", "drops-any-backlog"],
)
def test_09_1_diagnoses(wrong: Any, diagnosis: str) -> None:
    assert diagnosis in rejected(checks.check_09_1, wrong)


Endpoint = Callable[[WebSocket, asyncio.Queue[str]], Awaitable[None]]


def outbox_app(endpoint: Endpoint) -> Callable[[], FastAPI]:
    """An app whose /ws accepts, gives the client an outbox, then runs ``endpoint``."""

    def app() -> FastAPI:
        app = FastAPI()

        @app.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            await websocket.accept()
            await endpoint(websocket, asyncio.Queue(10))

        return app

    return app


async def send_from(outbox: asyncio.Queue[str], websocket: WebSocket) -> None:
    while True:
        await websocket.send_text(await outbox.get())


async def echo_into(outbox: asyncio.Queue[str], websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            outbox.put_nowait(f"echo: {await websocket.receive_text()}")


@outbox_app
async def leaky_app(websocket: WebSocket, outbox: asyncio.Queue[str]) -> None:
    """The exercise as given: a sender task nobody ever cancels."""
    asyncio.create_task(send_from(outbox, websocket))  # noqa: RUF006 (the leak in question)
    await echo_into(outbox, websocket)


@outbox_app
async def waits_for_the_sender(websocket: WebSocket, outbox: asyncio.Queue[str]) -> None:
    """A TaskGroup whose receiver returns quietly: the group then waits for the sender."""
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(send_from(outbox, websocket))
        tasks.create_task(echo_into(outbox, websocket))


@outbox_app
async def no_sender(websocket: WebSocket, outbox: asyncio.Queue[str]) -> None:
    """The task removed altogether: nothing leaks, and nothing is sent."""
    await echo_into(outbox, websocket)


@pytest.mark.parametrize(
    ("wrong", "diagnosis"),
    [
        (leaky_app, "one per client that came"),
        (waits_for_the_sender, "their endpoints were still running"),
        (no_sender, "no reply within"),
    ],
    ids=["create-task-never-cancelled", "group-waits-for-sender", "no-sender"],
)
def test_09_2_diagnoses(wrong: Callable[[], FastAPI], diagnosis: str) -> None:
    try:
        assert diagnosis in rejected(checks.check_09_2, wrong())
    finally:
        stop_all()


@pytest.mark.parametrize(
    ("prediction", "diagnosis"),
    [
        ({"ada", "grace"}, "what the colleague meant it to do"),
        ({"ada", "slow", "grace"}, "the `del` does run"),
        ({"ada"}, "exactly one client goes"),
        ("ada, slow", "answer with a set of names"),
    ],
    ids=["meant", "nobody", "two-gone", "not-a-set"],
)
def test_09_3_diagnoses(prediction: Any, diagnosis: str) -> None:
    assert diagnosis in rejected(checks.check_09_3, prediction)


def test_09_3_prediction_matches_the_code() -> None:
    assert lesson09._after_colleagues_broadcast() == lesson09.solution_09_3()


@pytest.mark.usefixtures("chinese")
def test_09_1_speaks_chinese_in_the_chinese_edition() -> None:
    message = rejected(checks.check_09_1, keeps_the_slow_ones)
    assert (
        "广播之后，outboxes 里还有 ['ada', 'grace', 'slow']：请把移除的客户端从 dict 中删掉"
        in message
    )
    assert "after the broadcast" not in message
