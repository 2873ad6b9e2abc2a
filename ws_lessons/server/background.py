"""The base of every server the package runs in a kernel: a socket, a thread, its own loop.

A Jupyter kernel already runs an event loop in its main thread, so a server gets an event
loop of its own in a background thread; the calling thread stays free for a client in the
same cell, async or blocking.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from collections.abc import Coroutine
from typing import Any, Self, TypeVar

from ws_lessons.exceptions import WsLessonsError
from ws_lessons.server import lifecycle

__all__ = [
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "Background",
    "Listening",
    "ServerError",
    "bind",
    "close_loop",
]

T = TypeVar("T")

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class ServerError(WsLessonsError, RuntimeError):
    """The server could not start (busy port, failing lifespan, bad app)."""


class Listening:
    """Something listening on ``host``:``port``, and the URLs a client uses to reach it."""

    host: str
    port: int
    scheme = "http"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8000``."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def ws_url(self, path: str = "/") -> str:
        """The WebSocket URL of ``path``, e.g. ``ws://127.0.0.1:8000/ws``."""
        return f"ws://{self.host}:{self.port}/{path.lstrip('/')}"

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Background(Listening):
    """Listens on ``sock`` from an event loop of its own, run by :meth:`_run` in a thread.

    ``name`` defaults to ``"<kind>-<port>"``. The subclass starts the thread, then calls
    :func:`~ws_lessons.server.lifecycle.track`; :meth:`_release` undoes both.
    """

    kind = "server"  # names the thread: "ws_lessons <kind>: <name>"

    def __init__(self, name: str | None, sock: socket.socket) -> None:
        self.host, self.port = sock.getsockname()[:2]
        self.name = name or f"{self.kind}-{self.port}"
        self._socket = sock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, name=f"ws_lessons {self.kind}: {self.name}", daemon=True
        )

    def _run(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        """Once the thread has ended: free the port and drop the thing from the started."""
        self._socket.close()
        lifecycle.forget(self)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 10.0) -> T:
        """Run ``coro`` on the server's event loop and return its result.

        Use it to read or change state that lives on that loop (queues, connected
        WebSockets) from a cell or a test.
        """
        if not self._thread.is_alive():
            coro.close()
            raise ServerError(f"{self.kind} {self.name!r} is not running")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("run() was called from the server's own loop: await the coroutine")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"the coroutine did not finish within {timeout} s") from None


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the app left running on ``loop``, then close it.

    A few rounds: a task being cancelled may still start another (a connection accepted in
    the same turn of the loop starts its handler), which must not be left unstarted.
    """
    for _round in range(3):
        tasks = asyncio.all_tasks(loop)
        if not tasks:
            break
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


def bind(host: str, port: int, send_buffer: int | None = None) -> socket.socket:
    """A TCP socket bound to ``host``:``port``, for an asyncio server to listen on.

    ``send_buffer`` fixes the kernel send buffer (``SO_SNDBUF``, in bytes) of each connection
    it accepts (they inherit it; Linux doubles the value, socket(7)) instead of letting it
    grow, up to 4 MiB on loopback.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on sockets that say they are TCP, and accepted sockets inherit this one's protocol.
    # With Nagle on, a response body waits ~40 ms behind its headers.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerError(
                f"port {port} on {host} is already in use by another program. "
                "Pick another port, or pass port=0 to get a free one."
            ) from None
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock
