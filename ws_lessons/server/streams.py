"""A raw TCP server in the background: ``serve_streams(handler)`` for code that speaks bytes.

The counterpart of :func:`~ws_lessons.server.serve` for a lesson that writes the protocol
itself, over :func:`asyncio.start_server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

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

__all__ = ["StreamHandler", "StreamServer", "serve_streams"]

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class StreamServer(Background):
    """A handle on a plain TCP server started by :func:`serve_streams`."""

    def __init__(self, name: str | None, handler: StreamHandler, sock: socket.socket) -> None:
        super().__init__(name, sock)
        self._handler = handler
        self._server: asyncio.Server | None = None
        self.logs: list[str] = []
        """What went wrong in the handler, one line per exception it raised, oldest first."""

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self._server is not None and self._server.is_serving()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<StreamServer {self.name!r} {state} at {self.url}>"

    def _run(self) -> None:
        self._loop.run_forever()
        close_loop(self._loop)  # cancels the handlers still running, on this thread

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._handler(reader, writer)
        except asyncio.CancelledError:
            pass  # the server is stopping: the connection ends below
        except Exception as exc:  # kept for the learner to read, as uvicorn logs an app's error
            self.logs.append(f"ERROR    the handler raised {type(exc).__name__}: {exc}")
            del self.logs[:-LOG_LINES_KEPT]
        finally:
            writer.close()  # whatever the handler did, or forgot to do

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop listening and end every connection (its handler is cancelled). Safe twice."""
        if self._thread.is_alive():

            async def close() -> None:
                if self._server is not None:
                    self._server.close()

            with contextlib.suppress(ServerError, RuntimeError, TimeoutError):
                self.run(close(), timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._release()


def serve_streams(
    handler: StreamHandler,
    *,
    port: int = 0,
    host: str = LOOPBACK,
    name: str | None = None,
) -> StreamServer:
    """Serve ``handler(reader, writer)`` for each TCP connection, on a loop in the background.

    The counterpart of :func:`serve` for code that speaks the protocol itself, over
    :func:`asyncio.start_server`: same rules for ``port``, ``name`` and running a cell again
    (see :mod:`.lifecycle`).
    """
    if not callable(handler):
        raise TypeError(f"pass your handler function itself, not {handler!r}")
    lifecycle.make_room(StreamServer.kind, name, host, port)
    sock = bind(host, port)
    handle = StreamServer(name, handler, sock)
    lifecycle.track(handle)
    handle._thread.start()
    try:
        listen = asyncio.start_server(handle._connection, sock=sock)
        handle._server = handle.run(listen, START_TIMEOUT)
    except BaseException:
        handle.stop()
        raise
    return handle
