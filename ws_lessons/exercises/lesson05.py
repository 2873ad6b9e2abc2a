"""Exercises of lesson 05: messages and frames."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ws_lessons.exercises.bounded import OutOfSteps, StillRunning, run_bounded
from ws_lessons.exercises.core import Hint, chosen_letters, exercise, require_function
from ws_lessons.frames import (
    CloseCode,
    Frame,
    Opcode,
    ProtocolError,
    apply_mask,
    close_payload,
    decode,
    encode,
    parse_close,
)
from ws_lessons.i18n import N_, _

__all__ = [
    "CASES_05_1",
    "CASES_05_2",
    "FRAMES_05_3",
    "FRAMES_05_4",
    "check_05_1",
    "check_05_2",
    "check_05_3",
    "check_05_4",
    "solution_05_1",
    "solution_05_2",
    "solution_05_3",
    "solution_05_4",
]


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
        if len(payload) > 125 and got[2:4] == len(payload).to_bytes(2, "little"):
            raise Hint(
                _(
                    "the 16-bit length is there, but little-endian ({got}): RFC 6455 §5.2 puts "
                    "lengths in network byte order, big-endian: len(payload).to_bytes(2, 'big')"
                ).format(got=got[2:4].hex(" "))
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
        if masked and got[0] == int.from_bytes(data[2:4], "big"):
            raise Hint(
                _(
                    "{frame} comes from a client: the MASK bit (0x80 of byte 1) is 1, so 4 key "
                    "bytes follow the length and the payload after them is masked. Read the MASK "
                    "bit; when it is 1, skip the key and unmask with it. Expected {expected}, "
                    "got {got!r}"
                ).format(frame=data.hex(" "), expected=expected, got=got)
            )
        if got[0] == int.from_bytes(frame.payload[:2], "little"):
            raise Hint(
                _("the close code is big-endian (network byte order): int.from_bytes(b, 'big')")
            )
        if not masked:
            raise Hint(
                _(
                    "{frame} comes from a server: the MASK bit (0x80 of byte 1) is 0, so no key "
                    "follows the length and the payload is not masked. Read the MASK bit, and "
                    "unmask only when it is 1. Expected {expected}, got {got!r}"
                ).format(frame=data.hex(" "), expected=expected, got=got)
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


# 05.4 -------------------------------------------------------------------------------------------

_KEY_05_4 = b"\x5a\x11\x9c\x03"


def _masked(frame: Frame) -> bytes:
    return encode(frame, mask=_KEY_05_4)


# (what the frame exercises, the frame, its bytes): 7-, 16- and 64-bit lengths, FIN, opcodes.
FRAMES_05_4 = [
    (N_("a text frame of 5 bytes"), Frame.text("hello")),
    (N_("a first fragment, FIN = 0"), Frame.text("frag", fin=False)),
    (N_("an empty ping"), Frame(Opcode.PING)),
    (N_("a binary frame of 512 bytes (a 16-bit length)"), Frame.binary(bytes(range(256)) * 2)),
    (N_("a binary frame of 65,536 bytes (a 64-bit length)"), Frame.binary(b"wire" * 2**14)),
]
_LYING_LENGTH = bytes([0x82, 0x80 | 127]) + (2**63 + 5).to_bytes(8, "big") + _KEY_05_4 + b"12345"


def _where(data: bytes, offset: int) -> str:
    """Which field of the frame ``data`` the byte at ``offset`` belongs to."""
    extended = {126: 2, 127: 8}.get(data[1] & 0x7F, 0)
    if offset < 2:
        return _("in the first 2 bytes")
    if offset < 2 + extended:
        return _("in the extended length")
    if offset < 6 + extended:
        return _("in the masking key")
    return _("in the payload")


def _seen(got: Any) -> tuple[bool, int, bytes] | None:
    """A frame the learner's decoder returned, as (fin, opcode, payload); a hint if it is not."""
    if got is None:
        return None
    try:
        return bool(got.fin), int(got.opcode), bytes(got.payload)
    except (AttributeError, TypeError, ValueError):
        raise Hint(
            _("feed() returns None or a Frame (with fin, opcode and payload), not {got}").format(
                got=repr(got)[:60]
            )
        ) from None


def _expected(frame: Frame) -> tuple[bool, int, bytes]:
    return frame.fin, int(frame.opcode), frame.payload


def _judge_frame(name: str, frame: Frame, got: tuple[bool, int, bytes] | None) -> None:
    """A hint naming the field read wrongly, when the decoder's frame is not ``frame``."""
    fin, opcode, payload = _expected(frame)
    if got is None:
        if len(payload) > 125:
            raise Hint(
                _(
                    "{name} came whole and your decoder still waits for more: past 125 the 7-bit "
                    "length holds 126 (then 2 bytes) or 127 (then 8 bytes) of length, read "
                    "big-endian, in network byte order (RFC 6455 §5.2)"
                ).format(name=_(name))
            )
        raise Hint(_("{name} came whole and your decoder returned None").format(name=_(name)))
    got_fin, got_opcode, got_payload = got
    if got_fin != fin or got_opcode != opcode:
        raise Hint(
            _(
                "{name}: expected FIN {fin} and opcode {opcode}, got {got_fin} and {got_opcode}; "
                "FIN is the top bit of byte 0 (0x80), the opcode its low 4 bits (0x0F)"
            ).format(name=_(name), fin=fin, opcode=opcode, got_fin=got_fin, got_opcode=got_opcode)
        )
    if payload and got_payload == apply_mask(payload, _KEY_05_4):
        raise Hint(
            _(
                "{name}: the payload is still masked; XOR byte i with key[i % 4], the 4 bytes "
                "of key after the length"
            ).format(name=_(name))
        )
    field = 126 if len(payload) < 2**16 else 127
    if len(payload) > 125 and len(got_payload) == field:
        raise Hint(
            _(
                "{name}: your payload has {field} bytes, but {field} in the 7-bit length is not "
                "a length: 126 says the next 2 bytes hold it, 127 the next 8 (RFC 6455 §5.2)"
            ).format(name=_(name), field=field)
        )
    sixteen = 125 < len(payload) < 2**16  # a 16-bit length
    if sixteen and len(got_payload) == int.from_bytes(len(payload).to_bytes(2, "big"), "little"):
        raise Hint(
            _(
                "{name}: your payload has {got} bytes, the 16-bit length read little-endian; "
                "lengths are big-endian (network byte order): int.from_bytes(b, 'big')"
            ).format(name=_(name), got=len(got_payload))
        )
    if got_payload != payload:
        raise Hint(
            _(
                "{name}: expected a payload of {n} bytes starting {start}, got {got} bytes "
                "starting {got_start}; after the length (7, 16 or 64 bits) come 4 bytes of key, "
                "then the payload"
            ).format(
                name=_(name),
                n=len(payload),
                start=payload[:8].hex(" "),
                got=len(got_payload),
                got_start=got_payload[:8].hex(" "),
            )
        )


def _splits(data: bytes) -> list[int]:
    """Where to cut ``data`` in two: everywhere in a short frame, in a long one everywhere in the
    header and at a few places in the payload."""
    if len(data) < 1000:
        return list(range(1, len(data)))
    return [*range(1, 15), len(data) // 2, len(data) - 1]


def _try_05_4(factory: Callable[[], Any], doing: list[str]) -> None:
    """Feed the decoder each frame whole, in two pieces cut anywhere, and hostile input."""
    for name, frame in FRAMES_05_4:
        data = _masked(frame)
        doing[0] = _("decoding {name}, fed whole").format(name=_(name))
        _judge_frame(name, frame, _seen(factory().feed(data)))
    for name, frame in FRAMES_05_4:
        data = _masked(frame)
        for cut in _splits(data):
            where = _("cut after byte {cut} of {n}, {field}").format(
                cut=cut, n=len(data), field=_where(data, cut)
            )
            doing[0] = _("decoding {name}, {where}").format(name=_(name), where=where)
            decoder = factory()
            try:
                early = _seen(decoder.feed(data[:cut]))
                got = _seen(decoder.feed(data[cut:])) if early is None else None
            except ProtocolError as exc:
                raise Hint(
                    _(
                        "{name}, {where}: your decoder raised ProtocolError ({error}). Did it read "
                        "the second piece as a new frame? Keep the bytes of each feed() in a "
                        "buffer until a frame is complete"
                    ).format(name=_(name), where=where, error=exc)
                ) from None
            if early is not None:
                raise Hint(
                    _(
                        "{name}, {where}: your decoder returned a frame before the rest arrived; "
                        "return None until the whole frame is there"
                    ).format(name=_(name), where=where)
                )
            if got is None:
                raise Hint(
                    _(
                        "{name}, {where}: once the rest arrived your decoder returned None; keep "
                        "the bytes of each feed() in a buffer until a frame is complete"
                    ).format(name=_(name), where=where)
                )
            _judge_frame(name, frame, got)
    _try_lies(factory, doing)


def _try_lies(factory: Callable[[], Any], doing: list[str]) -> None:
    """Lengths that say more, or less, than what arrived; then what a server must refuse."""
    first, second = _masked(Frame.text("abc")), _masked(Frame.text("defgh"))
    doing[0] = _("feeding two frames in one chunk")
    decoder = factory()
    got = _seen(decoder.feed(first + second))
    if got is not None and got[2] != b"abc":
        raise Hint(
            _(
                "two frames came in one chunk and your first frame's payload is {got!r}: the "
                "length says 3 bytes; the bytes after them are the next frame"
            ).format(got=got[2][:20])
        )
    _judge_frame(N_("the first of two frames in one chunk"), Frame.text("abc"), got)
    if _seen(decoder.feed(b"")) != _expected(Frame.text("defgh")):
        raise Hint(
            _(
                "two frames came in one chunk: the first was right, then feed(b'') did not "
                "return the second; keep the bytes after a frame, they start the next one"
            )
        )
    doing[0] = _("feeding a frame whose length says more than has arrived")
    decoder, short = factory(), _masked(Frame.text("0123456789"))
    if _seen(decoder.feed(short[:-5])) is not None:
        raise Hint(
            _(
                "the length says 10 bytes, 5 arrived, and your decoder returned a frame: "
                "return None until the length's worth of payload is there"
            )
        )
    doing[0] = _("feeding a 64-bit length with its most significant bit set")
    _refused(
        factory,
        _LYING_LENGTH,
        doing[0],
        N_(
            "the 64-bit length {length:#x} has its most significant bit set, and RFC 6455 §5.2 "
            "says 'the most significant bit MUST be 0': raise ProtocolError when the length "
            "is 2**63 or more, before waiting for a payload that size"
        ),
    )
    doing[0] = _("feeding a client frame that is not masked")
    _refused(
        factory,
        encode(Frame.text("no mask")),
        doing[0],
        N_(
            "a frame with the MASK bit (0x80 of byte 1) clear reached your server's decoder, "
            "and RFC 6455 §5.1 says 'The server MUST close the connection upon receiving a "
            "frame that is not masked': raise ProtocolError"
        ),
    )


def _refused(factory: Callable[[], Any], data: bytes, doing: str, hint: str) -> None:
    """The decoder must raise ProtocolError on ``data``, whole or one byte at a time."""
    for chunks in ([data], [data[i : i + 1] for i in range(len(data))]):
        decoder = factory()
        try:
            for chunk in chunks:
                decoder.feed(chunk)
        except ProtocolError:
            continue
        except Exception as exc:
            raise Hint(
                _(
                    "{doing}: refuse it with ProtocolError (from ws_lessons.frames), not {type}"
                ).format(doing=doing, type=type(exc).__name__)
            ) from None
        raise Hint(_(hint).format(length=int.from_bytes(data[2:10], "big")))


@exercise(
    "05.4",
    nudge="Look at the bytes you have in feed() before you wait for a payload: which two "
    "fields can tell you at once that this frame must be refused?",
    hint="Byte 1's top bit is MASK; a 64-bit length is refused when its top bit is set "
    "(length >> 63). Check both as soon as the header is there, and raise ProtocolError.",
)
def check_05_4(factory: Any) -> str:
    """``factory()`` makes a decoder whose ``feed(data)`` returns a frame once one is complete."""
    if not callable(factory) and hasattr(factory, "feed"):
        raise Hint(_("pass the class itself, not a decoder made from it"))
    require_function(factory)
    doing = [_("making a decoder")]
    try:
        run_bounded(lambda: _try_05_4(factory, doing))
    except Hint:
        raise
    except ProtocolError as exc:
        raise Hint(
            _("{doing}: your decoder raised ProtocolError on a valid frame: {error}").format(
                doing=doing[0], error=exc
            )
        ) from None
    except (OutOfSteps, StillRunning) as exc:
        raise Hint(
            _(
                "{doing}: your decoder did not return ({error}). Does a loop wait for bytes "
                "that feed() has not been given? Return None instead."
            ).format(doing=doing[0], error=exc)
        ) from None
    except Exception as exc:
        raise Hint(
            _("{doing}: your decoder raised {type}: {error}").format(
                doing=doing[0], type=type(exc).__name__, error=exc
            )
        ) from None
    return _(
        "lengths of 7, 16 and 64 bits, any split, two frames in one chunk, and the lies a "
        "client may tell: your decoder reads them all as RFC 6455 §5 says"
    )


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


def solution_05_4() -> type:
    class SafeFrameDecoder:
        """Decodes the frames a server receives, fed bytes in chunks of any size."""

        def __init__(self) -> None:
            self.buffer = bytearray()

        def feed(self, data: bytes) -> Frame | None:
            self.buffer += data
            if len(self.buffer) < 2:
                return None
            if not self.buffer[1] & 0x80:  # RFC 6455 §5.1: clients mask every frame
                raise ProtocolError("a server must not receive an unmasked frame")
            length, at = self.buffer[1] & 0x7F, 2
            if length >= 126:  # 126: a 16-bit length follows; 127: a 64-bit length
                at += 2 if length == 126 else 8
                if len(self.buffer) < at:
                    return None
                length = int.from_bytes(self.buffer[2:at], "big")
                if length >> 63:  # RFC 6455 §5.2: "the most significant bit MUST be 0"
                    raise ProtocolError("64-bit length with its most significant bit set")
            end = at + 4 + length
            if len(self.buffer) < end:
                return None
            key, payload = self.buffer[at : at + 4], self.buffer[at + 4 : end]
            unmasked = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
            fin, opcode = bool(self.buffer[0] & 0x80), Opcode(self.buffer[0] & 0x0F)
            del self.buffer[:end]
            return Frame(opcode, unmasked, fin)

    return SafeFrameDecoder
