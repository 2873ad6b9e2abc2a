"""Lesson 05's checks reject the mistakes learners typically make."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from exercisekit import rejected

from ws_lessons import checks
from ws_lessons.frames import Frame, Opcode, ProtocolError, encode
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


# 05.4: a decoder fed hostile input. Each flag plants one mistake in an otherwise right decoder.
class Decoder:
    """A frame decoder for a server, with mistakes to plant (class attributes, off by default)."""

    unmask = True
    byteorder = "big"
    read_extended = True
    check_sizes = True  # return None while the header or payload is incomplete
    keep_buffer = True
    keep_rest = True
    payload_ends_at_length = True
    fin_bit = 0x80
    check_top_bit = True
    check_mask = True
    error: type[Exception] = ProtocolError

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> Frame | None:
        self.buffer = self.buffer + data if self.keep_buffer else bytearray(data)
        buffer = self.buffer
        if self.check_sizes and len(buffer) < 2:
            return None
        if self.check_mask and not buffer[1] & 0x80:
            raise self.error("unmasked")
        length, at = buffer[1] & 0x7F, 2
        if length >= 126 and self.read_extended:
            at += 2 if length == 126 else 8
            if self.check_sizes and len(buffer) < at:
                return None
            length = int.from_bytes(buffer[2:at], self.byteorder)
            if self.check_top_bit and length >> 63:
                raise self.error("top bit")
        end = at + 4 + length
        if self.check_sizes and len(buffer) < end:
            return None
        key, payload = bytes(buffer[at : at + 4]), bytes(buffer[at + 4 : end])
        if not self.payload_ends_at_length:
            payload, end = bytes(buffer[at + 4 :]), len(buffer)
        if self.unmask:
            payload = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
        frame = Frame(Opcode(buffer[0] & 0x0F), payload, bool(buffer[0] & self.fin_bit))
        self.buffer = buffer[end:] if self.keep_rest else bytearray()
        return frame


def planted(**mistake: object) -> type[Decoder]:
    return type("Planted", (Decoder,), mistake)


class Loops(Decoder):
    def feed(self, data: bytes) -> Frame | None:
        while True:  # waits for bytes that never come
            pass


WRONG_DECODERS: dict[str, type] = {
    "the payload is still masked": planted(unmask=False),
    "read little-endian; lengths are big-endian (network byte order)": planted(byteorder="little"),
    "126 in the 7-bit length is not a length": planted(read_extended=False),
    "cut after byte 1 of 11, in the first 2 bytes: your decoder raised IndexError": planted(
        check_sizes=False
    ),
    "Did it read the second piece as a new frame? Keep the bytes of each feed()": planted(
        keep_buffer=False
    ),
    "the length says 3 bytes; the bytes after them are the next frame": planted(
        payload_ends_at_length=False
    ),
    "did not return the second; keep the bytes after a frame": planted(keep_rest=False),
    "FIN is the top bit of byte 0 (0x80)": planted(fin_bit=0x40),
    "the 64-bit length 0x8000000000000005 has its most significant bit set": planted(
        check_top_bit=False
    ),
    "RFC 6455 §5.1 says 'The server MUST close the connection": planted(check_mask=False),
    "refuse it with ProtocolError (from ws_lessons.frames), not ValueError": planted(
        error=ValueError
    ),
    "your decoder did not return (still running after 20,000,000 lines of code)": Loops,
}


@pytest.mark.slow
def test_05_4_a_right_decoder_passes() -> None:
    assert checks.check_05_4(Decoder)
    assert checks.check_05_4(SOLUTIONS["05.4"]())


@pytest.mark.parametrize("hint", WRONG_DECODERS)
def test_05_4_hints(hint: str) -> None:
    assert hint in rejected(checks.check_05_4, WRONG_DECODERS[hint])


def test_05_4_a_decoder_that_swallows_the_stop_is_reported(monkeypatch) -> None:
    from ws_lessons.exercises import bounded

    released = threading.Event()  # set once the check has given up: the thread may end then

    class Stubborn(Decoder):
        def feed(self, data: bytes) -> Frame | None:
            while not released.is_set():
                try:
                    while not released.is_set():
                        pass
                except BaseException:  # swallows the check's OutOfSteps
                    pass
            return None

    monkeypatch.setattr(bounded.run_bounded, "__kwdefaults__", {"steps": 1000, "deadline": 2.0})
    try:
        assert "restart the kernel" in rejected(checks.check_05_4, Stubborn)
    finally:
        released.set()


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda data: (102, ""), "the MASK bit (0x80 of byte 1) is 0"),
    ],
)
def test_05_2_unmasking_every_frame_names_the_mask_bit(wrong: object, hint: str) -> None:
    def always_unmask(data: bytes) -> tuple[int, str]:
        key, payload = data[2:6], data[6 : 6 + (data[1] & 0x7F)]
        payload = xor(payload, key)
        if not payload:
            return 1005, ""
        return int.from_bytes(payload[:2], "big"), payload[2:].decode(errors="replace")

    assert hint in rejected(checks.check_05_2, always_unmask)


def test_05_2_never_unmasking_names_the_mask_bit() -> None:
    """Reading every frame as a server's: a client's key is taken for the code."""

    def never_unmask(data: bytes) -> tuple[int, str]:
        payload = data[2 : 2 + (data[1] & 0x7F)]
        if not payload:
            return 1005, ""
        return int.from_bytes(payload[:2], "big"), payload[2:].decode(errors="replace")

    assert "the MASK bit (0x80 of byte 1) is 1" in rejected(checks.check_05_2, never_unmask)


def test_05_1_a_little_endian_length_names_the_byte_order() -> None:
    def little(text: str, mask: bytes) -> bytes:
        frame = right(text, mask)
        if frame[1] & 0x7F != 126:
            return frame
        return frame[:2] + frame[2:4][::-1] + frame[4:]

    assert "little-endian" in rejected(checks.check_05_1, little)


@pytest.mark.usefixtures("chinese")
def test_05_4_hint_in_chinese() -> None:
    message = rejected(checks.check_05_4, planted(check_mask=False))
    assert "为 0 的帧到达了你的服务器解码器" in message and "请抛出 ProtocolError" in message
    message = rejected(checks.check_05_4, planted(unmask=False))
    assert message.startswith("一个 5 字节的文本帧：载荷仍然带着掩码")


def test_05_4_an_instance_instead_of_the_class() -> None:
    assert "pass the class itself" in rejected(checks.check_05_4, Decoder())
