"""A wire tap for HTTP/2 in clear text (h2c): every frame of a session, decoded.

Put it in front of a server that speaks HTTP/2 without TLS (Hypercorn does) and point
the client at it::

    tap = H2Tap(server)
    ... a client connects to tap.host, tap.port ...
    tap.wait_idle()          # a table of the frames, both ways

Each frame is cut at its 9-byte header (RFC 9113 §4.1: length 24 bits, type, flags,
one reserved bit and a 31-bit stream identifier). HEADERS blocks are decoded with HPACK
(RFC 7541), one decoder per direction as the two ends do; SETTINGS are named
(RFC 9113 §6.5.2, RFC 8441 §3); the DATA of a stream that carries a WebSocket
(RFC 8441 §5) is decoded as RFC 6455 frames with the course's own codec.
"""

from __future__ import annotations

import html
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ws_lessons.frames import Frame, FrameReader, ProtocolError
from ws_lessons.i18n import N_
from ws_lessons.proxies import LOOPBACK
from ws_lessons.relay import CLIENT_TO_SERVER, Direction, Relay
from ws_lessons.server.background import Background
from ws_lessons.table import Table
from ws_lessons.tap import Chunk

__all__ = ["PREFACE", "H2Frame", "H2Tap", "parse_frames"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""What an HTTP/2 client sends first (RFC 9113 §3.4), before its SETTINGS frame."""

FRAME_TYPES = {
    0x0: "DATA",
    0x1: "HEADERS",
    0x2: "PRIORITY",
    0x3: "RST_STREAM",
    0x4: "SETTINGS",
    0x5: "PUSH_PROMISE",
    0x6: "PING",
    0x7: "GOAWAY",
    0x8: "WINDOW_UPDATE",
    0x9: "CONTINUATION",
}
SETTINGS = {
    0x1: "HEADER_TABLE_SIZE",
    0x2: "ENABLE_PUSH",
    0x3: "MAX_CONCURRENT_STREAMS",
    0x4: "INITIAL_WINDOW_SIZE",
    0x5: "MAX_FRAME_SIZE",
    0x6: "MAX_HEADER_LIST_SIZE",
    0x8: "ENABLE_CONNECT_PROTOCOL",  # RFC 8441 §3
}
FLAGS = {0x1: "END_STREAM", 0x4: "END_HEADERS", 0x8: "PADDED", 0x20: "PRIORITY"}
ERRORS = {0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x7: "REFUSED_STREAM", 0x8: "CANCEL"}
PREVIEW = 70
COLUMNS = (N_("conn"), N_("dir"), N_("stream"), N_("frame"), N_("flags"), N_("bytes"), N_("what"))


@dataclass(frozen=True)
class H2Frame:
    """One HTTP/2 frame as it crossed the tap, and what it says."""

    connection: int
    direction: Direction
    raw: bytes
    """The whole frame, header and payload, byte for byte."""
    headers: tuple[tuple[str, str], ...] = ()
    """The decoded header block, for HEADERS."""
    websocket: tuple[Frame, ...] = ()
    """The RFC 6455 frames this DATA frame completed, on a WebSocket stream."""

    @property
    def length(self) -> int:
        return int.from_bytes(self.raw[:3], "big")

    @property
    def type(self) -> str:
        return FRAME_TYPES.get(self.raw[3], f"0x{self.raw[3]:x}")

    @property
    def flags(self) -> int:
        return self.raw[4]

    @property
    def stream(self) -> int:
        return int.from_bytes(self.raw[5:9], "big") & 0x7FFF_FFFF

    @property
    def payload(self) -> bytes:
        return self.raw[9:]

    @property
    def flag_names(self) -> list[str]:
        if self.type in ("SETTINGS", "PING"):
            return ["ACK"] if self.flags & 0x1 else []
        names = [name for bit, name in FLAGS.items() if self.flags & bit]
        if self.type not in ("DATA", "HEADERS"):
            return [name for name in names if name != "END_STREAM"]
        return names

    @property
    def settings(self) -> dict[str, int]:
        """The parameters of a SETTINGS frame (RFC 9113 §6.5.1: 16-bit id, 32-bit value)."""
        if self.type != "SETTINGS":
            return {}
        pairs = struct.iter_unpack("!HL", self.payload)
        return {SETTINGS.get(code, f"0x{code:x}"): value for code, value in pairs}

    def describe(self) -> str:
        """One line saying what the frame carries."""
        if self.type == "SETTINGS":
            if self.flags & 0x1:
                return "ACK"
            return ", ".join(f"{name}={value}" for name, value in self.settings.items())
        if self.type == "HEADERS":
            return " ".join(f"{name}: {value}" for name, value in self.headers)
        if self.type == "DATA":
            if self.websocket:
                return " + ".join(_describe_ws(frame) for frame in self.websocket)
            return repr(self.payload[:PREVIEW])[2:-1] if self.payload else ""
        if self.type == "WINDOW_UPDATE":
            return f"+{int.from_bytes(self.payload[:4], 'big') & 0x7FFF_FFFF}"
        if self.type in ("RST_STREAM", "GOAWAY"):
            code_bytes = self.payload[:4] if self.type == "RST_STREAM" else self.payload[4:8]
            code = int.from_bytes(code_bytes, "big")
            return ERRORS.get(code, f"error 0x{code:x}")
        return self.payload.hex(" ")

    def cells(self) -> tuple[Any, ...]:
        return (
            self.connection,
            self.direction,
            self.stream,
            self.type,
            " ".join(self.flag_names),
            len(self.raw),
            self.describe(),
        )


def _describe_ws(frame: Frame) -> str:
    name = frame.opcode.name
    if frame.opcode.name == "TEXT":
        return f"ws {name} {frame.payload.decode(errors='replace')!r}"
    if frame.opcode.name == "CLOSE" and len(frame.payload) >= 2:
        return f"ws CLOSE {int.from_bytes(frame.payload[:2], 'big')}"
    return f"ws {name} {len(frame.payload)} bytes"


@dataclass
class _Side:
    """Decoding state of one direction of one connection."""

    buffer: bytearray = field(default_factory=bytearray)
    preface_done: bool = False
    hpack: Any = None
    readers: dict[int, FrameReader] = field(default_factory=dict)


def parse_frames(chunks: list[Chunk]) -> list[H2Frame]:
    """Cut recorded chunks into HTTP/2 frames, decoding headers and WebSocket payloads.

    A stream becomes a WebSocket stream when its request says ``:protocol: websocket``
    (RFC 8441 §4); from then on its DATA, both ways, is fed to an RFC 6455 frame reader.
    """
    from hpack import Decoder

    sides: dict[tuple[int, Direction], _Side] = {}
    websocket_streams: set[tuple[int, int]] = set()
    found: list[H2Frame] = []
    for chunk in chunks:
        side = sides.setdefault((chunk.connection, chunk.direction), _Side(hpack=Decoder()))
        side.buffer += chunk.data
        if chunk.direction == CLIENT_TO_SERVER and not side.preface_done:
            if len(side.buffer) < len(PREFACE):
                continue
            side.preface_done = True
            del side.buffer[: len(PREFACE)]
        while len(side.buffer) >= 9:
            size = 9 + int.from_bytes(side.buffer[:3], "big")
            if len(side.buffer) < size:
                break
            raw = bytes(side.buffer[:size])
            del side.buffer[:size]
            frame = H2Frame(chunk.connection, chunk.direction, raw)
            key = (chunk.connection, frame.stream)
            if frame.type == "HEADERS":
                block = _header_block(frame)
                headers = tuple((str(n), str(v)) for n, v in side.hpack.decode(block))
                if (":protocol", "websocket") in headers:
                    websocket_streams.add(key)
                frame = H2Frame(chunk.connection, chunk.direction, raw, headers=headers)
            elif frame.type == "DATA" and key in websocket_streams:
                reader = side.readers.setdefault(frame.stream, FrameReader())
                try:
                    completed = tuple(reader.feed(_unpadded(frame)))
                except ProtocolError:
                    completed = ()
                frame = H2Frame(chunk.connection, chunk.direction, raw, websocket=completed)
            found.append(frame)
    return found


def _unpadded(frame: H2Frame) -> bytes:
    payload = frame.payload
    if frame.flags & 0x8:  # PADDED: a pad length byte, then the data, then the padding
        return payload[1 : len(payload) - payload[0]]
    return payload


def _header_block(frame: H2Frame) -> bytes:
    block = _unpadded(frame)
    if frame.flags & 0x20:  # PRIORITY: 4 bytes of dependency and 1 of weight come first
        block = block[5:]
    return block


class H2Tap(Relay):
    """A recording proxy in front of a clear-text HTTP/2 server (a handle or a port)."""

    kind = "tap"

    def __init__(self, target: Background | int, *, port: int = 0, name: str | None = None):
        if isinstance(target, Background):
            target_port, default_name = target.port, f"h2 tap of {target.name}"
        else:
            target_port, default_name = int(target), f"h2 tap of port {target}"
        name = name or default_name
        self._chunks: list[Chunk] = []
        self._chunks_lock = threading.Lock()
        super().__init__(LOOPBACK, target_port, port=port, name=name)

    @property
    def chunks(self) -> list[Chunk]:
        with self._chunks_lock:
            return list(self._chunks)

    @property
    def frames(self) -> list[H2Frame]:
        """Every complete HTTP/2 frame seen so far, in the order the tap read them."""
        return parse_frames(self.chunks)

    def observe(self, connection: int, direction: Direction, data: bytes) -> None:
        with self._chunks_lock:
            self._chunks.append(Chunk(connection, direction, time.perf_counter(), data))

    def clear(self) -> None:
        with self._chunks_lock:
            self._chunks.clear()

    def wait_idle(self, timeout: float = 2.0) -> H2Tap:
        self.idle_within(timeout)
        return self

    def table(self, width: int | None = PREVIEW) -> Table:
        rows = []
        for frame in self.frames:
            cells = frame.cells()
            text = cells[-1]
            if width is not None and len(text) > width:
                text = text[:width] + "…"
            rows.append((*cells[:-1], text))
        return Table(COLUMNS, rows, code=("what",), rule=True)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<H2Tap {self.name!r} {state}: {self.host}:{self.port} → {self.target_port}>"

    def __str__(self) -> str:
        return f"{self!r}\n{self.table()}"

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(repr(self))}</p>{self.table(None)._repr_html_()}"
