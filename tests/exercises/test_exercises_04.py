"""Lesson 04's checks reject the mistakes learners typically make."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from exercisekit import rejected

from ws_lessons import checks
from ws_lessons.exercises.lesson04 import BROKEN_04_1
from ws_lessons.handshake import GUID

pytestmark = pytest.mark.timeout(60)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def broken_accept_key() -> Callable[[str], object]:
    """The function the exercise starts from, with both of its bugs."""
    namespace: dict[str, Any] = {"hashlib": hashlib, "base64": base64, "GUID": GUID}
    exec(BROKEN_04_1, namespace)
    return namespace["broken_accept_key"]


WRONG_ACCEPT_KEYS: dict[str, tuple[Callable[[str], object], str]] = {
    "as-given": (broken_accept_key(), "both bugs are still there"),
    "hex-fixed-only": (
        lambda key: b64(hashlib.sha1((GUID + key).encode()).digest()),
        "the GUID goes after the key",
    ),
    "order-fixed-only": (
        lambda key: b64(hashlib.sha1((key + GUID).encode()).hexdigest().encode()),
        "you base64-encoded the digest's 40 hex characters",
    ),
    "no-guid": (lambda key: b64(hashlib.sha1(key.encode()).digest()), "you hashed the key alone"),
    "hex-digest": (
        lambda key: hashlib.sha1((key + GUID).encode()).hexdigest(),
        "that is the SHA-1 in hex",
    ),
    "decoded-key": (
        lambda key: b64(hashlib.sha1(base64.b64decode(key) + GUID.encode()).digest()),
        "do not base64-decode it first",
    ),
    "bytes": (
        lambda key: base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()),
        "return a str",
    ),
    "unfinished": (lambda key: None, "your function returns None"),
}


@pytest.mark.parametrize("wrong", WRONG_ACCEPT_KEYS.values(), ids=WRONG_ACCEPT_KEYS.keys())
def test_04_1_hints(wrong: tuple[Callable[[str], object], str]) -> None:
    function, hint = wrong
    assert hint in rejected(checks.check_04_1, function)


def test_04_1_rejects_a_value_instead_of_a_function() -> None:
    accept_value = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert "pass your function itself" in rejected(checks.check_04_1, accept_value)


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("Sec-WebSocket-Version: 8", "invalid Sec-WebSocket-Version header: 8"),
        ("Sec-WebSocket-Version 13", "is not a header line"),
        ("Upgrade: websocket", "the request already has a line 'Upgrade'"),
        ("Origin: http://localhost", "missing Sec-WebSocket-Version header"),
    ],
    ids=["old-version", "no-colon", "already-there", "origin"],
)
def test_04_2_hints(line: str, hint: str) -> None:
    assert hint in rejected(checks.check_04_2, line)


def test_04_2_hint_repeats_what_the_server_said() -> None:
    assert "400" in rejected(checks.check_04_2, "Sec-WebSocket-Version: 8")


@pytest.mark.parametrize(
    ("letter", "hint"),
    [
        ("A", "status must be 101"),
        ("B", "Sec-WebSocket-Accept mismatch"),
        ("c", "missing Connection header"),
        ("AD", "answer with one letter"),
    ],
)
def test_04_3_hints(letter: object, hint: str) -> None:
    assert hint in rejected(checks.check_04_3, letter)


@pytest.mark.usefixtures("chinese")
def test_04_1_hint_in_chinese() -> None:
    message = rejected(checks.check_04_1, broken_accept_key())
    assert message.startswith("两个错误都还在：GUID 要放在 key 之后")
