"""Lesson 00's checks give each typical mistake its own hint."""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

import httpx
import pytest
from exercisekit import rejected
from fastapi import FastAPI

from ws_lessons import checks, serve
from ws_lessons.server import running

pytestmark = pytest.mark.timeout(60)


AC = "a cell you chose starts a second event loop"
BE = "a cell you left out only awaits"
D = "a cell you left out blocks only the cell's thread"


@pytest.mark.parametrize(
    ("letters", "hints"),
    [
        ({"B", "C", "D", "E"}, [AC]),
        ({"A", "B", "D", "E"}, [AC]),
        ({"B", "E"}, [D]),
        ({"D"}, [BE]),
        ({"A", "B", "C", "D", "E"}, [AC]),
        ({"A", "C"}, [AC, BE, D]),
        ({"B", "D", "E", "Z"}, ["there is no cell Z"]),
        ("BDE", ["answer with a set of letters"]),
    ],
    ids=[
        "uvicorn-run-works",
        "asyncio-run-works",
        "blocking-client-deadlocks",
        "awaiting-fails",
        "all",
        "all-wrong",
        "unknown",
        "str",
    ],
)
def test_00_1_hints(letters: Any, hints: list[str]) -> None:
    message = rejected(checks.check_00_1, letters)
    for hint in hints:
        assert hint in message
    others = {AC, BE, D} - set(hints)
    assert not [hint for hint in others if hint in message], message


@pytest.mark.parametrize(
    "letters", [{"B", "D", "E"}, {"b", "d", "e"}, ["E", "D", "B"], frozenset("BDE")]
)
def test_00_1_the_right_cells_pass_and_each_is_explained(letters: Any) -> None:
    verdict = checks.check_00_1(letters)
    assert verdict, verdict.message
    for letter in "ABCDE":
        assert f"\n  {letter}: " in verdict.message


def test_00_1_an_empty_answer_reveals_nothing() -> None:
    message = rejected(checks.check_00_1, set())
    assert "none of the five cells runs" in message
    assert not [hint for hint in (AC, BE, D) if hint in message]


def test_00_1_no_try_names_a_cell_or_counts_the_wrong_ones() -> None:
    """The whole answer is judged first: no wrong answer learns the verdict on one cell."""
    for size in range(6):
        for letters in itertools.combinations("ABCDE", size):
            if set(letters) == {"B", "D", "E"}:
                continue
            message = rejected(checks.check_00_1, set(letters))
            assert not re.search(r"\b[A-E]\b|\d", message), message


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


@pytest.mark.usefixtures("chinese")
def test_00_1_hint_in_chinese() -> None:
    message = rejected(checks.check_00_1, {"A", "B", "D", "E"})
    assert "你选中的某个单元格会在单元格所在的线程里再启动一个事件循环" in message
