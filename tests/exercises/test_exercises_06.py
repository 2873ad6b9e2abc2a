"""Lesson 06's checks: the reference answers pass, and each typical mistake gets its own hint."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from exercisekit import rejected

from ws_lessons import checks, stop_all
from ws_lessons.exercises.lesson06 import solution_06_1
from ws_lessons.frames import Opcode
from ws_lessons.handshake import HandshakeError, build_response, parse_request

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _stop_servers() -> Any:
    yield
    stop_all()


def handshake_answering(
    status_for_version: int, *, version_field: bool, always: bool = False
) -> Any:
    """A handshake() that refuses a bad version with ``status_for_version``."""

    async def handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        try:
            request = parse_request(head)
            writer.write(build_response(request))
        except HandshakeError:
            wrong_version = request.headers.get("Sec-WebSocket-Version") not in (None, "13")
            status = status_for_version if (wrong_version or always) else 400
            field = "Sec-WebSocket-Version: 13\r\n" if version_field else ""
            writer.write(f"HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\n{field}\r\n".encode())
            return False
        await writer.drain()
        return True

    return handshake


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (handshake_answering(400, version_field=False), "still gets 400"),
        (handshake_answering(426, version_field=False), "does not say which version"),
        (handshake_answering(426, version_field=True, always=True), "without Upgrade got 426"),
        (lambda reader, writer: True, "async def"),
    ],
    ids=["unchanged", "no version field", "426 for everything", "not async"],
)
def test_06_1_names_the_mistake(answer: Any, hint: str) -> None:
    assert hint in rejected(checks.check_06_1, answer)


def test_06_1_the_version_field_must_say_13() -> None:
    reference = solution_06_1()

    async def says_8(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        real_write = writer.write
        writer.write = lambda data: real_write(data.replace(b"Version: 13", b"Version: 8"))  # type: ignore[method-assign]
        return await reference(reader, writer)

    assert "This server speaks 13" in rejected(checks.check_06_1, says_8)


PONG, TEXT, CLOSE = Opcode.PONG, Opcode.TEXT, Opcode.CLOSE


@pytest.mark.parametrize(
    ("prediction", "hint"),
    [
        ([(TEXT, b"Hello"), (PONG, b"1"), (CLOSE, 1000)], "answered at once"),
        ([(TEXT, b"Hel"), (PONG, b"1"), (TEXT, b"lo"), (CLOSE, 1000)], "whole messages"),
        ([(PONG, b"1"), (PONG, b"2"), (TEXT, b"Hello"), (CLOSE, 1000)], "needs no answer"),
        ([(PONG, b"1"), (TEXT, b"Hello")], "answers the close frame"),
        ([(PONG, b""), (TEXT, b"Hello"), (CLOSE, 1000)], "same payload"),
        ([(PONG, b"1"), (TEXT, b"Hello"), (CLOSE, 1005)], "echoes the code"),
        ([(TEXT, b"Hello"), (CLOSE, 1000)], "always gets a PONG"),
        ("PONG, TEXT, CLOSE", "a list of"),
    ],
    ids=[
        "echo first",
        "fragments",
        "pong answered",
        "no close",
        "pong payload",
        "1005",
        "no pong",
        "not a list",
    ],
)
def test_06_2_names_the_mistake(prediction: Any, hint: str) -> None:
    assert hint in rejected(checks.check_06_2, prediction)


@pytest.mark.usefixtures("chinese")
def test_06_1_hint_in_chinese() -> None:
    always_426 = handshake_answering(426, version_field=True, always=True)
    assert "缺少 Upgrade 的请求得到了 426" in rejected(checks.check_06_1, always_426)
