"""Lesson 05's checks reject the mistakes learners typically make."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from exercisekit import rejected

from ws_lessons import checks
from ws_lessons.frames import Frame, encode
from ws_lessons.solutions import SOLUTIONS

pytestmark = pytest.mark.timeout(60)


def xor(data: bytes, mask: bytes) -> bytes:
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def right(text: str, mask: bytes) -> bytes:
    return SOLUTIONS["05.1"]()(text, mask)


# Each wrong answer under the hint it must get (in WRONG_CLOSES too).
WRONG_FRAMES: dict[str, Callable[[str, bytes], object]] = {
    "that frame is not masked": lambda text, mask: encode(Frame.text(text)),
    "the MASK bit and key are there, but XOR the payload": lambda text, mask: (
        right(text, mask)[: -len(text.encode())] + text.encode()
    ),
    "set FIN too": lambda text, mask: b"\x01" + right(text, mask)[1:],
    "the length counts bytes of UTF-8, not characters": lambda text, mask: (
        bytes([0x81, 0x80 | len(text) & 0x7F]) + mask + xor(text.encode(), mask)
    ),
    "return bytes, not str": lambda text, mask: right(text, mask).hex(),
}


@pytest.mark.parametrize("hint", WRONG_FRAMES)
def test_05_1_hints(hint: str) -> None:
    assert hint in rejected(checks.check_05_1, WRONG_FRAMES[hint])


def right_close(data: bytes) -> tuple[int, str]:
    return SOLUTIONS["05.2"]()(data)


def still_masked(data: bytes) -> tuple[int, str]:
    payload = data[6:] if data[1] & 0x80 else data[2:]
    if not payload:
        return 1005, ""
    return int.from_bytes(payload[:2], "big"), payload[2:].decode(errors="replace")


WRONG_CLOSES: dict[str, Callable[[bytes], object]] = {
    "comes from a client: its payload is masked": still_masked,
    "the close code is big-endian": lambda data: (
        (int.from_bytes(right_close(data)[0].to_bytes(2, "big"), "little"), right_close(data)[1])
    ),
    "has no payload, so no code": lambda data: right_close(data) if len(data) > 6 else (1000, ""),
    "decode the reason": lambda data: (right_close(data)[0], right_close(data)[1].encode()),
    "return a tuple (code, reason)": lambda data: right_close(data)[0],
}


@pytest.mark.parametrize("hint", WRONG_CLOSES)
def test_05_2_hints(hint: str) -> None:
    assert hint in rejected(checks.check_05_2, WRONG_CLOSES[hint])


@pytest.mark.parametrize(
    ("letters", "hint"),
    [
        ({"A"}, "E is valid"),
        ({"A", "B", "E"}, "a server must reject B: a server must not receive an unmasked frame"),
        ({"A", "C", "E"}, "a server must reject C: PING frame is fragmented"),
        ({"A", "D", "E"}, "a server must reject D: reserved bit RSV1 is set"),
        ({"A", "E", "F"}, "a server must reject F: PONG frame payload is 126 bytes"),
        ("AE", "answer with a set of letters"),
        ({"A", "Z"}, "there is no frame Z"),
    ],
)
def test_05_3_hints(letters: object, hint: str) -> None:
    assert hint in rejected(checks.check_05_3, letters)


@pytest.mark.usefixtures("chinese")
def test_05_1_hint_in_chinese() -> None:
    message = rejected(checks.check_05_1, WRONG_FRAMES["that frame is not masked"])
    assert "这个帧没有掩码（mask）：请设置 MASK 位并加上 4 字节的掩码键" in message
