"""Hypercorn and Granian, started in the kernel the way ``serve()`` starts uvicorn.

``serve_hypercorn(app)`` and ``serve_granian(app)`` run the same ASGI app on another
server, each on an event loop of its own in a background thread, and return once it
accepts connections. The handles answer like ``serve()``'s (``.url``, ``.ws_url()``,
``.logs``, ``.run(coro)``, ``.stop()``); serving again under the same ``name`` replaces
the old server, and ``stop_all()`` stops them with the rest.

Hypercorn (pure Python, on asyncio) speaks HTTP/1.1 and HTTP/2, in clear text too (a
client that starts with HTTP/2's preface gets HTTP/2), and WebSockets over both
(RFC 8441). Granian is written in Rust (hyper and tokio); its *embedded* server, which
runs the app on the caller's event loop, is what fits in a kernel, and Granian logs
that it is experimental.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import os
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

from ws_lessons.proxies import LOOPBACK
from ws_lessons.server import lifecycle
from ws_lessons.server.background import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    Background,
    ServerError,
    bind,
    close_loop,
)
from ws_lessons.server.logs import LOG_LINES_KEPT

__all__ = ["OtherServer", "serve_granian", "serve_hypercorn"]

GRACE = 1.0  # seconds open connections get to close when the server stops
RUST_THREADS_TIMEOUT = 3.0  # seconds the last Granian to stop waits for its Rust threads
_lock = threading.Lock()
_formatter = logging.Formatter("%(levelname)-7s %(name)s: %(message)s")


class _Keep(logging.Handler):
    """Keeps the records of one server's loggers, for ``.logs``."""

    def __init__(self) -> None:
        super().__init__()
        self.records: collections.deque[logging.LogRecord] = collections.deque(
            maxlen=LOG_LINES_KEPT
        )

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class OtherServer(Background):
    """A handle on a server started by :func:`serve_hypercorn` or :func:`serve_granian`."""

    software = "?"

    def __init__(self, name: str, app: Any, sock: socket.socket, tls: tuple[str, str] | None):
        super().__init__(name, sock)
        self.app = app
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._keep = _Keep()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self._ready.is_set() and self._error is None

    @property
    def logs(self) -> list[str]:
        """The server's log lines, oldest first."""
        return [_formatter.format(record) for record in self._keep.records]

    def ws_url(self, path: str = "/") -> str:
        scheme = "wss" if self.tls else "ws"
        return f"{scheme}://{self.host}:{self.port}/{path.lstrip('/')}"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{self.software} {self.name!r} {state} at {self.url}>"

    # -- the server thread -------------------------------------------------------------------

    async def _serve(self) -> None:
        raise NotImplementedError

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        asyncio.get_running_loop().set_exception_handler(self._loop_error)
        await self._serve()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """An error no code caught on the server's loop: into ``.logs``, not the notebook."""
        error = context.get("exception")
        message = context.get("message", "")
        while isinstance(error, BaseExceptionGroup):  # Hypercorn's task groups nest them
            error = error.exceptions[0]
        if error is not None:
            message += f": {type(error).__name__}: {error}"
        self._keep.emit(
            logging.makeLogRecord(
                {
                    "name": self.software.lower(),
                    "msg": message,
                    "levelno": logging.ERROR,
                    "levelname": "ERROR",
                }
            )
        )

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()
            close_loop(self._loop)

    def _start(self) -> None:
        lifecycle.track(self)
        self._thread.start()
        try:
            if not self._ready.wait(START_TIMEOUT):
                raise ServerError(f"{self.software} {self.name!r} did not start in time")
            if self._error is not None:
                raise ServerError(f"{self.software} {self.name!r} failed: {self._error!r}")
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server and end its connections. Safe to call twice."""
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                self._loop.call_soon_threadsafe(self._signal_stop)
            self._thread.join(timeout)
        self._release()

    def _signal_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()


class Hypercorn(OtherServer):
    software = "Hypercorn"

    async def _serve(self) -> None:
        from hypercorn.asyncio.run import worker_serve
        from hypercorn.config import Config, Sockets
        from hypercorn.utils import wrap_app

        config = Config()
        config.graceful_timeout = GRACE
        logger = logging.getLogger(f"hypercorn.{self.name}")
        logger.propagate = False
        logger.handlers = [self._keep]
        logger.setLevel(logging.INFO)
        config.errorlog = logger
        config.accesslog = logger
        if self.tls:
            config.certfile, config.keyfile = self.tls
        sockets = Sockets(
            secure_sockets=[self._socket] if self.tls else [],
            insecure_sockets=[] if self.tls else [self._socket],
            quic_sockets=[],
        )
        assert self._stop is not None
        stop = self._stop

        async def until_stopped() -> None:
            self._ready.set()  # worker_serve awaits this once it listens
            await stop.wait()

        await worker_serve(
            wrap_app(self.app, config.wsgi_max_body_size, None),
            config,
            sockets=sockets,
            shutdown_trigger=until_stopped,
        )


def _native_threads() -> set[int]:
    """The ids of this process's threads, Python's and others' (Linux only; else empty)."""
    with contextlib.suppress(OSError):
        return {int(tid) for tid in os.listdir("/proc/self/task")}
    return set()


_granians: set[Granian] = set()  # running, so that the last one to stop waits for threads
_threads_before_granian: set[int] = set()


class Granian(OtherServer):
    software = "Granian"

    def _start(self) -> None:
        with _lock:
            if not _granians:
                _threads_before_granian.clear()
                _threads_before_granian.update(_native_threads())
            _granians.add(self)
        super()._start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server; the last Granian to stop waits (a few seconds at most) for the
        Rust threads to end.

        They end a moment after the servers: a process that exits in between aborts with
        "panic in a function that cannot unwind" (crashes on exit of the embedded server:
        granian issue #693).
        """
        super().stop(timeout)
        with _lock:
            _granians.discard(self)
            if _granians:
                return
        deadline = time.monotonic() + RUST_THREADS_TIMEOUT
        while time.monotonic() < deadline:
            python = {thread.native_id for thread in threading.enumerate()}
            if not _native_threads() - _threads_before_granian - python:
                break
            time.sleep(0.01)

    async def _serve(self) -> None:
        from granian.constants import Interfaces
        from granian.log import LogLevels
        from granian.server.embed import Server

        options: dict[str, Any] = {}
        if self.tls:
            options = {"ssl_cert": Path(self.tls[0]), "ssl_key": Path(self.tls[1])}
        server = Server(
            self.app,
            address=self.host,
            port=self.port,
            interface=Interfaces.ASGI,
            log_level=LogLevels.warning,
            **options,
        )
        server.workers_kill_timeout = math.ceil(GRACE)  # whole seconds
        # Granian sets up its logger (shared by every Granian in the process) as it starts.
        logging.getLogger("_granian").handlers = [self._keep]
        assert self._stop is not None
        serving = asyncio.ensure_future(server.serve())
        stop = asyncio.ensure_future(self._stop.wait())
        # Granian binds its own socket (ours only held the port): wait until it accepts.
        for _ in range(int(START_TIMEOUT / 0.01)):
            if serving.done():
                serving.result()  # raises what stopped it
                raise ServerError("Granian stopped before it accepted a connection")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            break
        else:
            server.signal_handler_interrupt()
            await serving
            raise ServerError(f"Granian did not accept connections within {START_TIMEOUT} s")
        self._ready.set()
        await asyncio.wait([serving, stop], return_when=asyncio.FIRST_COMPLETED)
        if not serving.done():
            server.signal_handler_interrupt()
            await serving
        serving.result()


def _tls_pair(certfile: str | Path | None, keyfile: str | Path | None) -> tuple[str, str] | None:
    if (certfile is None) != (keyfile is None):
        raise ValueError("certfile and keyfile go together")
    if certfile is None or keyfile is None:
        return None
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    return str(certfile), str(keyfile)


def serve_hypercorn(
    app: Any,
    *,
    port: int = 0,
    host: str = LOOPBACK,
    name: str | None = None,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
    send_buffer: int | None = None,
) -> Hypercorn:
    """Start ``app`` with Hypercorn in the background; return once it accepts connections.

    With ``certfile`` and ``keyfile`` it serves ``https://`` and offers HTTP/2 by ALPN;
    without, clear text, where a client may start HTTP/2 with its preface (h2c).
    ``send_buffer``: as :func:`ws_lessons.server.serve` takes it.
    """
    tls = _tls_pair(certfile, keyfile)
    lifecycle.make_room(OtherServer.kind, name, host, port)
    sock = bind(host, port, send_buffer)
    handle = Hypercorn(name or f"hypercorn-{sock.getsockname()[1]}", app, sock, tls)
    handle._start()
    return handle


def serve_granian(
    app: Any,
    *,
    port: int = 0,
    host: str = LOOPBACK,
    name: str | None = None,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
) -> Granian:
    """Start ``app`` with Granian's embedded server in the background; return once it accepts.

    Granian binds the port itself: a free one is picked for ``port=0``.
    """
    tls = _tls_pair(certfile, keyfile)
    lifecycle.make_room(OtherServer.kind, name, host, port)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    # Holds the port (bound, never listening) until Granian binds it too, beside it.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    handle = Granian(name or f"granian-{sock.getsockname()[1]}", app, sock, tls)
    handle._start()
    return handle
