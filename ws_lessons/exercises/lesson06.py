"""Exercises of lesson 06: a WebSocket server of your own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
from typing import Any

from ws_lessons import scratch
from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, require_function
from ws_lessons.frames import CloseCode, Frame, FrameReader, Opcode, encode, parse_close
from ws_lessons.handshake import build_request, new_key
from ws_lessons.i18n import N_, _
from ws_lessons.server import serve_streams

__all__ = [
    "FRAMES_06_2",
    "GUID",
    "Answer",
    "check_06_1",
    "check_06_2",
    "http_error",
    "my_accept_key",
    "read_head",
    "solution_06_1",
    "solution_06_2",
    "what_is_wrong",
]

# 06.1 -------------------------------------------------------------------------------------------

Answer = tuple[int, dict[str, str], bytes]
"""The status, header fields and first bytes after the head of the server's answer."""


def _request(version: str | None = "13", *, upgrade: bool = True) -> bytes:
    """A client's handshake with this Sec-WebSocket-Version (None: no such header)."""
    request = build_request("127.0.0.1", key=new_key())
    if version != "13":
        header = b"Sec-WebSocket-Version: 13\r\n"
        request = request.replace(
            header, b"" if version is None else header.replace(b"13", version.encode())
        )
    if not upgrade:
        request = request.replace(b"Upgrade: websocket\r\n", b"")
    return request


async def _answer(port: int, request: bytes) -> Answer:
    """The server's answer to ``request``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        async with asyncio.timeout(TIMEOUT):
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.1 101"):
                writer.write(encode(Frame.text("echo?"), mask=b"\x01\x02\x03\x04"))
                after = await reader.read(64)
            else:
                after = b""
    except (ConnectionError, asyncio.IncompleteReadError):
        raise Hint(
            _(
                "the server closed the connection without an HTTP answer: did your function "
                "raise? Return True or False, and write a response in every case"
            )
        ) from None
    except TimeoutError:
        raise Hint(
            _(
                "no complete answer within {seconds:.0f} s: is the answer written, and flushed "
                "to the socket, before your function returns?"
            ).format(seconds=TIMEOUT)
        ) from None
    finally:
        writer.close()
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _colon, value in (line.partition(":") for line in lines[1:] if line)
    }
    return status, headers, after


@exercise(
    "06.1",
    nudge="Which field of the request tells you the client's version, and which check of "
    "what_is_wrong() looks at it?",
    hint="Look at the version before what_is_wrong() does: only a present, wrong version "
    "earns 426, and the answer names the version you speak in a header field of its own.",
)
def check_06_1(handshake: Any) -> str:
    """handshake(reader, writer): 101 for a good request, 426 with the version, 400 otherwise."""
    require_function(handshake)
    if not inspect.iscoroutinefunction(handshake):
        raise Hint(
            _("your handshake must be an `async def` function, like handshake() in the lesson")
        )
    good, version_8, no_upgrade, no_version = _answers(handshake)
    _require_101(good)
    _require_426(version_8)
    _require_400(
        no_upgrade,
        N_(
            "a request without Upgrade got 426: 426 is for a client whose version you do "
            "not speak; this request is not a valid handshake at all, so it gets 400"
        ),
        N_("a request without Upgrade got {status}; a request that is not a handshake gets 400"),
    )
    _require_400(
        no_version,
        N_(
            "a request with no version got 426: 426 is for a client whose version you do "
            "not speak; this request is not a valid handshake at all, so it gets 400"
        ),
        N_("a request with no version got {status}; a request that is not a handshake gets 400"),
    )
    return _("101 for a good handshake, 426 naming version 13, 400 for the rest")


def _answers(handshake: Any) -> list[Answer]:
    """``handshake`` on a real server, then its answers to a good request, to version 8,
    to a request without Upgrade and to one with no version."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await handshake(reader, writer):
            await scratch.echo_frames(reader, writer)

    requests = (
        _request("13"),
        _request("8"),
        _request("13", upgrade=False),
        _request(None),
    )
    with serve_streams(handle, name="check 06.1") as server:
        # The client runs on the server's loop: a notebook's own loop is busy with the cell.
        return [server.run(_answer(server.port, request)) for request in requests]


def _require_101(good: Answer) -> None:
    """A valid handshake gets 101, and the echo answers after it."""
    status, _headers, after = good
    if status != 101:
        raise Hint(
            _("a valid handshake got {status}: it must still get 101 Switching Protocols").format(
                status=status
            )
        )
    if not after.endswith(b"echo?"):
        raise Hint(
            _("after the 101 the echo did not answer: return True when the handshake succeeded")
        )


def _require_426(version_8: Answer) -> None:
    """Version 8 gets 426 Upgrade Required naming version 13 (RFC 6455 §4.4)."""
    status, headers, _after = version_8
    if status == 400:
        raise Hint(_("version 8 still gets 400: RFC 6455 §4.4 names 426 Upgrade Required for it"))
    if status != 426:
        raise Hint(
            _("version 8 got {status}; RFC 6455 §4.4 suggests 426 Upgrade Required").format(
                status=status
            )
        )
    if "sec-websocket-version" not in headers:
        raise Hint(
            _("your 426 does not say which version you speak: add a Sec-WebSocket-Version field")
        )
    if headers["sec-websocket-version"] != "13":
        raise Hint(
            _("Sec-WebSocket-Version: {version}? This server speaks 13").format(
                version=headers["sec-websocket-version"]
            )
        )


def _require_400(answer: Answer, if_426: str, otherwise: str) -> None:
    """A request that is not a handshake at all gets 400; the two hints are marked ``N_()``."""
    status, _headers, _after = answer
    if status == 426:
        raise Hint(_(if_426))
    if status != 400:
        raise Hint(_(otherwise).format(status=status))


# The lesson's own handshake pieces, as its cells write them, for the reference answer to run.

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def my_accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def read_head(head: bytes) -> tuple[str, dict[str, str]]:
    request_line, *lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in filter(None, lines):
        name, _colon, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return request_line, fields


def what_is_wrong(request_line: str, fields: dict[str, str]) -> str | None:
    method, _space, rest = request_line.partition(" ")
    if method != "GET" or not rest.endswith(" HTTP/1.1"):
        return "the request line must be GET ... HTTP/1.1"
    if "websocket" not in fields.get("upgrade", "").lower():
        return "Upgrade: websocket is missing"
    if "upgrade" not in fields.get("connection", "").lower():
        return "Connection: Upgrade is missing"
    if fields.get("sec-websocket-version") != "13":
        return "Sec-WebSocket-Version must be 13"
    try:
        nonce = base64.b64decode(fields.get("sec-websocket-key", ""), validate=True)
    except ValueError:
        nonce = b""
    if len(nonce) != 16:
        return "Sec-WebSocket-Key must be 16 bytes, base64-encoded"
    return None


def http_error(status: int, reason: str, detail: object) -> bytes:
    body = f"{detail}\n".encode()
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def solution_06_1() -> Any:
    async def handshake_with_version(reader, writer):  # type: ignore[no-untyped-def]
        request_line, fields = read_head(await reader.readuntil(b"\r\n\r\n"))
        version = fields.get("sec-websocket-version")
        if version is not None and version != "13":  # RFC 6455 §4.4: 426, and what we speak
            refusal = http_error(426, "Upgrade Required", f"version {version} is not spoken here")
            writer.write(refusal.replace(b"\r\n", b"\r\nSec-WebSocket-Version: 13\r\n", 1))
            return False
        if (problem := what_is_wrong(request_line, fields)) is not None:
            writer.write(http_error(400, "Bad Request", problem))
            return False
        accept = my_accept_key(fields["sec-websocket-key"])
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")
        writer.write(f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n".encode())
        await writer.drain()
        return True

    return handshake_with_version


# 06.2 -------------------------------------------------------------------------------------------

FRAMES_06_2 = [
    Frame(Opcode.TEXT, b"Hel", fin=False),
    Frame(Opcode.PING, b"1"),
    Frame(Opcode.PONG, b"2"),
    Frame(Opcode.CONTINUATION, b"lo"),
    Frame.close(1000),
]


async def _replies(port: int) -> list[tuple[Opcode, bytes | int]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = new_key()
    writer.write(build_request(f"127.0.0.1:{port}", key=key))
    await reader.readuntil(b"\r\n\r\n")
    for frame in FRAMES_06_2:
        writer.write(encode(frame, mask=b"\x0a\x0b\x0c\x0d"))
    frames, received = FrameReader("client"), []
    async with asyncio.timeout(TIMEOUT):
        while data := await reader.read(4096):
            received += frames.feed(data)
    writer.close()
    return [
        (f.opcode, int(parse_close(f.payload)[0]) if f.opcode is Opcode.CLOSE else f.payload)
        for f in received
    ]


@exercise(
    "06.2",
    nudge="Go frame by frame and ask of each: is it a control frame, and does it finish a message?",
    hint="Control frames are answered as they arrive, even in the middle of a message "
    "(§5.4); a pong asks for nothing (§5.5.3); the message goes out once, when its last "
    "fragment arrives; the close is answered like every close.",
)
def check_06_2(predicted: Any) -> str:
    """The (opcode, payload-or-code) pairs the server sends back for FRAMES_06_2."""
    if not isinstance(predicted, list) or not predicted:
        raise Hint(_("write your prediction as a list of (opcode, payload) pairs"))
    try:
        mine = [(Opcode(opcode), payload) for opcode, payload in predicted]
    except (TypeError, ValueError):
        raise Hint(
            _('each item is a pair: (Opcode.TEXT, b"...") or (Opcode.CLOSE, code)')
        ) from None
    with serve_streams(scratch.handle, name="check 06.2") as server:
        actual = server.run(_replies(server.port))
    if mine == actual:
        return _("exactly what the server sent: {opcodes}").format(
            opcodes=", ".join(opcode.name for opcode, _payload in actual)
        )
    opcodes = [opcode for opcode, _payload in mine]
    if opcodes.count(Opcode.TEXT) > 1 or (Opcode.TEXT, b"Hel") in mine:
        raise Hint(_("the server echoes whole messages: the fragments come back as one TEXT frame"))
    if (
        Opcode.PONG in opcodes
        and Opcode.TEXT in opcodes
        and opcodes.index(Opcode.TEXT) < opcodes.index(Opcode.PONG)
    ):
        raise Hint(_("the ping arrived before the message was complete, and is answered at once"))
    if opcodes.count(Opcode.PONG) > 1 or (Opcode.PONG, b"2") in mine or (Opcode.PING, b"2") in mine:
        raise Hint(_("the client's PONG needs no answer (RFC 6455 §5.5.3)"))
    if Opcode.PONG not in opcodes:
        raise Hint(_("a PING always gets a PONG (RFC 6455 §5.5.2)"))
    if (Opcode.PONG, b"1") not in mine:
        raise Hint(_("a PONG carries the same payload as the PING it answers (§5.5.3)"))
    if Opcode.CLOSE not in opcodes:
        raise Hint(_("the server answers the close frame with a close frame (§5.5.1)"))
    if (Opcode.CLOSE, CloseCode.NORMAL_CLOSURE) not in mine:
        raise Hint(_("the answer to a close echoes the code it received"))
    if (Opcode.TEXT, b"Hello") not in mine:
        raise Hint(_("what does the message say once its two fragments are joined?"))
    raise Hint(_("close: compare the order of your pairs with the order the frames arrive"))


def solution_06_2() -> Any:
    return [(Opcode.PONG, b"1"), (Opcode.TEXT, b"Hello"), (Opcode.CLOSE, 1000)]
