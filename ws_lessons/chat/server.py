"""Serving the chat as a program: uvicorn that drains, in one process or several.

:func:`run` serves :func:`~.app.create_app` with :class:`DrainingServer` until Ctrl-C or
SIGTERM, then closes every chat connection with 1001 Going Away, in batches.

With ``workers`` above 1, the parent process binds the port, as ``uvicorn --workers``
does, and a supervisor of our own starts each worker on it. Why not uvicorn's own
(``uvicorn.supervisors.Multiprocess``, uvicorn 0.55)? It replaces *every* worker that
dies, and it runs uvicorn's ``Server``, not ours. The chat wants two different fates:
a worker stopped by SIGTERM drained its clients on purpose (a rolling restart, one
worker at a time) and is replaced; a worker that died otherwise (a crash, SIGKILL) stops
them all, because half a chat loses the messages of the clients the dead worker held,
and a process manager then starts the whole chat again. ``tests/test_workers.py`` checks
both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import secrets
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from ws_lessons.limits import (
    PROTOCOLS,
    HideQueryValues,
    Limits,
    protocols,
    quiet_accept_errors,
    raise_open_files,
)

from . import ops
from .app import create_app
from .broker import Broker
from .hub import Hub
from .settings import Settings
from .sqlite_broker import SqliteBroker

__all__ = ["DrainingServer", "run", "uvicorn_options"]

logger = logging.getLogger("uvicorn.error")  # beside the server's own lines

HANDSHAKE_WAIT = 1.0
"""How long a stop waits for handshakes under way before uvicorn closes them, in seconds."""


class DrainingServer(uvicorn.Server):
    """uvicorn, but a stop drains the chat: clients hear 1001 Going Away, in batches.

    On SIGTERM or Ctrl-C, readiness fails at once (``/readyz`` 503) and a new WebSocket is
    closed with 1001 right after its handshake; the open ones are closed in batches spread
    over the first half of ``grace`` seconds (:meth:`Hub.close_all`); then uvicorn stops.
    uvicorn itself would close them all at once with 1012 Service Restart. ``stopped``
    runs once the server has stopped, e.g. to close a history file (uvicorn then
    re-raises a SIGTERM it caught, which ends the process at once).
    """

    def __init__(
        self,
        config: uvicorn.Config,
        hub: Hub,
        grace: float = 0,
        stopped: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(config)
        self.hub = hub
        self.grace = grace
        self.stopped = stopped

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.hub.closing = True  # not ready from this instant, before the loop notices
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        quiet_accept_errors(asyncio.get_running_loop())  # one line per burst, no traceback
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        count, started = sum(map(len, self.hub.rooms.values())), time.monotonic()
        logger.info("Draining: closing %d connections over %g s", count, self.grace / 2)
        await self.hub.close_all(grace=self.grace)
        logger.info("Drained in %.2f s", time.monotonic() - started)
        for server in self.servers:  # no new connection from here on
            server.close()
        await self._finish_handshakes(timeout=HANDSHAKE_WAIT)
        await super().shutdown(sockets)
        self.stopped()

    async def _finish_handshakes(self, timeout: float) -> None:
        """Let each handshake under way get the app's answer (1001, as the hub is closing).

        uvicorn's own shutdown answers a handshake the app has not accepted yet with a 500;
        the app's accept then meets a connection answered already, which uvicorn's
        websockets-sansio protocol turns into an ``AssertionError`` (uvicorn 0.55).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
            getattr(connection, "handshake_complete", True) is False
            and not connection.transport.is_closing()
            for connection in self.server_state.connections
        ):
            await asyncio.sleep(0.01)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The options of ``uvicorn.Config`` that ``settings`` set (the app and protocols aside)."""
    grace = settings.grace
    return {
        "host": settings.host,
        "port": settings.port,
        "ws_max_size": settings.max_size,
        "ws_ping_interval": settings.ping_interval,
        "ws_ping_timeout": settings.ping_timeout,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        # then cut clients that never read their close frame
        "timeout_graceful_shutdown": min(2.0, grace / 5) if grace > 0 else 2.0,
        "log_config": ops.log_config(settings.log_format),
        "loop": PROTOCOLS["loop"],  # the h11 and websockets protocols come from `limits`
    }


def run(settings: Settings | None = None, /, **changes: Any) -> None:
    """Serve the chat until Ctrl-C or SIGTERM, then close every chat connection with 1001.

    ``settings`` (:class:`~.settings.Settings`, changed by keyword as for
    :func:`~.app.create_app`) say what to serve and how; ``workers`` above 1 serve it
    in that many processes. The soft open-file limit is raised to the hard one and the
    connection cap set below it; the log shows ``?token=…`` instead of tokens.
    """
    settings = (settings or Settings()).but(**changes)
    # One secret for every worker, so that a token from one is good at the others.
    settings = settings.but(secret=settings.secret or secrets.token_urlsafe(32))
    if settings.workers == 1:
        _serve(settings)
    else:
        _supervise(settings)


def _supervise(settings: Settings) -> None:
    """Serve with ``settings.workers`` processes on one port, until SIGINT or SIGTERM."""
    # Like uvicorn --workers: the parent binds the port, each child accepts on it.
    sock = uvicorn.Config(None, **uvicorn_options(settings)).bind_socket()  # type: ignore[arg-type]
    spawn = multiprocessing.get_context("spawn")

    def worker() -> multiprocessing.process.BaseProcess:
        child = spawn.Process(target=_serve, args=(settings, sock), daemon=True)
        child.start()
        return child

    stopping: list[int] = []  # a flag a signal handler can set without taking a lock
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: stopping.append(signum))
    children = [worker() for _ in range(settings.workers)]
    # A worker that drained after a SIGTERM of its own is replaced; one that died otherwise
    # (a crash, SIGKILL) stops them all: a process manager then starts the chat again.
    while not stopping and all(c.exitcode in (None, -signal.SIGTERM) for c in children):
        time.sleep(0.2)
        for index, child in enumerate(children):
            if child.exitcode == -signal.SIGTERM and not stopping:
                logger.info("Worker %d drained and stopped: starting another", child.pid)
                children[index] = worker()
    for child in children:
        child.terminate()  # each worker then closes its clients with 1001, in batches
    for child in children:
        child.join(settings.grace + 5)


def _serve(settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve the chat in this process (on ``sock`` if given, else on its own port)."""
    broker: Broker | None = None
    file = (
        None if settings.history is None else SqliteBroker(settings.history, settings.history_size)
    )
    if settings.redis is not None:
        from .redis_broker import RedisBroker  # redis-py only for a chat that uses it

        broker = RedisBroker(settings.redis, settings.history_size)
    app = create_app(settings, broker=file or broker)
    before, after = raise_open_files()
    limits = Limits(request_timeout=settings.request_timeout, max_connections=settings.max_clients)
    bounded = protocols(limits)
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(HideQueryValues())
    options = uvicorn_options(settings)
    config = uvicorn.Config(app, **options, http=bounded["http"], ws=bounded["ws"])
    cap = vars(bounded["http"])["door"].cap
    logger.info(
        "open files: soft limit %s (was %s); at most %d connections, then 503", after, before, cap
    )
    server = DrainingServer(config, app.state.hub, settings.grace, file.close if file else _nothing)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once stopped
        server.run(sockets=None if sock is None else [sock])


def _nothing() -> None:
    pass
