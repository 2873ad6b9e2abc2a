"""
WebSocket frames (RFC 6455 §5), without any I/O.

After the handshake, both sides exchange frames. RFC 6455 §5.2 draws one::

      0                   1                   2                   3
      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
     +-+-+-+-+-------+-+-------------+-------------------------------+
     |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
     |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
     |N|V|V|V|       |S|             |   (if payload len==126/127)   |
     | |1|2|3|       |K|             |                               |
     +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
     |     Extended payload length continued, if payload len == 127  |
     + - - - - - - - - - - - - - - - +-------------------------------+
     |                               |Masking-key, if MASK set to 1  |
     +-------------------------------+-------------------------------+
     | Masking-key (continued)       |          Payload Data         |
     +-------------------------------- - - - - - - - - - - - - - - - +
     :                     Payload Data continued ...                :
     + - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - +
     |                     Payload Data continued ...                |
     +---------------------------------------------------------------+

:func:`encode` writes exactly the frame it is given, even one that breaks the
rules, so that lessons can build bad frames on purpose. The receiving side,
:func:`decode` and :class:`FrameReader`, enforces every rule and raises
:exc:`ProtocolError` with the close code to send back.

"""

from __future__ import annotations

import codecs
import contextlib
import enum
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from ws_lessons.i18n import N_, _
from ws_lessons.table import Table

__all__ = [
    "CloseCode",
    "Explanation",
    "Frame",
    "FrameReader",
    "Header",
    "IncompleteFrame",
    "Opcode",
    "ProtocolError",
    "Received",
    "Role",
    "apply_mask",
    "close_payload",
    "decode",
    "encode",
    "explain",
    "parse_close",
    "read_header",
]

Role = Literal["server", "client"]
"""The side that receives the frames: servers get masked frames, clients unmasked ones."""


class Opcode(enum.IntEnum):
    """What a frame carries (RFC 6455 §5.2). Other values are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        """Whether this is a control frame: close, ping or pong."""
        # RFC 6455 §5.5: "Control frames are identified by opcodes where the most
        # significant bit of the opcode is 1."
        return bool(self & 0x8)


class CloseCode(enum.IntEnum):
    """Status codes for close frames: RFC 6455 §7.4.1, and the IANA "WebSocket Close Code
    Number Registry" (RFC 6455 §11.7) for 1012-1014."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    # 1004 is reserved.
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


# RFC 6455 §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in a
# Close control frame by an endpoint"; they only describe what happened locally.
_LOCAL_ONLY_CODES = {CloseCode.NO_STATUS_RCVD, CloseCode.ABNORMAL_CLOSURE, CloseCode.TLS_HANDSHAKE}


class ProtocolError(Exception):
    """The peer broke a rule of RFC 6455. Close the connection with :attr:`code`."""

    def __init__(self, message: str, code: CloseCode = CloseCode.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


class IncompleteFrame(Exception):
    """The data ends before the frame does: wait for more bytes and try again."""


@dataclass(frozen=True)
class Frame:
    """One WebSocket frame, with its payload unmasked.

    The MASK bit, the payload length and the masking key are not stored: they
    only exist on the wire, and :func:`encode` / :func:`decode` deal with them.
    """

    opcode: Opcode
    payload: bytes = b""
    fin: bool = True
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False

    @classmethod
    def text(cls, text: str, *, fin: bool = True) -> Frame:
        """A text frame; the payload is the UTF-8 encoding of ``text``."""
        return cls(Opcode.TEXT, text.encode(), fin)

    @classmethod
    def binary(cls, data: bytes, *, fin: bool = True) -> Frame:
        """A binary frame."""
        return cls(Opcode.BINARY, data, fin)

    @classmethod
    def close(cls, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> Frame:
        """A close frame carrying ``code`` and ``reason``."""
        return cls(Opcode.CLOSE, close_payload(code, reason))


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """XOR ``data`` with the 4-byte masking key (RFC 6455 §5.3).

    Masking twice with the same key gives the data back, so this both masks
    and unmasks.
    """
    if len(mask) != 4:
        raise ValueError(f"masking key must be 4 bytes, got {len(mask)}")
    # RFC 6455 §5.3: "Octet i of the transformed data ("transformed-octet-i") is
    # the XOR of octet i of the original data ("original-octet-i") with octet at
    # index i modulo 4 of the masking key ("masking-key-octet-j")".
    # Python's big integers XOR the whole payload in one operation.
    key = (mask * (len(data) // 4 + 1))[: len(data)]
    masked = int.from_bytes(data, "big") ^ int.from_bytes(key, "big")
    return masked.to_bytes(len(data), "big")


def encode(frame: Frame, mask: bytes | None = None) -> bytes:
    """Serialize ``frame``, masking its payload with ``mask`` if one is given.

    Clients must mask every frame with a fresh, unpredictable key such as
    ``secrets.token_bytes(4)``; servers must not mask (RFC 6455 §5.1).
    """
    first = (
        (frame.fin << 7) | (frame.rsv1 << 6) | (frame.rsv2 << 5) | (frame.rsv3 << 4) | frame.opcode
    )
    mask_bit = 0x80 if mask is not None else 0
    # RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
    length = len(frame.payload)
    if length < 126:
        header = struct.pack("!BB", first, mask_bit | length)
    elif length < 2**16:
        header = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, length)
    if mask is None:
        return header + frame.payload
    return header + mask + apply_mask(frame.payload, mask)


def decode(
    data: bytes | bytearray,
    *,
    role: Role | None = None,
    max_size: int | None = None,
    allow_rsv1: bool = False,
) -> tuple[Frame, int]:
    """Decode the frame at the start of ``data``.

    Return the frame, with its payload unmasked, and the number of bytes it
    used. Raise :exc:`IncompleteFrame` if ``data`` ends before the frame does.

    ``role`` is the side receiving the frame; ``None`` skips the masking check.
    ``max_size`` caps the payload length. ``allow_rsv1`` accepts RSV1, which
    the permessage-deflate extension uses.

    Each rule that concerns a single frame raises :exc:`ProtocolError`, as
    soon as the header is complete when the rule is about the header: an
    oversized frame is refused before its payload arrives. Rules that span
    frames are checked by :class:`FrameReader`.
    """
    frame, header = _decode(data, role, max_size=max_size, allow_rsv1=allow_rsv1)
    return frame, header.frame_size


def _decode(
    data: bytes | bytearray, role: Role | None, *, max_size: int | None, allow_rsv1: bool
) -> tuple[Frame, Header]:
    header = read_header(data)
    fin, mask, length = header.fin, header.mask, header.length

    # RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that
    # defines meanings for non-zero values."
    rsv = [("RSV1", header.rsv1 and not allow_rsv1), ("RSV2", header.rsv2), ("RSV3", header.rsv3)]
    for name, is_set in rsv:
        if is_set:
            raise ProtocolError(f"reserved bit {name} is set but no extension defines it")

    # RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint
    # MUST _Fail the WebSocket Connection_."
    try:
        opcode = Opcode(header.opcode)
    except ValueError:
        raise ProtocolError(f"reserved opcode {header.opcode:#x}") from None

    # RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame
    # that is not masked" and "A client MUST close a connection if it detects a
    # masked frame."
    if role == "server" and mask is None:
        raise ProtocolError("a server must not receive an unmasked frame")
    if role == "client" and mask is not None:
        raise ProtocolError("a client must not receive a masked frame")

    # RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes
    # or less and MUST NOT be fragmented."
    if opcode.is_control and not fin:
        raise ProtocolError(f"{opcode.name} frame is fragmented (FIN is 0)")
    if opcode.is_control and length > 125:
        raise ProtocolError(f"{opcode.name} frame payload is {length} bytes, more than 125")

    # RFC 6455 §5.2: "the most significant bit MUST be 0" in a 64-bit length,
    # and "the minimal number of bytes MUST be used to encode the length".
    extended = header.size - 2 - 4 * (mask is not None)
    if length >> 63:
        raise ProtocolError("64-bit payload length has its most significant bit set")
    if (extended == 2 and length < 126) or (extended == 8 and length < 2**16):
        raise ProtocolError(f"payload length {length} is not encoded in the fewest bytes")

    if max_size is not None and length > max_size:
        raise ProtocolError(
            f"frame payload is {length} bytes, more than max_size={max_size}",
            CloseCode.MESSAGE_TOO_BIG,
        )

    end = header.frame_size
    if len(data) < end:
        raise IncompleteFrame
    payload = bytes(data[header.size : end])
    if mask is not None:
        payload = apply_mask(payload, mask)
    if opcode is Opcode.CLOSE:
        parse_close(payload)  # raises ProtocolError on a malformed close payload
    return Frame(opcode, payload, fin, header.rsv1, header.rsv2, header.rsv3), header


@dataclass(frozen=True)
class Header:
    """The bytes before a frame's payload (RFC 6455 §5.2), as they are: nothing is checked."""

    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int  # 4 bits, reserved values included
    mask: bytes | None  # the masking key, if the MASK bit is set
    length: int  # of the payload
    size: int  # bytes the header takes on the wire

    @property
    def frame_size(self) -> int:
        """Bytes the whole frame takes on the wire."""
        return self.size + self.length


def read_header(data: bytes | bytearray) -> Header:
    """Read the header at the start of ``data``; raise :exc:`IncompleteFrame` if it ends first."""
    if len(data) < 2:
        raise IncompleteFrame
    first, second = data[0], data[1]
    # RFC 6455 §5.2: "if 0-125, that is the payload length. If 126, the following
    # 2 bytes ... If 127, the following 8 bytes ... are the payload length."
    length = second & 0x7F
    extended = {126: 2, 127: 8}.get(length, 0)
    masked = bool(second & 0x80)
    size = 2 + extended + 4 * masked
    if len(data) < size:
        raise IncompleteFrame
    if extended:
        length = int.from_bytes(data[2 : 2 + extended], "big")
    fin, rsv1, rsv2, rsv3 = (bool(first & bit) for bit in (0x80, 0x40, 0x20, 0x10))
    mask = bytes(data[size - 4 : size]) if masked else None
    return Header(fin, rsv1, rsv2, rsv3, first & 0x0F, mask, length, size)


@dataclass(frozen=True)
class Received:
    """A frame as :meth:`FrameReader.receive` read it, with its header and its message."""

    frame: Frame
    header: Header
    message: Opcode | None = None  # TEXT or BINARY: the message a data frame belongs to
    compressed: bool = False  # the message's first frame set RSV1 (RFC 7692 §6)
    text: str | None = None  # in an uncompressed text message: the characters this frame ends


class FrameReader:
    """Turn a stream of bytes into frames, checking the rules that span frames.

    Feed it bytes as they arrive, split anywhere; :meth:`feed` returns the
    frames completed so far and keeps the rest for the next call. Once it has
    raised :exc:`ProtocolError` the connection must be closed: don't feed it
    any more.
    """

    def __init__(
        self,
        role: Role | None = None,
        *,
        max_size: int | None = None,
        allow_rsv1: bool = False,
    ) -> None:
        self.role = role
        self.max_size = max_size
        self.allow_rsv1 = allow_rsv1
        self._buffer = bytearray()
        # Opcode of the fragmented message in progress, if any.
        self._message: Opcode | None = None
        self._compressed = False
        # Checks the UTF-8 of a text message as its fragments arrive.
        self._utf8: codecs.IncrementalDecoder | None = None

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data`` to the stream and return every frame it completes."""
        return [received.frame for received in self.receive(data)]

    def receive(self, data: bytes) -> Iterator[Received]:
        """Add ``data`` to the stream and yield each frame it completes, with its header.

        The frames before a :exc:`ProtocolError` come out before it is raised.
        """
        self._buffer += data
        return self._frames()

    def _frames(self) -> Iterator[Received]:
        while True:
            try:
                frame, header = _decode(
                    self._buffer, self.role, max_size=self.max_size, allow_rsv1=self.allow_rsv1
                )
            except IncompleteFrame:
                return
            del self._buffer[: header.frame_size]
            yield self._place(frame, header)

    def _place(self, frame: Frame, header: Header) -> Received:
        """Check that ``frame`` fits in the sequence of frames received so far."""
        # RFC 6455 §5.4: "Control frames ... MAY be injected in the middle of a
        # fragmented message."
        if frame.opcode.is_control:
            return Received(frame, header)
        # RFC 6455 §5.4: "A fragmented message consists of a single frame with the
        # FIN bit clear and an opcode other than 0, followed by zero or more frames
        # with the FIN bit clear and the opcode set to 0, and terminated by a single
        # frame with the FIN bit set and an opcode of 0."
        if frame.opcode is Opcode.CONTINUATION:
            if self._message is None:
                raise ProtocolError("CONTINUATION frame without a message in progress")
        elif self._message is not None:
            raise ProtocolError(
                f"{frame.opcode.name} frame in the middle of a fragmented "
                f"{self._message.name} message; expected CONTINUATION"
            )
        else:
            self._message, self._compressed = frame.opcode, frame.rsv1
            # RFC 7692 §6: RSV1 on the first frame marks a compressed message, whose
            # payload is UTF-8 only once the extension has inflated it.
            if frame.opcode is Opcode.TEXT and not frame.rsv1:
                self._utf8 = codecs.getincrementaldecoder("utf-8")()

        # RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8
        # but finds that the byte stream is not, in fact, a valid UTF-8 stream,
        # that endpoint MUST _Fail the WebSocket Connection_."
        # The incremental decoder accepts a character split across two frames,
        # and complains about a truncated one only when the message is final.
        text = None
        if self._utf8 is not None:
            try:
                text = self._utf8.decode(frame.payload, final=frame.fin)
            except UnicodeDecodeError as exc:
                raise ProtocolError(
                    f"text message is not valid UTF-8: {exc.reason}", CloseCode.INVALID_DATA
                ) from None
        received = Received(frame, header, self._message, self._compressed, text)
        if frame.fin:
            self._message, self._compressed, self._utf8 = None, False, None
        return received


def _is_sendable(code: int) -> bool:
    """Whether a close code may appear in a close frame on the wire."""
    # RFC 6455 §7.4.2: 0-999 are "not used"; 1000-2999 are "reserved for
    # definition by this protocol", so only the codes defined so far (CloseCode)
    # are valid; 3000-3999 are for "libraries, frameworks, and applications";
    # 4000-4999 are "reserved for private use". Nothing is defined above 4999.
    if 3000 <= code <= 4999:
        return True
    try:
        return CloseCode(code) not in _LOCAL_ONLY_CODES
    except ValueError:  # 1004, and 1016-2999 that nothing defines yet
        return False


def parse_close(payload: bytes) -> tuple[CloseCode | int, str]:
    """Return the code and reason in the payload of a close frame."""
    # RFC 6455 §7.1.5: "If this Close control frame contains no status code,
    # _The WebSocket Connection Close Code_ is considered to be 1005."
    if not payload:
        return CloseCode.NO_STATUS_RCVD, ""
    # RFC 6455 §5.5.1: "If there is a body, the first two bytes of the body MUST
    # be a 2-byte unsigned integer (in network byte order)".
    if len(payload) == 1:
        raise ProtocolError("close payload is 1 byte; a close code needs 2")
    code = int.from_bytes(payload[:2], "big")
    if not _is_sendable(code):
        raise ProtocolError(f"close code {code} is not allowed in a close frame")
    # RFC 6455 §5.5.1: "the body MAY contain UTF-8-encoded data"; invalid UTF-8
    # fails the connection like in a text message (§8.1), with 1007.
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"close reason is not valid UTF-8: {exc.reason}", CloseCode.INVALID_DATA
        ) from None
    with contextlib.suppress(ValueError):
        code = CloseCode(code)
    return code, reason


def close_payload(code: int, reason: str = "") -> bytes:
    """Build the payload of a close frame: a 2-byte code, then a UTF-8 reason."""
    if not _is_sendable(code):
        raise ValueError(f"close code {code} must not be sent in a close frame")
    payload = code.to_bytes(2, "big") + reason.encode()
    # RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less".
    if len(payload) > 125:
        raise ValueError(f"close reason is {len(payload) - 2} bytes in UTF-8, more than 123")
    return payload


class Explanation(Table):
    """A field-by-field description of one frame, as a text or HTML table, and a verdict."""

    @property
    def verdict(self) -> str:
        return self.note


_OPCODE_MEANINGS = {
    Opcode.CONTINUATION: N_("continuation of a fragmented message"),
    Opcode.TEXT: N_("text frame"),
    Opcode.BINARY: N_("binary frame"),
    Opcode.CLOSE: N_("close (control frame)"),
    Opcode.PING: N_("ping (control frame)"),
    Opcode.PONG: N_("pong (control frame)"),
}

_PREVIEW = 16  # bytes or characters of a payload to show


def explain(data: bytes, role: Role | None = None) -> Explanation:
    """Describe, field by field, the frame at the start of ``data``.

    Invalid frames are described too; the verdict says which rule they break.
    ``role`` is the side receiving the frame, as in :func:`decode`. Raise
    :exc:`IncompleteFrame` if ``data`` ends before the frame does.
    """
    header = read_header(data)
    length, mask, size = header.length, header.mask, header.size
    if len(data) < header.frame_size:
        raise IncompleteFrame
    wire_payload = data[size : header.frame_size]
    payload = wire_payload if mask is None else apply_mask(wire_payload, mask)

    rows = [("FIN", *_flag(header.fin, _("last frame of the message"), _("more frames follow")))]
    for name, bit in [("RSV1", header.rsv1), ("RSV2", header.rsv2), ("RSV3", header.rsv3)]:
        rows.append((name, *_flag(bit, _("defined by an extension"), _("no extension"))))
    raw_opcode = header.opcode
    try:
        known = Opcode(raw_opcode)
        opcode: Opcode | None = known
        meaning = _(_OPCODE_MEANINGS[known])
    except ValueError:
        opcode, meaning = None, _("reserved opcode")
    rows.append(
        (
            "opcode",
            f"{raw_opcode:04b}",
            opcode.name if opcode is not None else "?",
            f"{raw_opcode:#x} = {meaning}",
        )
    )
    rows.append(
        ("MASK", *_flag(mask, _("masked (client to server)"), _("unmasked (server to client)")))
    )

    length_field = data[1] & 0x7F
    if length_field < 126:
        rows.append(
            ("payload length", f"{length_field:07b}", str(length), _("{n} bytes").format(n=length))
        )
    else:
        extended = data[2 : 2 + (2 if length_field == 126 else 8)]
        rows.append(
            (
                "payload length",
                f"{length_field:07b}",
                str(length_field),
                _("{field} = the next {bits} bits hold the length").format(
                    field=length_field, bits=len(extended) * 8
                ),
            )
        )
        rows.append(
            (
                "extended payload length",
                _bits(extended),
                str(length),
                _("{n} bytes").format(n=length),
            )
        )
    if mask is not None:
        rows.append(("masking key", _bits(mask), mask.hex(" "), _("XORed over the payload")))
        rows.append(
            (
                "payload (masked)",
                _bits(wire_payload, 4),
                _hex(wire_payload),
                _("as sent on the wire"),
            )
        )
    rows.append(("payload", _bits(payload, 4), *_describe_payload(opcode, payload)))

    try:
        decode(data, role=role)
    except ProtocolError as exc:
        verdict = _("invalid: {error} (close code {code} {name})").format(
            error=exc, code=int(exc.code), name=exc.code.name
        )
    else:
        verdict = _("valid frame, {n} bytes").format(n=header.frame_size)
    columns = (N_("field"), N_("bits"), N_("value"), N_("meaning"))
    return Explanation(columns, rows, verdict, code=("bits", "value"), rule=True)


def _flag(bit: object, if_set: str, if_clear: str) -> tuple[str, str, str]:
    """Return the bits, value and meaning cells for a one-bit field."""
    return ("1", "True", f"1 = {if_set}") if bit else ("0", "False", f"0 = {if_clear}")


def _bits(data: bytes, limit: int = 8) -> str:
    """Show bytes as bits, ``01001000 01100101``, up to ``limit`` bytes."""
    bits = " ".join(f"{byte:08b}" for byte in data[:limit])
    return f"{bits} …" if len(data) > limit else bits


def _hex(data: bytes) -> str:
    """Show bytes as hex, shortened if long."""
    if len(data) > _PREVIEW:
        return f"{data[:_PREVIEW].hex(' ')} …"
    return data.hex(" ")


def _describe_payload(opcode: Opcode | None, payload: bytes) -> tuple[str, str]:
    """Return the value and meaning cells for an unmasked payload."""
    if opcode is Opcode.TEXT:
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            return _hex(payload), _("not valid UTF-8")
        shown = repr(text[:_PREVIEW]) + (" …" if len(text) > _PREVIEW else "")
        return shown, _("{n} bytes of UTF-8 text").format(n=len(payload))
    if opcode is Opcode.CLOSE:
        try:
            code, reason = parse_close(payload)
        except ProtocolError:
            return _hex(payload), _("malformed close payload")
        name = f" {code.name}" if isinstance(code, CloseCode) else ""
        return _hex(payload), _("close code {code}{name}, reason {reason!r}").format(
            code=int(code), name=name, reason=reason
        )
    return _hex(payload), _("{n} bytes").format(n=len(payload))
