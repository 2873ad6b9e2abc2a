"""Lesson 10's checks name the mistakes learners typically make."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pytest
from exercisekit import rejected
from fastapi import FastAPI, WebSocket, WebSocketException, status
from pydantic import BaseModel, ConfigDict, Field

from ws_lessons import checks, solutions
from ws_lessons.exercises.lesson10 import COOKIE_PAGES

pytestmark = pytest.mark.timeout(60)


def answer(**changes: bool) -> dict[str, bool]:
    """The right prediction with some pages changed (keyword: a short name of the page)."""
    pages = dict(solutions.SOLUTIONS["10.1"]())
    names = {"port": ":8443", "forum": "forum.", "parent": "//example.com", "lookalike": "evil"}
    for name, sent in changes.items():
        (page,) = [page for page in pages if names[name] in page]
        pages[page] = sent
    return pages


@pytest.mark.parametrize(
    ("wrong", "diagnosis"),
    [
        (answer(port=False), "cookies do not provide isolation by port"),
        (answer(forum=False), "sibling subdomain"),
        (answer(parent=False), "registrable domain of chat.example.com itself"),
        (answer(lookalike=True), "evil.net"),
        ({page: page == "https://chat.example.com/" for page in COOKIE_PAGES}, "by port"),
        ({page: None for page in COOKIE_PAGES}, "replace None"),
        ({"https://chat.example.com/": True}, "keep exactly the pages"),
    ],
    ids=["port", "subdomain", "parent", "lookalike", "origins not sites", "unfilled", "dropped"],
)
def test_10_1_names_the_mistake(wrong: dict[str, bool | None], diagnosis: str) -> None:
    assert diagnosis in rejected(checks.check_10_1, wrong)


def protocol_app(
    *, answer: Callable[[list[str]], str | None], refuse_before: bool = True
) -> Callable[[Callable[[str], str]], FastAPI]:
    """An ``app_for`` that checks the token subprotocol and answers ``answer(offered)``."""

    def app_for(verify: Callable[[str], str]) -> FastAPI:
        app = FastAPI()

        @app.websocket("/ws")
        async def endpoint(websocket: WebSocket) -> None:
            offered = websocket.scope["subprotocols"]
            tokens = [name.removeprefix("token.") for name in offered if name[:6] == "token."]
            try:
                user = verify(tokens[0]) if tokens else None
            except ValueError:
                user = None
            if user is None and refuse_before:
                raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
            await websocket.accept(subprotocol=answer(offered))
            if user is None:
                await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
                return
            await websocket.send_text(user)

        return app

    return app_for


def query_token(verify: Callable[[str], str]) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, token: str = "") -> None:
        try:
            user = verify(token)
        except ValueError:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION) from None
        await websocket.accept()
        await websocket.send_text(user)

    return app


@pytest.mark.parametrize(
    ("wrong", "diagnosis"),
    [
        (protocol_app(answer=lambda offered: None), "a browser that offered names fails"),
        (protocol_app(answer=lambda offered: offered[-1]), "sends the token back"),
        (
            protocol_app(answer=lambda offered: "chat.v1", refuse_before=False),
            "refuse it before accept()",
        ),
        (query_token, "not from the query"),
        (FastAPI(), "pass your function app_for itself"),
    ],
    ids=["no answer", "echoes the token", "closes after accept", "reads the query", "an app"],
)
def test_10_2_names_the_mistake(wrong: object, diagnosis: str) -> None:
    assert diagnosis in rejected(checks.check_10_2, wrong)


class Unbounded(BaseModel):
    type: Literal["move"]
    x: int
    y: int


class AnyType(BaseModel):
    type: str
    x: int = Field(ge=0, le=7)
    y: int = Field(ge=0, le=7)


class Floats(BaseModel):
    type: Literal["move"]
    x: float = Field(ge=0, le=7)
    y: float = Field(ge=0, le=7)


class Lax(BaseModel):
    type: Literal["move"]
    x: int = Field(ge=0, le=7)
    y: int = Field(ge=0, le=7)


class StrictButOpen(Lax):
    model_config = ConfigDict(strict=True)


class ClosedButLax(Lax):
    model_config = ConfigDict(extra="forbid")


class StringsOnly(Lax):
    model_config = ConfigDict(strict=True, extra="forbid")

    x: int = Field(ge=0, le=7, strict=False)


class OffByOne(BaseModel):
    type: Literal["move"]
    x: int = Field(ge=0, le=8)
    y: int = Field(ge=0, le=8)


@pytest.mark.parametrize(
    ("wrong", "diagnosis"),
    [
        (Unbounded, "off the board"),
        (AnyType, "another type"),
        (Floats, "not a square"),
        (OffByOne, "x = 8"),
        (Lax, "x = true"),
        (ClosedButLax, "x = true"),
        (StrictButOpen, "not part of a move"),
        (StringsOnly, "x = true"),
    ],
    ids=[
        "unbounded",
        "any type",
        "floats",
        "off by one",
        "lax",
        "closed but lax",
        "open",
        "one lax",
    ],
)
def test_10_3_names_the_mistake(wrong: type[BaseModel], diagnosis: str) -> None:
    assert diagnosis in rejected(checks.check_10_3, wrong)


def test_10_3_accepts_the_strict_closed_model() -> None:
    verdict = checks.check_10_3(solutions.SOLUTIONS["10.3"]())
    assert verdict, verdict.message


@pytest.mark.usefixtures("chinese")
def test_10_1_speaks_chinese_in_the_chinese_edition() -> None:
    message = rejected(checks.check_10_1, answer(parent=False))
    assert (
        "https://example.com/：你认为 cookie 不会被发送，其实会："
        "example.com 正是 chat.example.com 的可注册域名：同一个站点"
    ) in message
