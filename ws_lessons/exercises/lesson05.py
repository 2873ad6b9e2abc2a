"""Exercises of lesson 05: messages and frames."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ws_lessons.exercises.core import Hint, chosen_letters, exercise, require_function
from ws_lessons.frames import (
    CloseCode,
    Frame,
    Opcode,
    ProtocolError,
    close_payload,
    decode,
    encode,
    parse_close,
)
from ws_lessons.i18n import N_, _


def _call(function: Any, *args: Any) -> Any:
    """Call the learner's function, turning a crash into a hint."""
    require_function(function)
    try:
        return function(*args)
    except Exception as exc:
        shown = ", ".join(repr(arg) for arg in args)
        raise Hint(
            _("your function raised {type} for ({arguments}): {error}").format(
                type=type(exc).__name__, arguments=shown, error=exc
            )
        ) from None


# 05.1 -------------------------------------------------------------------------------------------

CASES_05_1 = [
    ("Hi", b"\x37\xfa\x21\x3d"),
    ("héllo, wörld", b"\x00\x01\x02\x03"),  # more bytes than characters
    ("long " * 40, b"\xa1\xb2\xc3\xd4"),  # 200 bytes: the 16-bit extended length
]


@exercise(
    "05.1",
    nudge="Start from the lesson's hand-made frame of `hello`, and see which of its bytes "
    "change for a longer text, and for text that is not ASCII.",
    hint="Byte 0 is FIN and the opcode, byte 1 the MASK bit and the length (126 plus 2 "
    "bytes past 125), then the key, then payload[i] ^ mask[i % 4].",
)
def check_05_1(function: Any) -> str:
    """``encode_text(text, mask) -> bytes``: a masked text frame, as a client sends it."""
    for text, mask in CASES_05_1:
        got = _call(function, text, mask)
        if got is None:
            raise Hint(_("your function returns None: build the bytes and `return` them"))
        if not isinstance(got, bytes | bytearray):
            raise Hint(_("return bytes, not {type}").format(type=type(got).__name__))
        got = bytes(got)
        expected = encode(Frame.text(text), mask=mask)
        if got == expected:
            continue
        payload = text.encode()
        unmasked = encode(Frame.text(text))
        if got == unmasked:
            raise Hint(_("that frame is not masked: set the MASK bit and add the 4-byte key"))
        if got[:1] == b"\x01":
            raise Hint(_("the first byte is 0x01: set FIN too (0x80 | 0x01 = 0x81)"))
        if got == expected[: -len(payload)] + payload:
            raise Hint(
                _("the MASK bit and key are there, but XOR the payload: byte i ^ mask[i % 4]")
            )
        if len(payload) != len(text) and len(got) > 1 and got[1] & 0x7F == len(text):
            raise Hint(
                _("the length counts bytes of UTF-8, not characters: use len(text.encode())")
            )
        if len(payload) > 125 and got[1] & 0x7F != 126:
            raise Hint(
                _(
                    "a payload of 126 to 65535 bytes puts 126 in the 7-bit length and the real "
                    "length in the next 2 bytes, big-endian (RFC 6455 §5.2)"
                )
            )
        raise Hint(
            _(
                "for {text!r} with mask {mask} the frame is\n  {expected}\nyours starts\n  {got}"
            ).format(
                text=text[:20],
                mask=mask.hex(),
                expected=expected[:24].hex(" "),
                got=got[:24].hex(" "),
            )
        )
    return _("FIN, opcode, MASK, length, key, masked payload: byte for byte what a client sends")


# 05.2 -------------------------------------------------------------------------------------------

CASES_05_2 = [
    encode(Frame.close(1000, "bye")),  # from a server: not masked
    encode(Frame.close(1001, "tab closed"), mask=b"\x5a\x11\x9c\x03"),  # from a client: masked
    encode(Frame.close(4000, "héllo"), mask=b"\xff\x00\xff\x00"),
    encode(Frame(Opcode.CLOSE), mask=b"\x01\x02\x03\x04"),  # no code at all
]


@exercise(
    "05.2",
    nudge="Make two close frames with encode(), one with a mask and one without, and read "
    "both with explain(): which byte tells them apart, and where does the code start?",
    hint="The MASK bit of byte 1 says whether 4 key bytes come first and the payload "
    "needs unmasking; the code is the first 2 payload bytes, big-endian.",
)
def check_05_2(function: Any) -> str:
    """``close_info(data) -> (code, reason)`` for the bytes of a close frame."""
    for data in CASES_05_2:
        frame, _size = decode(data)
        code, reason = parse_close(frame.payload)
        expected = (int(code), reason)
        got = _call(function, data)
        if not isinstance(got, tuple) or len(got) != 2:
            raise Hint(_("return a tuple (code, reason); got {got!r}").format(got=got))
        if got == expected:
            continue
        masked = bool(data[1] & 0x80)
        if not frame.payload:
            raise Hint(
                _(
                    "{frame} has no payload, so no code: RFC 6455 §7.1.5 says the "
                    "close code is then taken as 1005 (no status received), with reason ''"
                ).format(frame=data.hex(" "))
            )
        if isinstance(got[1], bytes):
            raise Hint(_("decode the reason: it is UTF-8 text, so return reason_bytes.decode()"))
        wire = data[6:] if masked else data[2:]
        if masked and got[0] == int.from_bytes(wire[:2], "big"):
            raise Hint(
                _(
                    "{frame} comes from a client: its payload is masked. "
                    "Unmask it with the 4 key bytes after the length before reading the code"
                ).format(frame=data.hex(" "))
            )
        if got[0] == int.from_bytes(frame.payload[:2], "little"):
            raise Hint(
                _("the close code is big-endian (network byte order): int.from_bytes(b, 'big')")
            )
        raise Hint(
            _("for {frame} expected {expected}, got {got!r}").format(
                frame=data.hex(" "), expected=expected, got=got
            )
        )
    return _("2 bytes of code, big-endian, then a UTF-8 reason; 1005 when there is nothing")


# 05.3 -------------------------------------------------------------------------------------------

_KEY = b"\x0f\x1e\x2d\x3c"
FRAMES_05_3 = {
    "A": encode(Frame.text("hi"), mask=_KEY),
    "B": encode(Frame.text("hi")),
    "C": encode(Frame(Opcode.PING, b"still there?", fin=False), mask=_KEY),
    "D": encode(Frame(Opcode.BINARY, b"\x00\x01", rsv1=True), mask=_KEY),
    "E": encode(Frame(Opcode.CLOSE, close_payload(CloseCode.GOING_AWAY)), mask=_KEY),
    "F": encode(Frame(Opcode.PONG, bytes(126)), mask=_KEY),
}
"""Frames that a client sends to a server that negotiated no extension."""

_RULES_05_3 = {
    "A": N_("a masked text frame with FIN set is what clients send"),
    "E": N_("a masked close frame with a 2-byte code (1001, going away) is a normal goodbye"),
}


@exercise(
    "05.3",
    nudge="Write each frame's first two bytes in binary: FIN, RSV1-3, opcode; MASK, length.",
    hint="Ask four questions of each frame: masked? reserved bits clear? if a control "
    "frame (opcode 8 to 10), FIN set and at most 125 bytes of payload?",
)
def check_05_3(letters: Any) -> str:
    """The set of letters of FRAMES_05_3 that a server must accept."""
    chosen = chosen_letters(letters, FRAMES_05_3, _("frame"))
    if not chosen:
        raise Hint(_("pick the letters of the frames a server must accept: at least one is fine"))
    for letter, data in FRAMES_05_3.items():
        try:
            decode(data, role="server")
        except ProtocolError as exc:
            if letter in chosen:
                raise Hint(
                    _("a server must reject {letter}: {problem}").format(letter=letter, problem=exc)
                ) from None
        else:
            if letter not in chosen:
                raise Hint(
                    _("{letter} is valid: {rule}").format(
                        letter=letter, rule=_(_RULES_05_3[letter])
                    )
                )
    return _("masked, no reserved bits, control frames short and whole: only A and E pass")


# Reference answers


def solution_05_1() -> Callable[[str, bytes], bytes]:
    def encode_text(text: str, mask: bytes) -> bytes:
        payload = text.encode()
        header = bytes([0x80 | 0x1])  # FIN + opcode 1 (text)
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])  # MASK bit + 7-bit length
        else:  # up to 65535 bytes: 126, then a 16-bit length
            header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        return header + mask + masked

    return encode_text


def solution_05_2() -> Callable[[bytes], tuple[int, str]]:
    def close_info(data: bytes) -> tuple[int, str]:
        length = data[1] & 0x7F  # close payloads are at most 125 bytes
        if data[1] & 0x80:  # masked: the key comes first
            key, payload = data[2:6], data[6 : 6 + length]
            payload = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
        else:
            payload = data[2 : 2 + length]
        if not payload:
            return 1005, ""
        return int.from_bytes(payload[:2], "big"), payload[2:].decode()

    return close_info


def solution_05_3() -> set[str]:
    # B is not masked, C is a fragmented control frame, D sets RSV1 with no extension,
    # F is a control frame longer than 125 bytes.
    return {"A", "E"}
