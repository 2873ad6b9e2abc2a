"""A WebSocket echo server from scratch: asyncio streams and the course's own codec.

No web framework and no WebSocket library: :mod:`ws_lessons.handshake` answers the
opening handshake, :class:`ws_lessons.frames.FrameReader` turns bytes into checked
frames, and this module does what is left to an endpoint (RFC 6455 §5-§7): reassemble
fragmented messages, echo them, answer pings, run the closing handshake, and fail the
connection with the right close code when the peer breaks a rule.

It is the reference answer of the lesson that builds it, and what
``python -m ws_lessons serve scratch`` runs for Autobahn|Testsuite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from ws_lessons.bounds import TokenBucket, connection_cap, raise_open_files
from ws_lessons.frames import CloseCode, Frame, FrameReader, Opcode, ProtocolError, encode
from ws_lessons.frames import parse_close as read_close
from ws_lessons.handshake import HandshakeError, build_response, parse_request
from ws_lessons.proxies import LOOPBACK

__all__ = ["MAX_MESSAGE", "Bounds", "echo_frames", "handle", "main"]

MAX_MESSAGE = 16 * 2**20
"""The largest message echoed (Autobahn's largest case, 9.1.6, sends 16 MiB)."""
CLOSE_TIMEOUT = 2.0  # seconds to wait for the peer's close frame after ours
READ_SIZE = 2**16
MAX_HEAD = 16 * 1024
"""Bytes in a handshake request head, however they arrive; beyond: 431 (RFC 6585 §5)."""

logger = logging.getLogger("ws_lessons.scratch")


@dataclass(frozen=True)
class Bounds:
    """What the server holds for one client, and for how long (each bound names its attack)."""

    request_timeout: float = 10.0
    """Seconds to send the handshake (slowloris: a byte a second, or nothing): 408."""
    idle_timeout: float = 60.0
    """Seconds without a byte from an open connection: closed with 1001."""
    write_timeout: float = 10.0
    """Seconds a peer has to read what is sent to it (a reader that never reads): cut."""
    ping_rate: float = 5.0
    ping_burst: int = 20
    """Pings answered (a ping flood): ``ping_burst`` at once, then ``ping_rate`` a second."""
    max_clients: int | None = None
    """Connections at once (a flood of sockets); ``None``: the open-file limit minus a reserve."""


DEFAULT = Bounds()


async def handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, bounds: Bounds = DEFAULT
) -> None:
    """Serve one connection: the handshake, then echo until the closing handshake."""
    try:
        if await _handshake(reader, writer, bounds):
            await echo_frames(reader, writer, bounds)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the peer went away without a closing handshake: nothing left to say
    except TimeoutError:  # it did not read what we sent within write_timeout
        logger.info("%s cut: it does not read what it is sent", _peer(writer))
        writer.transport.abort()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername") or ("?", 0)
    return f"{address[0]}:{address[1]}"


async def _handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, bounds: Bounds = DEFAULT
) -> bool:
    """Answer the opening handshake (RFC 6455 §4.2); False when it was refused."""
    too_big = _http_error(431, "Request Header Fields Too Large", "request head too large")
    try:
        async with asyncio.timeout(bounds.request_timeout):
            head = await reader.readuntil(b"\r\n\r\n")
    except TimeoutError:
        logger.info("%s 408: no handshake within %g s", _peer(writer), bounds.request_timeout)
        writer.write(_http_error(408, "Request Timeout", "no handshake in time"))
        return False
    except asyncio.LimitOverrunError:
        writer.write(too_big)
        return False
    if len(head) > MAX_HEAD:  # the same answer whether the head came in one piece or many
        writer.write(too_big)
        return False
    try:
        request = parse_request(head)
        writer.write(build_response(request))  # checks the request first (RFC 6455 §4.2.1)
    except HandshakeError as exc:
        writer.write(_refusal(head, exc))
        return False
    await writer.drain()
    return True


def _refusal(head: bytes, error: HandshakeError) -> bytes:
    """The HTTP answer to a request that is not a handshake this server accepts."""
    try:
        version = parse_request(head).headers.get("Sec-WebSocket-Version")
    except HandshakeError:  # not even an HTTP request
        version = None
    if version not in (None, "13"):
        # RFC 6455 §4.4: a server that does not speak the client's version sends "an
        # appropriate HTTP error code (such as 426 Upgrade Required)" and the versions it
        # does speak, in a |Sec-WebSocket-Version| header.
        return _http_error(426, "Upgrade Required", str(error), version=True)
    # RFC 6455 §4.2.1: a request that is not a valid handshake gets "an HTTP response that
    # has an appropriate error code (such as 400 Bad Request)".
    return _http_error(400, "Bad Request", str(error))


def _http_error(status: int, reason: str, detail: str, *, version: bool = False) -> bytes:
    body = f"{detail}\n".encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if version:
        head.append("Sec-WebSocket-Version: 13")
    return "\r\n".join([*head, "", ""]).encode() + body


async def echo_frames(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, bounds: Bounds = DEFAULT
) -> None:
    """Echo every message until a close frame arrives or the peer breaks a rule."""
    frames = FrameReader("server", max_size=MAX_MESSAGE)
    fragments: list[bytes] = []  # of the message being reassembled
    opcode, size = Opcode.TEXT, 0
    pings = TokenBucket(bounds.ping_rate, bounds.ping_burst)
    while True:
        try:
            async with asyncio.timeout(bounds.idle_timeout):
                data = await reader.read(READ_SIZE)
        except TimeoutError:
            writer.write(encode(Frame.close(CloseCode.GOING_AWAY, "idle")))
            return
        if not data:
            return
        try:
            for frame in frames.feed(data):
                if frame.opcode is Opcode.CLOSE:
                    # RFC 6455 §5.5.1: "the endpoint MUST send a Close frame in response",
                    # "typically echoing the status code it received".
                    code, _ = read_close(frame.payload)
                    reply = Frame.close() if code == CloseCode.NO_STATUS_RCVD else Frame.close(code)
                    writer.write(encode(reply))
                    await writer.drain()
                    return  # §7.1.1: the server closes the TCP connection first
                if frame.opcode is Opcode.PING:
                    if not pings.take():
                        raise ProtocolError("too many pings", CloseCode.POLICY_VIOLATION)
                    # §5.5.2: "a Pong frame in response ... the same Application data".
                    writer.write(encode(Frame(Opcode.PONG, frame.payload)))
                elif frame.opcode is not Opcode.PONG:  # an unsolicited pong needs nothing
                    if frame.opcode is not Opcode.CONTINUATION:
                        opcode, size = frame.opcode, 0
                    fragments.append(frame.payload)
                    size += len(frame.payload)
                    if size > MAX_MESSAGE:
                        raise ProtocolError("message too big", CloseCode.MESSAGE_TOO_BIG)
                    if frame.fin:
                        writer.write(encode(Frame(opcode, b"".join(fragments))))
                        fragments.clear()
            async with asyncio.timeout(bounds.write_timeout):  # TimeoutError: handle() cuts
                await writer.drain()
        except ProtocolError as exc:
            # §7.1.7 _Fail the WebSocket Connection_: send a Close frame with the code
            # the rule names, then close.
            await _fail(reader, writer, exc)
            return


async def _fail(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, error: ProtocolError
) -> None:
    """Fail the connection (RFC 6455 §7.1.7): a close frame for ``error``, then EOF."""
    reason = str(error).encode()[:123].decode(errors="ignore")
    logger.info("%s closed %d %s", _peer(writer), error.code, reason)  # the client's error
    writer.write(encode(Frame.close(error.code, reason)))
    # §7.1.7: "An endpoint MUST NOT continue to attempt to process data (including a
    # responding Close frame) from the remote endpoint". The server half-closes at once;
    # reading on until the peer closes too keeps the kernel from resetting a connection
    # with unread data, which could destroy the close frame before the peer reads it.
    writer.write_eof()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            while await reader.read(READ_SIZE):
                pass


async def main(host: str = LOOPBACK, port: int = 9001, bounds: Bounds = DEFAULT) -> None:
    """Serve :func:`handle` on ``host``:``port`` until cancelled, within ``bounds``."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    before, after = raise_open_files()
    cap = bounds.max_clients or connection_cap(after)
    clients = 0
    refused = 0

    async def bounded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal clients, refused
        if clients >= cap:  # answer at once: the descriptor is free again right away
            refused += 1
            if refused == 1 or refused % 1000 == 0:  # once per burst, not per client
                logger.warning("503: %d connections open; %d refused so far", cap, refused)
            writer.write(_http_error(503, "Service Unavailable", "too many connections"))
            writer.close()
            return
        clients += 1
        try:
            await handle(reader, writer, bounds)
        finally:
            clients -= 1

    server = await asyncio.start_server(bounded, host, port)
    address = server.sockets[0].getsockname()
    print(f"scratch echo server on ws://{address[0]}:{address[1]}/ (Ctrl-C stops it)", flush=True)
    logger.info("open files: soft limit %s (was %s); at most %d connections", after, before, cap)
    async with server:
        await server.serve_forever()
