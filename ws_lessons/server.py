"""Run an ASGI app inside the current process: a notebook kernel, a script or a test.

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
import atexit
import collections
import contextlib
import errno
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Protocol, Self, TypeVar

import uvicorn
from uvicorn.importer import ImportFromStringError, import_from_string

from ws_lessons.exceptions import WsLessonsError
from ws_lessons.limits import PROTOCOLS, HideQueryValues, Limits, protocols, quiet_accept_errors
from ws_lessons.proxies import LOOPBACK

__all__ = [
    "RunningServer",
    "ServerError",
    "StreamServer",
    "running",
    "serve",
    "serve_streams",
    "stop_all",
]

T = TypeVar("T")

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
GRACE = 2.0  # seconds open connections get to close when the server stops
LOG_LINES_KEPT = 1000
# asyncio's too: a server's loop warns there when the app writes to a connection already lost
# ("socket.send() raised exception."), which belongs in that server's log, not the kernel's.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "asyncio")


class ServerError(WsLessonsError, RuntimeError):
    """The server could not start (busy port, failing lifespan, bad app)."""


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
    """Listens on ``sock`` from an event loop of its own, run by :meth:`_run` in a thread."""

    kind = "server"  # names the thread: "ws_lessons <kind>: <name>"

    def __init__(self, name: str, sock: socket.socket) -> None:
        self.name = name
        self.host, self.port = sock.getsockname()[:2]
        self._socket = sock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, name=f"ws_lessons {self.kind}: {name}", daemon=True
        )

    def _run(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        """Once the thread has ended: free the port, the log route and the stop_all() entry."""
        self._socket.close()
        _log_router.destinations.pop(id(self._thread), None)
        forget(self)

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


class RunningServer(Background):
    """A handle on a server started by :func:`serve`. Use it as a context manager to stop it."""

    def __init__(self, name: str, uvicorn_server: _Uvicorn, sock: socket.socket) -> None:
        super().__init__(name, sock)
        self._server = uvicorn_server
        self._records: collections.deque[logging.LogRecord] = collections.deque(
            maxlen=LOG_LINES_KEPT
        )
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
        return _format(self._records)

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
        _log_router.attach(self._thread, self._records)
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
            reason = "\n".join(_format(problems)) or repr(self._error)
            raise ServerError(f"server {self.name!r} failed to start:\n{reason}")


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the app left running on ``loop``, then close it."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


_formatter = logging.Formatter("%(levelname)-7s %(name)s: %(message)s")


def _format(records: Iterable[logging.LogRecord]) -> list[str]:
    return [line for record in records for line in _formatter.format(record).splitlines()]


class _LogRouter(logging.Filter):
    """Send uvicorn's records from each server thread to that server's log, and nowhere else.

    Records from other threads pass through untouched, so a uvicorn started by other
    means logs as usual.
    """

    def __init__(self) -> None:
        super().__init__()
        self.destinations: dict[int, collections.deque[logging.LogRecord]] = {}
        for name in UVICORN_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def attach(
        self, thread: threading.Thread, records: collections.deque[logging.LogRecord]
    ) -> None:
        # Called before thread.start(), when the ident is not known yet: key on the object.
        self.destinations[id(thread)] = records
        for name in UVICORN_LOGGERS:  # last, so that filters added since (redaction) run first
            logging.getLogger(name).removeFilter(self)
            logging.getLogger(name).addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        records = self.destinations.get(id(threading.current_thread()))
        if records is None:
            return True
        records.append(record)
        return False


_log_router = _LogRouter()


class Stoppable(Protocol):
    name: str

    def stop(self) -> None: ...


_started: list[Stoppable] = []  # servers, taps, byte counters, services: what stop_all() stops
_lock = threading.Lock()


def stop_named(kind: type, name: str) -> None:
    """Stop what was started of ``kind`` under ``name``: a cell is run again."""
    with _lock:
        previous = [thing for thing in _started if isinstance(thing, kind) and thing.name == name]
    for thing in previous:
        thing.stop()


def track(thing: Stoppable) -> None:
    """Note ``thing``, which has started, for :func:`stop_all`."""
    with _lock:
        _started.append(thing)


def forget(thing: Stoppable) -> None:
    """Drop ``thing``, which has stopped, from what :func:`stop_all` stops."""
    with _lock:
        if thing in _started:
            _started.remove(thing)


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port``, for an asyncio server to listen on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on sockets that say they are TCP, and accepted sockets inherit this one's protocol.
    # With Nagle on, a response body waits ~40 ms behind its headers.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


def serve(
    app: Any,
    *,
    port: int = 0,
    host: str = LOOPBACK,
    name: str | None = None,
    before_stop: Callable[[], Awaitable[object]] | None = None,
    limits: Limits | None = None,
    **uvicorn_options: Any,
) -> RunningServer:
    """Start ``app`` with uvicorn in the background; return once it accepts connections.

    ``app`` is an ASGI app or an import string such as ``"ws_lessons.chat:app"``.
    ``port=0`` picks a free port (read it from the handle). Serving again under the
    same ``name``, or on a fixed port one of these servers holds, stops the old
    server first, so a notebook cell can be run again. ``before_stop`` is awaited on
    the server's loop when it stops, before uvicorn closes the remaining connections.
    ``limits`` (a :class:`~ws_lessons.limits.Limits`) adds the bounds uvicorn lacks: a
    request deadline, a head size, a connection cap, a ping budget, a write-buffer bound,
    and hides ``?token=`` values in the log. Extra keyword arguments go to
    ``uvicorn.Config`` (for example ``ws_max_size=1024``).
    """
    if isinstance(app, str):
        try:
            app = import_from_string(app)
        except (ImportError, ImportFromStringError) as exc:
            raise ServerError(f"cannot import the app {app!r}: {exc}") from exc
    _replace(name, host, port)
    options: dict[str, Any] = {
        "log_level": "info",
        "lifespan": "auto",
        "timeout_graceful_shutdown": GRACE,
        **PROTOCOLS,
    }
    if limits is not None:
        options.update(protocols(limits))
        hide_tokens()
    options.update(uvicorn_options)
    config = uvicorn.Config(app, log_config=None, **options)
    sock = bind(host, port)
    if name is None:
        name = f"server-{sock.getsockname()[1]}"
    handle = RunningServer(name, _Uvicorn(config, before_stop), sock)
    track(handle)
    handle._start()
    return handle


_hidden = HideQueryValues()


def hide_tokens() -> None:
    """From now on, uvicorn's log lines in this process show ``?token=…``, not the token."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(_hidden)  # a filter is added once, however often
        logging.getLogger(name).removeFilter(_log_router)
        logging.getLogger(name).addFilter(_log_router)


def _replace(name: str | None, host: str, port: int) -> None:
    """Stop the server of that name, or the one on that fixed port: a cell is run again."""
    replaced = [
        server
        for server in running()
        if server.name == name or (port and (server.host, server.port) == (host, port))
    ]
    for server in replaced:
        server.stop()


StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class StreamServer(Background):
    """A handle on a plain TCP server started by :func:`serve_streams`."""

    def __init__(self, name: str, handler: StreamHandler, sock: socket.socket) -> None:
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
    :func:`asyncio.start_server`: same rules for ``port``, ``name`` and running a cell again.
    """
    if not callable(handler):
        raise TypeError(f"pass your handler function itself, not {handler!r}")
    _replace(name, host, port)
    sock = bind(host, port)
    handle = StreamServer(name or f"server-{sock.getsockname()[1]}", handler, sock)
    track(handle)
    handle._thread.start()
    try:
        listen = asyncio.start_server(handle._connection, sock=sock)
        handle._server = handle.run(listen, START_TIMEOUT)
    except BaseException:
        handle.stop()
        raise
    return handle


def started() -> list[Stoppable]:
    """What was started in this process and not stopped yet, oldest first."""
    with _lock:
        return list(_started)


def running() -> list[RunningServer | StreamServer]:
    """The servers started by :func:`serve` and :func:`serve_streams` still running."""
    return [thing for thing in started() if isinstance(thing, RunningServer | StreamServer)]


def stop_all() -> None:
    """Stop everything started in this process: servers, taps, byte counters, services."""
    for thing in started():  # oldest first: a server, then the tap in front of it
        thing.stop()


atexit.register(stop_all)
