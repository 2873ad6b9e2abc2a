"""Lesson 00's checks give each typical mistake its own hint."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from exercisekit import rejected
from fastapi import FastAPI

from ws_lessons import checks, serve
from ws_lessons.server import running

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("letters", "hint"),
    [
        ({"B", "C", "D", "E"}, "think again about C: it fails; uvicorn.run() starts its own"),
        ({"A", "B", "D", "E"}, "think again about A: it fails; asyncio.run() starts a new"),
        ({"B", "E"}, "think again about D: it works; serve() runs uvicorn"),
        ({"B", "D", "E", "Z"}, "there is no cell Z"),
        ("BDE", "answer with a set of letters"),
    ],
    ids=["uvicorn-run-works", "asyncio-run-works", "blocking-client-deadlocks", "unknown", "str"],
)
def test_00_1_hints(letters: Any, hint: str) -> None:
    assert hint in rejected(checks.check_00_1, letters)


def asks_too_late(app: FastAPI) -> Any:
    """The starter's bug: the request goes out after the `with` block stopped the server."""
    with serve(app, name="exercise 00.2") as server:
        pass
    return httpx.get(server.url).json()


def never_stops(app: FastAPI) -> Any:
    server = serve(app, name="exercise 00.2")
    return httpx.get(server.url).json()


def returns_the_response(app: FastAPI) -> Any:
    with serve(app, name="exercise 00.2") as server:
        return httpx.get(server.url)


def runs_a_loop(app: FastAPI) -> Any:
    async def fetch(url: str) -> Any:
        async with httpx.AsyncClient() as client:
            return (await client.get(url)).json()

    with serve(app, name="exercise 00.2") as server:
        coroutine = fetch(server.url)
        try:
            return asyncio.run(coroutine)
        finally:
            coroutine.close()


@pytest.mark.parametrize(
    ("ask", "hint"),
    [
        (asks_too_late, "the request found nobody listening"),
        (never_stops, "was still running after ask() returned"),
        (returns_the_response, "you returned the response itself"),
    ],
    ids=["asks-after-the-block", "never-stops", "returns-response"],
)
def test_00_2_hints(ask: Any, hint: str) -> None:
    message = rejected(checks.check_00_2, ask)
    assert hint in message
    assert not [server for server in running() if server.name == "exercise 00.2"]


def test_00_2_explains_asyncio_run_inside_a_running_loop() -> None:
    async def in_a_cell() -> Any:
        return checks.check_00_2(runs_a_loop)

    verdict = asyncio.run(in_a_cell())
    assert not verdict
    assert "asyncio.run() cannot start a loop inside the kernel's" in verdict.message


@pytest.mark.usefixtures("chinese")
def test_00_2_hint_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    message = rejected(checks.check_00_2, asks_too_late)
    assert "请求发出时没有人在监听：服务器已经停止了" in message
    assert message in capsys.readouterr().out
