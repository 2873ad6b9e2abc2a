"""The chat application: HTTP routes, the WebSocket endpoint, and a standalone runner.

The endpoint's defences, in the order a connection meets them:

0. Before the app sees anything, when served by :func:`run` (see :mod:`ws_lessons.limits`):
   a connection cap (503), a deadline for the request (408), a head size (431);
   afterwards a ping budget (1008) and a bound on bytes waiting for the client.
1. Before the handshake is accepted (see :mod:`.guard`): the ``Origin`` is allowed and
   the token is genuine and unexpired, else the handshake is refused with HTTP 403.
2. Right after accepting: the server is not shutting down (else close 1001 at once, so
   that the client comes back later) and the user has a free connection slot (else
   close 1008 with a reason, which a browser can read, unlike a refused handshake).
3. Each frame: uvicorn closes with 1009 a frame bigger than ``ws_max_size``; then the
   per-connection token bucket (``rate_limited``), then :func:`~.models.parse`, which
   turns anything that is not a valid message into an error reply.

The wire contract is written out in ``docs/chat-contract.md``. Beyond its core:
``{"type": "ping"}`` gets ``{"type": "pong"}``; ``POST /token`` also sets the token as
the ``chat_token`` cookie (HttpOnly, SameSite=Strict), which the WebSocket accepts when
there is no ``?token=``;
a user may hold at most ``max_connections`` connections at once (one more is closed
with 1008); the default Origin policy is "the server's own address only" (never the
``Host`` header); ``POST /token`` reads at most 1 KiB (413); during shutdown, a new
connection is closed with 1001 right after it is accepted.

Operators' routes (see :mod:`.ops`): ``GET /livez``, ``GET /readyz`` (old name
``/healthz``) and ``GET /metrics``.

With a shared broker (Redis), while Redis is unreachable: ``GET /readyz`` answers 503
with the reason, so that a load balancer sends users elsewhere; connected clients are
closed with 1013 Try Again Later and the reason; a new connection is accepted and closed
the same way. Once the broker has reconnected, the chat serves again by itself.
"""

import asyncio
import contextlib
import logging
import multiprocessing
import secrets
import signal
import socket
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path as FilePath
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Path, Query, Request, Response, WebSocket
from fastapi.responses import HTMLResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ws_lessons.frames import CloseCode
from ws_lessons.limits import (
    PROTOCOLS,
    HideQueryValues,
    Limits,
    protocols,
    quiet_accept_errors,
    raise_open_files,
)
from ws_lessons.proxies import LOOPBACK

from . import ops, tokens
from .broker import KEEP_ROOMS, MAX_ROOMS, Broker, MemoryBroker, SharedBroker
from .guard import COOKIE, Guard
from .hub import SHUTTING_DOWN, Hub, Member
from .models import (
    NAME_LENGTH,
    NAME_PATTERN,
    Error,
    Ping,
    Pong,
    Say,
    TokenRequest,
    TokenResponse,
    parse,
)
from .page import page_for
from .ratelimit import ConnectionLimit, TokenBucket
from .redis_broker import UNAVAILABLE, UNREACHABLE, RedisBroker
from .sqlite_broker import SqliteBroker

logger = logging.getLogger("uvicorn.error")  # beside the server's own lines

MAX_BODY = 1024
"""Bytes in the body of ``POST /token`` (``{"user": "..."}`` needs about 50): 413 beyond."""

WORKERS_NEED_REDIS = (
    "--workers above 1 needs --redis URL: each worker process would keep its own rooms in "
    "its own memory, so users who reach different workers would not see each other."
)


def unavailable(broker: Broker) -> str | None:
    """Why ``broker`` cannot serve right now (Redis unreachable), or None."""
    return getattr(broker, "unavailable", None)


def create_app(
    *,
    secret: str | None = None,
    allowed_origins: Sequence[str] | None = None,
    max_text: int = 1000,
    history_size: int = 100,
    queue_size: int = 100,
    rate: float = 5,
    burst: int = 10,
    max_connections: int = 5,
    token_ttl: float = tokens.TOKEN_TTL,
    keep_rooms: float = KEEP_ROOMS,
    max_rooms: int = MAX_ROOMS,
    broker: Broker | None = None,
) -> FastAPI:
    """Build the chat app.

    - ``secret`` signs the tokens; a random one (tokens die with the process) if omitted.
    - ``allowed_origins``: browser origins allowed to connect besides the chat's own, e.g.
      ``["http://localhost:3000"]``; ``["*"]`` allows every origin. Clients that send no
      ``Origin`` header (programs, not browsers) are always allowed.
    - ``max_text``: the longest ``say`` text, in characters.
    - ``history_size``: messages kept per room for ``?since=`` (by the default in-memory broker).
    - ``queue_size``: messages queued for a client before it counts as too slow and is dropped.
    - ``rate``, ``burst``: messages a second a connection may send on average, and in a burst.
    - ``max_connections``: connections one user may hold at once (tabs, devices).
    - ``token_ttl``: how long a token from ``POST /token`` stays valid, in seconds.
    - ``keep_rooms``, ``max_rooms``: how long a room's history is kept after its last
      member left, in seconds, and how many rooms nobody is in are kept at most
      (the longest idle forgotten first): by the default in-memory broker.
    - ``broker``: where messages are numbered and kept; in memory by default, see
      :class:`~ws_lessons.chat.sqlite_broker.SqliteBroker` for a file and
      :class:`~ws_lessons.chat.redis_broker.RedisBroker` for rooms shared by processes.

    The app's :class:`~ws_lessons.chat.hub.Hub` is ``app.state.hub``. Serve it with
    ``before_stop=app.state.hub.close_all`` so that clients hear 1001 when it stops.
    """
    secret = secret or secrets.token_urlsafe(32)
    guard = Guard(secret, allowed_origins or ())
    hub = Hub(broker or MemoryBroker(history_size, keep_for=keep_rooms, max_rooms=max_rooms))
    connections = ConnectionLimit(max_connections)
    rate_limited = Error(
        error="rate_limited",
        detail=f"Slow down: at most {rate:g} messages a second, or {burst} in a burst.",
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.closing = False  # served again after a stop: let clients back in
        if not isinstance(hub.broker, SharedBroker):
            yield
            return
        await hub.broker.subscribe()  # Redis down? The server fails to start, and says why.

        def lost(reason: str) -> None:
            for members in list(hub.rooms.values()):
                for member in members:
                    member.close(CloseCode.TRY_AGAIN_LATER, reason)

        listener = asyncio.create_task(hub.broker.listen(hub.deliver, lost))
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await hub.broker.close()

    app = FastAPI(title="ws_lessons chat", lifespan=lifespan)
    app.state.hub = hub
    app.state.connections = connections

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return page_for(request)  # in Chinese if the course or the browser asks for it

    ops.add_routes(app, hub)

    @app.post("/token", max_body_size=MAX_BODY)  # FastAPI 0.165: 413 before reading more
    async def token(body: TokenRequest, request: Request, response: Response) -> TokenResponse:
        value = tokens.issue(body.user, secret, token_ttl)
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(token_ttl),
            httponly=True,  # page scripts cannot read it
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return TokenResponse(token=value)

    @app.websocket("/ws/{room}")
    async def chat(
        websocket: WebSocket,
        room: Annotated[str, Path(max_length=NAME_LENGTH, pattern=NAME_PATTERN)],
        user: Annotated[str, Depends(guard.admit)],
        since: Annotated[int | None, Query(ge=0)] = None,
    ) -> None:
        ops.connection.set((room, user))  # JSON log lines of this connection say who
        with connections.slot(user) as free:
            await websocket.accept()
            if hub.closing:
                # Refused after the handshake, not with an HTTP 503 before it: a browser
                # page reads a close code and reason, but only 1006 for a refused handshake;
                # and a server without the ASGI denial-response extension turns a refusal
                # into 403, which a client takes as final.
                await websocket.close(CloseCode.GOING_AWAY, SHUTTING_DOWN)
                return
            if not free:
                reason = f"too many connections: at most {max_connections} per user"
                await websocket.close(CloseCode.POLICY_VIOLATION, reason)
                return
            if reason := unavailable(hub.broker):
                await websocket.close(CloseCode.TRY_AGAIN_LATER, reason)
                return
            member = Member(websocket, room, user, queue_size)
            bucket = TokenBucket(rate, burst)

            async def on_receive(data: str | bytes) -> None:
                hub.counts.received += 1
                if not bucket.take():
                    hub.send(member, rate_limited)
                    return
                message = parse(data, max_text)
                if isinstance(message, Say):
                    await hub.say(member, message.text)
                elif isinstance(message, Ping):
                    hub.send(member, Pong())
                else:
                    hub.send(member, message)

            # The in-memory broker keeps a room's history while the room has members.
            members_changed = getattr(hub.broker, "members_changed", None)
            if members_changed is not None:
                members_changed(room, True)
            try:
                async with hub.join(member, since) as backlog:
                    await member.run(backlog, on_receive)
            except UNREACHABLE:  # Redis went away during a command; the listener says why
                if websocket.application_state is WebSocketState.CONNECTED:
                    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                        await websocket.close(CloseCode.TRY_AGAIN_LATER, UNAVAILABLE)
            finally:
                if members_changed is not None:
                    members_changed(room, room in hub.rooms)
                if member.close_code not in (None, CloseCode.GOING_AWAY):
                    why = f"{member.close_code} {member.close_reason}".rstrip()
                    logger.info("%s in %s: closed by the server with %s", user, room, why)

    return app


class _ChatServer(uvicorn.Server):
    """uvicorn, but a stop drains the chat: clients hear 1001 Going Away, in batches.

    On SIGTERM or Ctrl-C, readiness fails at once (``/readyz`` 503) and a new WebSocket is
    closed with 1001 right after its handshake; the open ones are closed in batches spread
    over the first half of ``grace`` seconds (:meth:`Hub.close_all`); then uvicorn stops.
    uvicorn itself would close them all at once with 1012 Service Restart. A history file is
    closed once the server has stopped (uvicorn then re-raises a SIGTERM it caught, which
    ends the process at once).
    """

    def __init__(
        self,
        config: uvicorn.Config,
        hub: Hub,
        broker: SqliteBroker | None = None,
        grace: float = 0,
    ) -> None:
        super().__init__(config)
        self.hub = hub
        self.broker = broker
        self.grace = grace

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
        await super().shutdown(sockets)
        if self.broker is not None:
            self.broker.close()


def run(
    host: str = LOOPBACK,
    port: int = 8000,
    *,
    workers: int = 1,
    history: str | FilePath | None = None,
    redis: str | None = None,
    max_size: int = 64 * 1024,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    proxy_headers: bool = True,
    forwarded_allow_ips: str | None = None,
    limits: Limits | None = None,
    grace: float = 10.0,
    log_format: str = "text",
    **settings: Any,
) -> None:
    """Serve the chat until Ctrl-C or SIGTERM, then close every chat connection with 1001.

    - ``workers``: how many processes serve the one port; above 1 needs ``redis``. A
      worker sent SIGTERM drains and is replaced by a new one (a rolling restart, one
      worker at a time); a worker that dies otherwise stops them all.
    - ``history``: a SQLite file that keeps room history and ``seq`` across restarts
      (memory if omitted).
    - ``redis``: a Redis URL, e.g. ``redis://127.0.0.1:6379``: processes given the same
      one share rooms, presence, ``seq`` and history (instead of ``history``).
    - ``max_size``: the largest message a client may send, in bytes; a bigger one
      closes its connection with 1009 (uvicorn's ``ws_max_size``).
    - ``ping_interval``, ``ping_timeout``: uvicorn pings every client this often, in
      seconds, and drops one that has not answered within the timeout.
    - ``ssl_certfile``, ``ssl_keyfile``: serve ``https://`` and ``wss://`` with this
      certificate (PEM) and its private key.
    - ``proxy_headers``, ``forwarded_allow_ips``: uvicorn's options of the same names:
      trust ``X-Forwarded-For`` and ``X-Forwarded-Proto`` from these proxy addresses
      (uvicorn's default: 127.0.0.1 and ::1), so that the app sees the client's address
      and the scheme the browser used.
    - ``limits``: what each process holds for its clients (:class:`~ws_lessons.limits.Limits`:
      request deadline, head size, connections, pings, write buffer).
    - ``grace``: seconds a stopping process takes at most: its clients are closed in
      batches over the first half, and it has exited before the end (0: all at once).
    - ``log_format``: ``"text"`` (uvicorn's lines) or ``"json"`` (one object a line).

    The soft open-file limit is raised to the hard one and the connection cap set below
    it; the log shows ``?token=…`` instead of tokens. Other ``settings`` go to
    :func:`create_app`.
    """
    if history is not None and redis is not None:
        raise ValueError("choose --history (one process) or --redis (several), not both")
    if workers > 1 and redis is None:
        raise ValueError(WORKERS_NEED_REDIS)
    options = {
        "host": host,
        "port": port,
        "ws_max_size": max_size,
        "ws_ping_interval": ping_interval,
        "ws_ping_timeout": ping_timeout,
        "ssl_certfile": ssl_certfile,
        "ssl_keyfile": ssl_keyfile,
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
        # then cut clients that never read their close frame
        "timeout_graceful_shutdown": min(2.0, grace / 5) if grace > 0 else 2.0,
        "log_config": ops.log_config(log_format),
        "loop": PROTOCOLS["loop"],  # the h11 and websockets protocols come from `limits`
    }
    chat = {"history": history, "redis": redis, "limits": limits or Limits(), **settings}
    chat["grace"] = grace
    chat["secret"] = chat.get("secret") or secrets.token_urlsafe(32)  # one for every worker
    if workers == 1:
        _serve(options, chat)
        return
    # Like uvicorn --workers: the parent binds the port, each child accepts on it.
    sock = uvicorn.Config(None, **options).bind_socket()
    spawn = multiprocessing.get_context("spawn")

    def worker() -> multiprocessing.process.BaseProcess:
        child = spawn.Process(target=_serve, args=(options, chat, sock), daemon=True)
        child.start()
        return child

    stopping: list[int] = []  # a flag a signal handler can set without taking a lock
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: stopping.append(signum))
    children = [worker() for _ in range(workers)]
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
        child.join(grace + 5)


def _serve(options: dict[str, Any], chat: dict[str, Any], sock: socket.socket | None = None):
    """Serve the chat with uvicorn ``options`` in this process (on ``sock`` if given)."""
    history, redis, limits = chat.pop("history"), chat.pop("redis"), chat.pop("limits")
    grace = chat.pop("grace")
    history_size = chat.get("history_size", 100)
    file = None if history is None else SqliteBroker(history, history_size)
    shared = None if redis is None else RedisBroker(redis, history_size)
    app = create_app(broker=file or shared, **chat)
    before, after = raise_open_files()
    bounded = protocols(limits)
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(HideQueryValues())
    config = uvicorn.Config(app, **options, **bounded)
    cap = bounded["http"].door.cap
    logging.getLogger("uvicorn.error").info(
        "open files: soft limit %s (was %s); at most %d connections, then 503", after, before, cap
    )
    server = _ChatServer(config, app.state.hub, file, grace)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once stopped
        server.run(sockets=None if sock is None else [sock])
