"""The chat application: HTTP routes and the WebSocket endpoint (:mod:`.server` serves it).

The endpoint's defences, in the order a connection meets them:

0. Before the app sees anything, when served by :func:`~.server.run` (see :mod:`ws_lessons.limits`):
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

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint's annotations,
# and they name objects local to create_app (the guard).
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request, Response, WebSocket
from fastapi.responses import HTMLResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState
from websockets.frames import CloseCode

from . import ops, tokens
from .broker import Broker, MemoryBroker
from .exceptions import BrokerUnavailable
from .guard import COOKIE, Guard
from .hub import SHUTTING_DOWN, Hub, Member, hub_for
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
from .settings import Settings

__all__ = ["MAX_BODY", "create_app"]

logger = logging.getLogger("uvicorn.error")  # beside the server's own lines

MAX_BODY = 1024
"""Bytes in the body of ``POST /token`` (``{"user": "..."}`` needs about 50): 413 beyond."""


def create_app(
    settings: Settings | None = None,
    /,
    *,
    broker: Broker | None = None,
    clock: Callable[[], float] = time.monotonic,
    **changes: Any,
) -> FastAPI:
    """Build the chat app with ``settings`` (:class:`~.settings.Settings`; its defaults if
    None), changed by keyword: ``create_app(secret="s", rate=10)``.

    ``broker``: where messages are numbered and kept; in memory by default (with
    ``history_size``, ``keep_rooms`` and ``max_rooms``), see
    :class:`~ws_lessons.chat.sqlite_broker.SqliteBroker` for a file and
    :class:`~ws_lessons.chat.redis_broker.RedisBroker` for rooms shared by processes.
    ``clock``: the time in seconds that the rate limit reads; a test passes its own.

    The app's :class:`~ws_lessons.chat.hub.Hub` is ``app.state.hub``. Serve it with
    ``before_stop=app.state.hub.close_all`` so that clients hear 1001 when it stops.
    """
    settings = (settings or Settings()).but(**changes)
    secret = settings.secret or secrets.token_urlsafe(32)
    if broker is None:
        broker = MemoryBroker(
            settings.history_size, keep_for=settings.keep_rooms, max_rooms=settings.max_rooms
        )
    app = FastAPI(title="ws_lessons chat", lifespan=_lifespan)
    app.state.hub = hub = hub_for(broker)
    app.state.connections = ConnectionLimit(settings.max_connections)
    app.state.settings = settings

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return page_for(request)  # in Chinese if the course or the browser asks for it

    ops.add_routes(app, hub)
    _add_token_route(app, secret, settings.token_ttl)
    _add_chat_route(app, Guard(secret, settings.allowed_origins or ()), settings, clock)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    hub: Hub = app.state.hub
    hub.closing = False  # served again after a stop: let clients back in
    await hub.start()  # a shared broker that cannot reach Redis: the server fails to start
    try:
        yield
    finally:
        await hub.stop()


def _add_token_route(app: FastAPI, secret: str, ttl: float) -> None:
    @app.post("/token", max_body_size=MAX_BODY)  # FastAPI 0.165: 413 before reading more
    async def token(body: TokenRequest, request: Request, response: Response) -> TokenResponse:
        value = tokens.issue(body.user, secret, ttl)
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(ttl),
            httponly=True,  # page scripts cannot read it
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return TokenResponse(token=value)


def _add_chat_route(
    app: FastAPI, guard: Guard, settings: Settings, clock: Callable[[], float]
) -> None:
    hub: Hub = app.state.hub
    connections: ConnectionLimit = app.state.connections

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
            if turned_away := _turned_away(hub, free, settings.max_connections):
                await websocket.close(*turned_away)
                return
            member = Member(websocket, room, user, settings.queue_size)
            try:
                async with hub.join(member, since) as backlog:
                    await member.run(backlog, _receiver(hub, member, settings, clock))
            except BrokerUnavailable as exc:  # during a command; the listener says why
                if websocket.application_state is WebSocketState.CONNECTED:
                    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                        await websocket.close(CloseCode.TRY_AGAIN_LATER, str(exc))
            finally:
                if member.close_code not in (None, CloseCode.GOING_AWAY):
                    why = f"{member.close_code} {member.close_reason}".rstrip()
                    logger.info("%s in %s: closed by the server with %s", user, room, why)


def _turned_away(hub: Hub, free: bool, max_connections: int) -> tuple[int, str] | None:
    """The close code and reason for a connection just accepted that cannot stay, or None.

    Closed after the handshake, not refused with an HTTP status before it: a browser
    page reads a close code and reason, but only 1006 for a refused handshake; and a
    server without the ASGI denial-response extension turns a refusal into 403, which a
    client takes as final.
    """
    if hub.closing:
        return CloseCode.GOING_AWAY, SHUTTING_DOWN
    if not free:
        return (
            CloseCode.POLICY_VIOLATION,
            f"too many connections: at most {max_connections} per user",
        )
    if reason := hub.unavailable:
        return CloseCode.TRY_AGAIN_LATER, reason
    return None


def _receiver(
    hub: Hub, member: Member, settings: Settings, clock: Callable[[], float]
) -> Callable[[str | bytes], Awaitable[None]]:
    """What ``member``'s connection does with each frame: rate limit, parse, act."""
    bucket = TokenBucket(settings.rate, settings.burst, clock)
    rate_limited = Error(
        error="rate_limited",
        detail=f"Slow down: at most {settings.rate:g} messages a second, "
        f"or {settings.burst} in a burst.",
    )

    async def on_receive(data: str | bytes) -> None:
        hub.counts.received += 1
        if not bucket.take():
            hub.send(member, rate_limited)
            return
        message = parse(data, settings.max_text)
        if isinstance(message, Say):
            await hub.say(member, message.text)
        elif isinstance(message, Ping):
            hub.send(member, Pong())
        else:
            hub.send(member, message)

    return on_receive
