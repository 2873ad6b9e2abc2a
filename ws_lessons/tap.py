"""A wire tap: a loopback proxy that records the bytes between a client and a server.

Put it between the two and point the client at the tap instead of the server::

    server = serve(app, name="demo")
    tap = Tap(server)                      # or Tap(8000): any port on 127.0.0.1
    async with connect(tap.ws_url("/ws")) as ws:
        ...
    tap                                    # a table of everything that crossed, decoded

The tap forwards every chunk unchanged, both ways, and notes when it arrived. Reading
``tap.records`` decodes what it saw with the course's sans-I/O codec: the HTTP
handshake of each direction (``ws_lessons.handshake``), then each WebSocket frame
(``ws_lessons.frames``), with the masking key of client frames and the payload unmasked.

Like ``serve()``, the tap runs on its own event loop in a background thread, so clients
in notebook cells, async or blocking, can use it. Re-running a cell is safe: a new tap
replaces the running tap of the same name, and the default name comes from the target
(``Tap(server)`` is called ``"tap of <server name>"``). ``stop_all()`` stops them all.

The tap notes the last bytes of a session on its own thread, a moment after the client
has closed: ``tap.wait_idle()`` waits until no connection is open, then returns the tap.
"""

from __future__ import annotations

import bisect
import html
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ws_lessons.explain import close_name, hex_preview
from ws_lessons.frames import (
    Frame,
    FrameReader,
    Opcode,
    ProtocolError,
    Received,
    Role,
    parse_close,
)
from ws_lessons.handshake import (
    HandshakeError,
    Request,
    Response,
    parse_request,
    parse_response,
)
from ws_lessons.i18n import N_, _
from ws_lessons.proxies import LOOPBACK
from ws_lessons.relay import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Direction, Relay
from ws_lessons.server import RunningServer
from ws_lessons.table import Table

if TYPE_CHECKING:
    from ws_lessons.sequence import SequenceDiagram

__all__ = ["CLIENT_TO_SERVER", "SERVER_TO_CLIENT", "Chunk", "Record", "Tap"]

PREVIEW = 40  # characters of a payload shown in the table
NOTHING_YET = N_("Nothing has crossed the tap yet: point a client at tap.ws_url(path).")

# How the head of a request or a response starts (RFC 9112 §3, §4). Recorded bytes that
# start otherwise are frames: a tap cleared in the middle of a session sees no handshake.
_REQUEST_START = re.compile(rb"[A-Z]{3,7} ")
_RESPONSE_START = re.compile(rb"HTTP/")


@dataclass(frozen=True)
class Chunk:
    """Bytes as the tap read them from one side: ``data == b""`` means that side closed."""

    connection: int
    direction: Direction
    time: float  # time.perf_counter() when the tap read them
    data: bytes


@dataclass(frozen=True)
class Record:
    """One decoded item: a handshake head, a frame, or bytes that are not (yet) either.

    ``kind`` is one of ``"handshake"`` (an HTTP head of the opening handshake),
    ``"http"`` (a head that does not ask for WebSocket), ``"http body"``, ``"frame"``,
    ``"partial"`` (the start of a frame; the rest has not arrived), ``"truncated"`` (the
    connection closed mid-frame), ``"invalid"`` (the bytes break a rule; ``note`` says
    which) or ``"closed"`` (that side closed the TCP connection).
    """

    connection: int
    direction: Direction
    time: float  # ms since the first byte the tap recorded
    kind: str
    wire: bytes  # the bytes as they crossed the tap (masked, compressed)
    head: Request | Response | None = None
    frame: Frame | None = None
    mask: bytes | None = None  # the masking key of a masked frame
    compressed: bool = False  # the payload belongs to a permessage-deflate message
    note: str = ""

    @property
    def size(self) -> int:
        """How many bytes this record took on the wire."""
        return len(self.wire)

    @property
    def opcode(self) -> Opcode | None:
        return self.frame.opcode if self.frame is not None else None

    @property
    def start_line(self) -> str:
        """The first line of a handshake head, ``GET /echo`` or ``101 Switching Protocols``;
        ``""`` for anything else."""
        return _start_line(self.head) if self.head is not None else ""

    def cells(self) -> tuple[str, ...]:
        """The row of the table: see :data:`COLUMNS`."""
        if self.frame is not None:
            flags = ("1" if self.frame.fin else "0", "1" if self.frame.rsv1 else "0")
            mask = self.mask.hex(" ") if self.mask is not None else "-"
            what = self.frame.opcode.name
            length = str(len(self.frame.payload))
        else:
            flags, mask, length = ("", ""), "", str(self.size)
            what = self.start_line
        return (
            f"#{self.connection}",
            f"{self.time:.1f}",
            self.direction,
            self.kind,
            what,
            *flags,
            mask,
            length,
            self.note,
        )


COLUMNS = (
    N_("conn"),
    N_("ms"),
    N_("dir"),
    N_("kind"),
    N_("opcode"),
    N_("fin"),
    N_("rsv1"),
    N_("mask key"),
    N_("length"),
    N_("payload"),
)


def _cut(cells: tuple[str, ...], width: int | None) -> tuple[str, ...]:
    """Shorten the last cell (a handshake's header fields can be long) for the text table."""
    *first, last = cells
    return (*first, last if width is None or len(last) <= width else last[: width - 1] + "…")


class Tap(Relay):
    """A recording proxy on 127.0.0.1 in front of ``target`` (a server handle or a port).

    ``port=0`` picks a free port. Use it as a context manager to stop it.
    """

    kind = "tap"

    def __init__(
        self, target: RunningServer | int, *, port: int = 0, name: str | None = None
    ) -> None:
        if isinstance(target, RunningServer):
            target_port, default_name = target.port, f"tap of {target.name}"
        else:
            target_port, default_name = int(target), f"tap of port {target}"
        name = name or default_name
        self._chunks: list[Chunk] = []
        self._chunks_lock = threading.Lock()
        super().__init__(LOOPBACK, target_port, port=port, name=name)

    # -- what the tap saw --------------------------------------------------------------------

    @property
    def chunks(self) -> list[Chunk]:
        """Every chunk read so far, in order, as it crossed the tap."""
        with self._chunks_lock:
            return list(self._chunks)

    @property
    def records(self) -> list[Record]:
        """Everything seen so far, decoded: handshakes, frames, and what is left over."""
        return _decode_all(self.chunks)

    @property
    def byte_counts(self) -> dict[Direction, int]:
        """Bytes forwarded in each direction: ``{"→": client to server, "←": server to client}``."""
        counts = {CLIENT_TO_SERVER: 0, SERVER_TO_CLIENT: 0}
        for chunk in self.chunks:
            counts[chunk.direction] += len(chunk.data)
        return counts

    def wait_idle(self, timeout: float = 2.0) -> Tap:
        """Wait until no connection through the tap is open (at most ``timeout`` s); return the tap.

        Call this before reading a finished session: the tap notes the last bytes on its
        own thread, a moment after the client has closed. Raises :exc:`TimeoutError` when a
        connection is still open then: what the tap shows would be cut short.
        """
        if not self.idle_within(timeout):
            raise TimeoutError(
                f"a connection through {self.name!r} is still open after {timeout:g} s: "
                "close the client before reading what the tap saw"
            )
        return self

    def clear(self) -> None:
        """Forget what was recorded. Open connections keep going (and keep being recorded)."""
        with self._chunks_lock:
            self._chunks.clear()

    # -- display -----------------------------------------------------------------------------

    def table(self, width: int | None = 2 * PREVIEW) -> Table:
        """What the tap saw, one row a record; the last cell cut to ``width`` characters."""
        rows = [_cut(record.cells(), width) for record in self.records]
        return Table(COLUMNS, rows, code=("mask key", "payload"), rule=True)

    def diagram(self, connection: int | None = None, *, collapse: bool = False) -> SequenceDiagram:
        """A sequence diagram of one recorded connection: see :mod:`ws_lessons.sequence`."""
        from ws_lessons.sequence import sequence_diagram

        return sequence_diagram(self, connection, collapse=collapse)

    def __str__(self) -> str:
        if not self.chunks:
            return f"{self!r}\n{_(NOTHING_YET)}"
        return f"{self!r}\n{self.table()}"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        counts = self.byte_counts
        return (
            f"<Tap {self.name!r} {state}: {self.host}:{self.port} → "
            f"{self.target_host}:{self.target_port}, "
            f"{counts[CLIENT_TO_SERVER]} bytes →, {counts[SERVER_TO_CLIENT]} bytes ←>"
        )

    def _repr_html_(self) -> str:
        if not self.chunks:
            return f"<p>{html.escape(repr(self))}</p><p>{html.escape(_(NOTHING_YET))}</p>"
        return f"<p>{html.escape(repr(self))}</p>{self.table(None)._repr_html_()}"

    def observe(self, connection: int, direction: Direction, data: bytes) -> None:
        with self._chunks_lock:
            self._chunks.append(Chunk(connection, direction, time.perf_counter(), data))


# -- decoding ----------------------------------------------------------------------------------


@dataclass
class _Stream:
    """The bytes of one direction of one connection, and which chunk brought each part."""

    data: bytearray = field(default_factory=bytearray)
    offsets: list[int] = field(default_factory=list)  # where each chunk starts in data
    indexes: list[int] = field(default_factory=list)  # and its index in the list of chunks
    closed_at: int | None = None  # index of the chunk that said this side closed

    def chunk_at(self, offset: int) -> int:
        """The index of the chunk that brought the byte at ``offset``."""
        return self.indexes[bisect.bisect_right(self.offsets, offset) - 1]


def _decode_all(chunks: list[Chunk]) -> list[Record]:
    """Decode recorded chunks into records, in the order their first byte arrived."""
    streams: dict[tuple[int, Direction], _Stream] = {}
    for index, chunk in enumerate(chunks):
        stream = streams.setdefault((chunk.connection, chunk.direction), _Stream())
        if chunk.data:
            stream.offsets.append(len(stream.data))
            stream.indexes.append(index)
            stream.data += chunk.data
        else:
            stream.closed_at = index
    start = chunks[0].time if chunks else 0.0

    def ms(index: int) -> float:
        return (chunks[index].time - start) * 1000

    found: list[tuple[int, int, Record]] = []  # (chunk index, offset, record): arrival order
    for connection in sorted({key[0] for key in streams}):
        upstream = streams.get((connection, CLIENT_TO_SERVER))
        downstream = streams.get((connection, SERVER_TO_CLIENT))
        request = _head(upstream, CLIENT_TO_SERVER) if upstream else None
        response = _head(downstream, SERVER_TO_CLIENT) if downstream else None
        asks_upgrade = (
            not isinstance(request, Request)
            or "websocket" in (request.headers.get("Upgrade") or "").lower()
        )
        # A connection tapped after clear() may have lost its handshake: assume it upgraded.
        upgraded = response is None or (isinstance(response, Response) and response.status == 101)
        deflate = isinstance(response, Response) and "permessage-deflate" in (
            response.headers.get("Sec-WebSocket-Extensions") or ""
        )
        for direction, tapped in [(CLIENT_TO_SERVER, upstream), (SERVER_TO_CLIENT, downstream)]:
            if tapped is None:
                continue
            found += _decode_stream(
                connection,
                direction,
                tapped,
                head_kind="handshake" if asks_upgrade else "http",
                upgraded=upgraded,
                deflate=deflate,
                ms=ms,
            )
            if tapped.closed_at is not None:
                side = "client" if direction == CLIENT_TO_SERVER else "server"
                note = f"the {side} closed its side of the TCP connection"
                closed = Record(
                    connection, direction, ms(tapped.closed_at), "closed", b"", note=note
                )
                found.append((tapped.closed_at, len(tapped.data), closed))
    found.sort(key=lambda item: (item[0], item[1]))
    return [record for _, _, record in found]


def _starts_with_http(stream: _Stream, direction: Direction) -> bool:
    """Whether ``stream`` starts with an HTTP head (and not, after a clear(), mid-session)."""
    pattern = _REQUEST_START if direction == CLIENT_TO_SERVER else _RESPONSE_START
    return pattern.match(stream.data) is not None


def _head(stream: _Stream, direction: Direction) -> Request | Response | HandshakeError | None:
    """The complete HTTP head at the start of ``stream``, the error parsing it raised, or None."""
    if not _starts_with_http(stream, direction) or b"\r\n\r\n" not in stream.data:
        return None
    parse = parse_request if direction == CLIENT_TO_SERVER else parse_response
    try:
        return parse(bytes(stream.data))
    except HandshakeError as exc:
        return exc


def _decode_stream(
    connection: int,
    direction: Direction,
    stream: _Stream,
    *,
    head_kind: str,
    upgraded: bool,
    deflate: bool,
    ms: Any,
) -> list[tuple[int, int, Record]]:
    """Decode one direction: its HTTP head if it starts with one, then frames.

    Return (index of the chunk of the first byte, offset, record) for each record.
    """
    data = stream.data
    records: list[tuple[int, int, Record]] = []

    def add(offset: int, kind: str, size: int, **fields: Any) -> None:
        index = stream.chunk_at(offset)
        wire = bytes(data[offset : offset + size])
        record = Record(connection, direction, ms(index), kind, wire, **fields)
        records.append((index, offset, record))

    offset = 0
    head = _head(stream, direction)
    if isinstance(head, HandshakeError):
        add(0, "invalid", len(data), note=str(head))
        return records
    if head is not None:
        size = data.index(b"\r\n\r\n") + 4
        add(0, head_kind, size, head=head, note=_summary(head))
        offset = size
    elif _starts_with_http(stream, direction):  # the head has not fully arrived yet
        add(0, "partial", len(data), note="an HTTP head, not complete yet")
        return records
    if not upgraded:
        if offset < len(data):
            add(offset, "http body", len(data) - offset, note=_preview_bytes(data[offset:]))
        return records

    role: Role = "server" if direction == CLIENT_TO_SERVER else "client"  # the side receiving
    reader = FrameReader(role, allow_rsv1=deflate)
    try:
        for received in reader.receive(bytes(data[offset:])):
            size = received.header.frame_size
            add(
                offset,
                "frame",
                size,
                frame=received.frame,
                mask=received.header.mask,
                compressed=received.compressed,
                note=_preview(received),
            )
            offset += size
    except ProtocolError as exc:
        add(offset, "invalid", len(data) - offset, note=f"{exc} (close code {exc.code})")
        return records
    if offset < len(data):
        if stream.closed_at is not None:
            add(
                offset,
                "truncated",
                len(data) - offset,
                note="the connection closed in the middle of this frame",
            )
        else:
            add(
                offset,
                "partial",
                len(data) - offset,
                note="the start of a frame; the rest has not arrived",
            )
    return records


def _start_line(head: Request | Response) -> str:
    if isinstance(head, Request):
        return f"{head.method} {head.target}"
    return f"{head.status} {head.reason}".strip()


def _summary(head: Request | Response) -> str:
    """The header fields of a handshake that matter to WebSocket, shortened."""
    names = (
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Accept",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol",
    )
    shown = [f"{name}: {value}" for name in names if (value := head.headers.get(name)) is not None]
    return "; ".join(shown) if shown else f"{len(head.headers)} header fields"


def _preview(received: Received) -> str:
    """The payload as the table shows it: text, a close code, or bytes."""
    payload = received.frame.payload
    if received.frame.opcode is Opcode.CLOSE:
        code, reason = parse_close(payload)  # FrameReader has checked it
        return f"{close_name(code)} {reason!r}" if reason else close_name(code)
    if received.compressed:
        return f"(compressed) {_preview_bytes(payload)}"
    if received.text is not None:
        return _shorten(repr(received.text))
    return _preview_bytes(payload)


def _preview_bytes(data: bytes | bytearray) -> str:
    """Printable ASCII as ``b'...'``, anything else as hex."""
    data = bytes(data)
    if data and all(32 <= byte < 127 for byte in data):
        return _shorten(repr(data))
    return hex_preview(data, PREVIEW // 3)


def _shorten(text: str) -> str:
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"
