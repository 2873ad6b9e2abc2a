"""Bounds for a uvicorn server that faces hostile clients, where uvicorn has no knob.

What the installed libraries bound already (uvicorn 0.55, h11 0.16, websockets 17,
FastAPI 0.165 on Starlette 1.10), and the servers of this course set:

- ``ws_max_size`` (uvicorn): the largest message, fragments counted together by
  websockets' reader: 1009. ``ws_ping_interval`` / ``ws_ping_timeout`` (uvicorn): a peer
  that does not answer pings is closed with 1011.
- ``timeout_keep_alive`` (uvicorn, 5 s): an idle keep-alive connection *between* requests.
- ``h11_max_incomplete_event_size`` (uvicorn, h11's 16 KiB): a head still incomplete
  beyond it gets 400; websockets' handshake parser answers 431 to a header line over
  8 KiB or more than 128 headers.
- ``max_body_size`` (FastAPI, per route or app): 413 before a body is read.

What none of them bounds, added here in uvicorn's own terms (subclasses of its h11 and
websockets-sansio protocols, the implementations uvicorn 0.55 picks by default):

- A deadline for the request of a connection: uvicorn arms no timer before the first
  request, so a socket that sends nothing, or a byte a second, stays open for ever.
- The size of a request head whatever pieces it arrives in (h11 only measures a head
  still incomplete): beyond ``max_head``, 431 (RFC 6585 §5).
- Connections per process, below the open-file limit: uvicorn's ``limit_concurrency``
  answers 503 only once a request has arrived, so sockets that send nothing fill the
  process. Here a newcomer over ``max_connections`` takes the place of the connection
  that has waited longest for its request, else it gets 503 at once.
- Pings per connection: websockets answers each one, and a peer that never reads
  collects the pongs in the server's write buffer. Over budget: close 1008.
- Bytes waiting for a peer that does not read: ``transport.close()`` waits for the
  buffer to drain, for ever. Here a closed connection is cut after ``linger`` seconds,
  and one with more than ``max_buffer`` bytes waiting is cut at once.
- A connection closed for a client's error: uvicorn closes the socket at once, and unread
  data makes the kernel reset it, which can destroy the close frame before a client that
  is still writing reads it. Here the server half-closes and reads on, discarding, until
  the client closes, for at most ``linger`` seconds (its 408 and 431 answers do the same).
- A text frame with invalid UTF-8 is logged by uvicorn as ERROR with a traceback; here
  it is one INFO line with the close code, like every protocol error of a client.
- Accept errors (out of file descriptors) are logged once per burst, not once per try.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from ws_lessons.bounds import Clock, TokenBucket, connection_cap, raise_open_files

__all__ = [
    "PROTOCOLS",
    "HideQueryValues",
    "Limits",
    "protocols",
    "quiet_accept_errors",
    "raise_open_files",
]


class Engines(TypedDict):
    """uvicorn options ``http`` and ``loop``, by name."""

    http: str
    loop: str


PROTOCOLS: Engines = {"http": "h11", "loop": "asyncio"}
"""What the course's servers run on, whatever else is installed: the lessons show h11's and
asyncio's behaviour. (``uvicorn[standard]``, which ``fastapi-cli`` brings along, would make
uvicorn's "auto" pick httptools and uvloop instead.)"""

QUIET = 10.0
"""Seconds between two log lines about the same kind of refusal (one line per burst)."""

logger = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class Limits:
    """What one server holds for its clients. Every bound has a default fit for the chat."""

    request_timeout: float = 10.0
    """Seconds a new connection has to send its request (head and body; a handshake)."""
    max_head: int = 16 * 1024
    """Bytes in a request head (request line and headers), however they arrive: 431."""
    max_connections: int | None = None
    """Connections at once in this process; ``None``: the open-file limit minus a reserve."""
    ping_rate: float = 5.0
    ping_burst: int = 20
    """Ping frames a connection may send: ``ping_rate`` a second, ``ping_burst`` at once."""
    max_buffer: int = 1024 * 1024
    """Bytes waiting to be sent to one peer; beyond, the connection is cut."""
    linger: float = 2.0
    """Seconds a closed connection may take to send what it still holds, then it is cut."""


class Burst:
    """Logs one line for a burst of the same event, then stays quiet for ``quiet`` seconds."""

    def __init__(self, message: str, quiet: float = QUIET, clock: Clock = time.monotonic) -> None:
        self.message = message
        self.quiet = quiet
        self.clock = clock
        self.count = 0
        self.total = 0
        self.next = float("-inf")

    def note(self, level: int = logging.INFO) -> None:
        self.count += 1
        self.total += 1
        now = self.clock()
        if now >= self.next:
            logger.log(level, "%s (%d since the last such line)", self.message, self.count)
            self.count = 0
            self.next = now + self.quiet


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> Burst:
    """Log accept errors (no descriptor left) on ``loop`` once per burst, without traceback.

    asyncio logs each failed ``accept()`` with a traceback, then tries again a second
    later (``asyncio/selector_events.py``); other errors go to the loop's handler as before.
    """
    burst = Burst("accept() failed: no file descriptor left, new clients wait in the backlog")
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == "socket.accept() out of system resource":
            burst.note(logging.WARNING)
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    return burst


class HideQueryValues(logging.Filter):
    """Replace the values of some query parameters in log lines: ``?token=…``.

    A token in a URL is a bearer credential: whoever reads the log line may use it
    until it expires. uvicorn writes the path with its query in access lines and in
    its WebSocket lines; this filter rewrites their arguments before they are formatted.
    """

    def __init__(self, names: Iterable[str] = ("token",)) -> None:
        super().__init__()
        alternatives = "|".join(re.escape(name) for name in names)
        self.pattern = re.compile(rf"([?&](?:{alternatives})=)[^&\s\"]*")

    def hide(self, value: object) -> object:
        return self.pattern.sub(r"\1…", value) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.hide(arg) for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = self.hide(record.msg)
        return True


class _Lingering:
    """A transport whose ``close()`` cuts the connection if it has not drained in time."""

    def __init__(self, transport: asyncio.Transport, linger: float) -> None:
        self._transport = transport
        self._linger = linger
        self.lingering = False

    def close(self) -> None:
        if not self.lingering:  # else the timer of close_after_peer() closes
            self._close()

    def _close(self) -> None:
        try:
            waiting = self._transport.get_write_buffer_size()
        except AttributeError:  # asyncio's TLS transport, once closed, has no buffer left
            waiting = 0
        self._transport.close()
        if waiting:
            asyncio.get_running_loop().call_later(self._linger, self._transport.abort)

    def close_after_peer(self) -> None:
        """Stop writing, then close once the peer has closed too, or after ``linger`` seconds.

        Closing a socket with unread data makes the kernel reset the connection, and a
        client that meets the reset while writing can lose what was sent to it last (an
        answer, a close frame) before reading it (RFC 9112 §9.6). So half-close, and let
        the protocol read on, discarding, until the peer closes. TLS cannot half-close.
        """
        if not self._transport.can_write_eof():
            self.close()
            return
        self.lingering = True
        self._transport.write_eof()
        self._transport.resume_reading()  # read on, or the unread data waits in the kernel
        asyncio.get_running_loop().call_later(self._linger, self._close)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Door:
    """What the protocols of one server share: the cap, and who is waiting for a request."""

    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self.cap = limits.max_connections or connection_cap(raise_open_files()[1])
        self.waiting: dict[Http, None] = {}  # oldest first
        self.refused = Burst(f"503: {self.cap} connections open, the most this process holds")
        self.evicted = Burst("closed an idle connection to make room for a new one")
        self.late = Burst(f"408: a request did not arrive within {limits.request_timeout:g} s")
        self.too_big = Burst(f"431: a request head over {limits.max_head} bytes")


def _refuse(
    transport: asyncio.Transport, status: int, reason: str, detail: str, *, linger: bool = True
) -> None:
    """Answer ``status``, then stop writing; the caller discards what still comes in."""
    body = f"{detail}\n".encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    transport.write(head.encode() + body)
    if linger:
        cast(_Lingering, transport).close_after_peer()
    else:  # overloaded: free the descriptor now, even at the risk of a reset
        transport.close()


class Http(H11Protocol):
    """uvicorn's h11 protocol with a request deadline, a head bound and a connection cap."""

    door: _Door

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        limits = self.door.limits
        super().connection_made(_Lingering(transport, limits.linger))  # type: ignore[arg-type]
        self._head = 0  # bytes of the current request head so far
        self._tail = b""  # its last 3 bytes: the blank line may span two reads
        self._deadline: asyncio.TimerHandle | None = None
        if len(self.connections) > self.door.cap:
            victim = next(iter(self.door.waiting), None)
            if victim is None:
                self.door.refused.note(logging.WARNING)
                busy = "too many connections"
                _refuse(self.transport, 503, "Service Unavailable", busy, linger=False)
                return
            self.door.evicted.note()
            victim.door.waiting.pop(victim, None)
            victim._cancel()
            victim.transport.abort()  # it has sent nothing worth an answer: free its descriptor
        self._wait()

    def _wait(self) -> None:
        """Wait for a request, for at most ``request_timeout`` seconds."""
        self.door.waiting[self] = None
        self._cancel()
        self._deadline = self.loop.call_later(self.door.limits.request_timeout, self._too_late)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_late(self) -> None:
        self._deadline = None
        self.door.late.note()
        self._give_up(408, "Request Timeout", "the request took too long")

    def _give_up(self, status: int, reason: str, detail: str) -> None:
        self.door.waiting.pop(self, None)
        self._cancel()
        between_requests = self.cycle is None or self.cycle.response_complete
        if self.conn.their_state is h11.IDLE and between_requests:
            _refuse(self.transport, status, reason, detail)
        else:  # a body is on its way, or the app answers: no room for a response of ours
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if cast(_Lingering, self.transport).lingering:  # answered: read on only to let it out
            return
        if self.conn.their_state is h11.IDLE and self._head_too_big(data):
            self.door.too_big.note()
            self.door.waiting.pop(self, None)
            self._cancel()
            head = f"the request head is over {self.door.limits.max_head} bytes"
            _refuse(self.transport, 431, "Request Header Fields Too Large", head)
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self.door.waiting.pop(self, None)
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._cancel()

    def _head_too_big(self, data: bytes) -> bool:
        """Count the head's bytes up to its blank line, whatever the reads it takes."""
        window = self._tail + data
        end = window.find(b"\r\n\r\n")
        if end < 0:
            self._head += len(data)
            self._tail = window[-3:]
            return self._head > self.door.limits.max_head
        size = self._head + end + 4 - len(self._tail)
        self._head, self._tail = 0, b""
        return size > self.door.limits.max_head

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self.door.waiting.pop(self, None)
        self._cancel()
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._wait()  # the next request on this connection gets a deadline too

    def connection_lost(self, exc: Exception | None) -> None:
        self.door.waiting.pop(self, None)
        self._cancel()
        super().connection_lost(exc)


class WebSocket(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol with a ping budget and a write-buffer bound."""

    door: _Door

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        limits = self.door.limits
        if not isinstance(transport, _Lingering):
            transport = _Lingering(transport, limits.linger)  # type: ignore[arg-type, assignment]
        super().connection_made(transport)
        self.pings = TokenBucket(limits.ping_rate, limits.ping_burst, self.door.clock)

    def _where(self) -> str:
        scope = getattr(self, "scope", None)
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        return f'{client} - "WebSocket {scope["path"] if scope else "?"}"'

    def handle_ping(self) -> None:
        if self.close_sent:
            return
        if not self.pings.take():
            self._fail(1008, "too many pings")
            return
        super().handle_ping()
        self._bound_buffer()

    def _bound_buffer(self) -> None:
        waiting = self.transport.get_write_buffer_size()
        if waiting > self.door.limits.max_buffer:
            logger.info(
                "%s cut: %d bytes wait for a client that never reads", self._where(), waiting
            )
            self.transport.abort()

    def _fail(self, code: int, reason: str) -> None:
        """Close for a client's protocol error (RFC 6455 §7.1.7)."""
        self.conn.fail(code, reason)
        self.handle_parser_exception()

    def handle_parser_exception(self) -> None:
        """uvicorn's, but the connection lingers: the client reads why it was closed."""
        if self.close_sent:
            return
        sent = self.conn.close_sent
        code, reason = (sent.code, sent.reason) if sent else (1006, "")
        logger.info("%s closed %d %s", self._where(), code, reason)  # no traceback: not our bug
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        cast(_Lingering, self.transport).close_after_peer()

    def send_receive_event_to_app(self) -> None:
        # uvicorn 0.55 logs invalid UTF-8 with logger.exception(): decode it here first.
        if self.curr_msg_data_type == "text" and not self.close_sent:
            data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
            try:
                text = data.decode()
            except UnicodeDecodeError:
                self.frames = []
                self._fail(1007, "invalid UTF-8")  # RFC 6455 §8.1
                return
            self.frames = []
            self.queue.put_nowait({"type": "websocket.receive", "text": text})
            if not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()
            return
        super().send_receive_event_to_app()


class Protocols(TypedDict):
    """uvicorn options ``http`` and ``ws``: protocol classes."""

    http: type[Http]
    ws: type[WebSocket]


def protocols(limits: Limits | None = None, clock: Clock = time.monotonic) -> Protocols:
    """uvicorn options ``http`` and ``ws``: its protocols, bounded by ``limits``.

    ``uvicorn.Config(app, **protocols(Limits(request_timeout=5)))``. Each call makes
    classes of their own, for one server: they share its connection count. Without
    ``max_connections``, it raises this process's soft open-file limit to the hard one
    and caps connections below it.
    """
    door = _Door(limits or Limits(), clock)
    http = type("BoundedHttp", (Http,), {"door": door})
    ws = type("BoundedWebSocket", (WebSocket,), {"door": door})
    return {"http": http, "ws": ws}
