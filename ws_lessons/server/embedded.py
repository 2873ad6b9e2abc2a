"""uvicorn, embedded: ``serve(app)`` runs an ASGI app in the background of a kernel.

``serve(app)`` starts uvicorn on its own event loop in a background thread and
returns once the server accepts connections. The calling thread stays free, so a
client in the same cell (async, or synchronous like httpx and
``websockets.sync.client``) can talk to it without deadlocking.

Why a thread and not ``uvicorn.run()``: a Jupyter kernel already runs an event loop
in its main thread, so ``uvicorn.run()`` (which calls ``asyncio.run()``) refuses to
start there, and even if it started it would block the cell and take over the
kernel's Ctrl-C handler. uvicorn only installs signal handlers in the main thread,
so a server in another thread leaves the kernel's SIGINT alone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from uvicorn.importer import ImportFromStringError, import_from_string

from ws_lessons.limits import PROTOCOLS, Limits, protocols, quiet_accept_errors
from ws_lessons.proxies import LOOPBACK
from ws_lessons.server import lifecycle
from ws_lessons.server import logs as log_routing
from ws_lessons.server.background import (
    START_TIMEOUT,
    STOP_TIMEOUT,
    Background,
    ServerError,
    bind,
    close_loop,
)

__all__ = ["GRACE", "RunningServer", "serve"]

GRACE = 2.0  # seconds open connections get to close when the server stops


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, told apart from its siblings and quick to start and stop."""

    def __init__(
        self, config: uvicorn.Config, before_stop: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        super().__init__(config)
        self.before_stop = before_stop
        self.ready = threading.Event()
        self.wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.wake = asyncio.Event()
        quiet_accept_errors(asyncio.get_running_loop())  # one line per burst, no traceback
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    async def main_loop(self) -> None:
        # uvicorn polls `should_exit` every 100 ms; waking on an event makes stop() prompt
        # while keeping uvicorn's once-a-tick housekeeping (Date header, request limits).
        assert self.wake is not None
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.before_stop is not None and not self.force_exit:
            # e.g. close WebSockets with 1001 Going Away, before uvicorn's 1012 Service Restart
            await self.before_stop()
        if self.server_state.connections or self.server_state.tasks:
            # uvicorn's graceful drain, which gives up after timeout_graceful_shutdown
            await super().shutdown(sockets=sockets)
            # A peer that stopped reading never takes its close frame: cut it.
            for connection in list(self.server_state.connections):
                connection.transport.abort()
            return
        # Nothing to drain: skip uvicorn's fixed 100 ms grace period.
        logging.getLogger("uvicorn.error").info("Shutting down")
        for server in self.servers:
            server.close()
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


class RunningServer(Background):
    """A handle on a server started by :func:`serve`. Use it as a context manager to stop it."""

    def __init__(self, name: str | None, uvicorn_server: _Uvicorn, sock: socket.socket) -> None:
        super().__init__(name, sock)
        self._server = uvicorn_server
        self._records: log_routing.Records = collections.deque(maxlen=log_routing.LOG_LINES_KEPT)
        self._error: BaseException | None = None

    # -- state -------------------------------------------------------------------------------

    @property
    def app(self) -> Any:
        """The ASGI app this server runs."""
        return self._server.config.app

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self._server.started and not self._server.should_exit

    @property
    def logs(self) -> list[str]:
        """Log lines the server wrote (uvicorn's own and access lines), oldest first."""
        return log_routing.format_records(self._records)

    def transports(self) -> list[asyncio.Transport]:
        """The transports of the open connections; read them on the server's loop (``run``)."""
        return [connection.transport for connection in self._server.server_state.connections]

    def print_logs(self, last: int | None = None) -> None:
        """Print the server's log lines, or only the ``last`` few."""
        lines = self.logs if last is None else self.logs[-last:]
        print("\n".join(lines) if lines else "(no log lines yet)")

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningServer {self.name!r} {state} at {self.url}>"

    # -- control -----------------------------------------------------------------------------

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server: close the port, end connections, run the lifespan shutdown.

        Safe to call twice. Open connections get ``timeout_graceful_shutdown`` seconds (2 by
        default) to close, then they are cut; after ``timeout`` seconds the server is forced.
        """
        if self._thread.is_alive():
            self._server.should_exit = True
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                self._loop.call_soon_threadsafe(self._wake)
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        log_routing.detach(self._thread)
        self._release()

    # -- the server thread -------------------------------------------------------------------

    def _wake(self) -> None:
        if self._server.wake is not None:
            self._server.wake.set()

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # uvicorn calls sys.exit() when startup fails
            self._error = exc
        finally:
            self._server.ready.set()
            close_loop(self._loop)

    def _start(self) -> None:
        log_routing.attach(self._thread, self._records)
        self._thread.start()
        try:
            if not self._server.ready.wait(START_TIMEOUT):
                raise ServerError(f"server {self.name!r} did not start within {START_TIMEOUT} s")
        except BaseException:  # including KeyboardInterrupt: leave no half-started server
            self.stop()
            raise
        if not self._server.started or self._server.should_exit:
            self.stop()
            problems = [record for record in self._records if record.levelno >= logging.WARNING]
            reason = "\n".join(log_routing.format_records(problems)) or repr(self._error)
            raise ServerError(f"server {self.name!r} failed to start:\n{reason}")


def serve(
    app: Any,
    *,
    port: int = 0,
    host: str = LOOPBACK,
    name: str | None = None,
    before_stop: Callable[[], Awaitable[object]] | None = None,
    limits: Limits | None = None,
    send_buffer: int | None = None,
    **uvicorn_options: Any,
) -> RunningServer:
    """Start ``app`` with uvicorn in the background; return once it accepts connections.

    ``app`` is an ASGI app or an import string such as ``"ws_lessons.chat:app"``.
    ``port=0`` picks a free port (read it from the handle). Serving again under the
    same ``name``, or on a fixed port one of these servers holds, stops the old
    server first, so a notebook cell can be run again (see :mod:`.lifecycle`).
    ``before_stop`` is awaited on the server's loop when it stops, before uvicorn closes
    the remaining connections.
    ``limits`` (a :class:`~ws_lessons.limits.Limits`) adds the bounds uvicorn lacks: a
    request deadline, a head size, a connection cap, a ping budget, a write-buffer bound,
    and hides ``?token=`` values in the log. ``send_buffer`` fixes each connection's
    kernel send buffer (see :func:`.background.bind`): a client that stops reading is felt
    after kilobytes, not megabytes. Extra keyword arguments go to
    ``uvicorn.Config`` (for example ``ws_max_size=1024``).
    """
    if isinstance(app, str):
        try:
            app = import_from_string(app)
        except (ImportError, ImportFromStringError) as exc:
            raise ServerError(f"cannot import the app {app!r}: {exc}") from exc
    lifecycle.make_room(RunningServer.kind, name, host, port)
    options: dict[str, Any] = {
        "log_level": "info",
        "lifespan": "auto",
        "timeout_graceful_shutdown": GRACE,
        **PROTOCOLS,
    }
    if limits is not None:
        options.update(protocols(limits))
        log_routing.hide_tokens()
    options.update(uvicorn_options)
    config = uvicorn.Config(app, log_config=None, **options)
    sock = bind(host, port, send_buffer)
    handle = RunningServer(name, _Uvicorn(config, before_stop), sock)
    lifecycle.track(handle)
    handle._start()
    return handle
