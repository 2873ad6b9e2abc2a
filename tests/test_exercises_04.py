"""Lesson 04's checks reject the mistakes learners typically make."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest

from ws_lessons import checks
from ws_lessons.handshake import GUID

pytestmark = pytest.mark.timeout(60)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


WRONG_ACCEPT_KEYS: dict[str, Callable[[str], object]] = {
    "no-guid": lambda key: b64(hashlib.sha1(key.encode()).digest()),
    "guid-first": lambda key: b64(hashlib.sha1((GUID + key).encode()).digest()),
    "hex-digest": lambda key: hashlib.sha1((key + GUID).encode()).hexdigest(),
    "decoded-key": lambda key: b64(hashlib.sha1(base64.b64decode(key) + GUID.encode()).digest()),
    "bytes": lambda key: base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()),
    "unfinished": lambda key: None,
}


@pytest.mark.parametrize("wrong", WRONG_ACCEPT_KEYS.values(), ids=WRONG_ACCEPT_KEYS.keys())
def test_04_1_rejects(wrong: Callable[[str], object]) -> None:
    assert not checks.check_04_1(wrong)


def test_04_1_rejects_a_value_instead_of_a_function() -> None:
    assert not checks.check_04_1("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")


@pytest.mark.parametrize(
    "line",
    [
        "Sec-WebSocket-Version: 8",
        "Sec-WebSocket-Version 13",
        "Upgrade: websocket",
        "Origin: http://localhost",
        "...",
    ],
)
def test_04_2_rejects(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not checks.check_04_2(line)
    assert "❌" in capsys.readouterr().out


def test_04_2_hint_repeats_what_the_server_said(capsys: pytest.CaptureFixture[str]) -> None:
    assert not checks.check_04_2("Sec-WebSocket-Version: 8")
    assert "400" in capsys.readouterr().out


@pytest.mark.parametrize("letter", ["A", "B", "c", ["D"], "AD"])
def test_04_3_rejects(letter: object) -> None:
    assert not checks.check_04_3(letter)
