"""Lesson 05's checks reject the mistakes learners typically make."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ws_lessons import checks
from ws_lessons.frames import Frame, encode
from ws_lessons.solutions import SOLUTIONS

pytestmark = pytest.mark.timeout(60)


def xor(data: bytes, mask: bytes) -> bytes:
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def right(text: str, mask: bytes) -> bytes:
    return SOLUTIONS["05.1"]()(text, mask)


WRONG_FRAMES: dict[str, Callable[[str, bytes], object]] = {
    "unmasked": lambda text, mask: encode(Frame.text(text)),
    "key-but-not-xored": lambda text, mask: (
        right(text, mask)[: -len(text.encode())] + text.encode()
    ),
    "no-fin": lambda text, mask: b"\x01" + right(text, mask)[1:],
    "length-in-characters": lambda text, mask: (
        bytes([0x81, 0x80 | len(text) & 0x7F]) + mask + xor(text.encode(), mask)
    ),
    "str": lambda text, mask: right(text, mask).hex(),
}


@pytest.mark.parametrize("wrong", WRONG_FRAMES.values(), ids=WRONG_FRAMES.keys())
def test_05_1_rejects(wrong: Callable[[str, bytes], object]) -> None:
    assert not checks.check_05_1(wrong)


def right_close(data: bytes) -> tuple[int, str]:
    return SOLUTIONS["05.2"]()(data)


def still_masked(data: bytes) -> tuple[int, str]:
    payload = data[6:] if data[1] & 0x80 else data[2:]
    if not payload:
        return 1005, ""
    return int.from_bytes(payload[:2], "big"), payload[2:].decode(errors="replace")


WRONG_CLOSES: dict[str, Callable[[bytes], object]] = {
    "still-masked": still_masked,
    "little-endian": lambda data: (
        (int.from_bytes(right_close(data)[0].to_bytes(2, "big"), "little"), right_close(data)[1])
    ),
    "empty-is-1000": lambda data: right_close(data) if len(data) > 6 else (1000, ""),
    "reason-bytes": lambda data: (right_close(data)[0], right_close(data)[1].encode()),
    "code-only": lambda data: right_close(data)[0],
}


@pytest.mark.parametrize("wrong", WRONG_CLOSES.values(), ids=WRONG_CLOSES.keys())
def test_05_2_rejects(wrong: Callable[[bytes], object]) -> None:
    assert not checks.check_05_2(wrong)


@pytest.mark.parametrize(
    "letters",
    [{"A"}, {"A", "B", "E"}, {"A", "C", "E"}, {"A", "D", "E"}, {"A", "E", "F"}, "AE", {"A", "Z"}],
)
def test_05_3_rejects(letters: object) -> None:
    assert not checks.check_05_3(letters)
