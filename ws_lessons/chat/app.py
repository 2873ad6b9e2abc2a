"""The chat application: HTTP routes, the WebSocket endpoint, and a standalone runner."""

import contextlib
import secrets
import socket
from collections.abc import Sequence
from importlib.resources import files
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Path, Query, WebSocket, WebSocketException
from fastapi.responses import HTMLResponse
from starlette import status

from . import tokens
from .broker import Broker, MemoryBroker
from .hub import Hub, Member
from .models import NAME_PATTERN, Error, Say, TokenRequest, TokenResponse, parse
from .ratelimit import TokenBucket

REFUSED = status.WS_1008_POLICY_VIOLATION
"""1008 Policy Violation (RFC 6455 §7.4.1). Raised before the handshake is accepted, it
makes the ASGI server refuse the handshake with HTTP 403 instead."""


def create_app(
    *,
    secret: str | None = None,
    allowed_origins: Sequence[str] | None = None,
    max_text: int = 1000,
    history_size: int = 100,
    queue_size: int = 100,
    rate: float = 5,
    burst: int = 10,
    broker: Broker | None = None,
) -> FastAPI:
    """Build the chat app.

    - ``secret`` signs the tokens; a random one (tokens die with the process) if omitted.
    - ``allowed_origins``: browser origins allowed to connect, e.g. ``["http://localhost:8000"]``;
      ``None`` allows all. Clients that send no ``Origin`` header (not browsers) are allowed.
    - ``max_text``: the longest ``say`` text, in characters.
    - ``history_size``: messages kept per room for ``?since=`` (by the default in-memory broker).
    - ``queue_size``: messages queued for a client before it counts as too slow and is dropped.
    - ``rate``, ``burst``: messages a second a connection may send on average, and in a burst.
    - ``broker``: where messages are numbered and kept; in memory by default.

    The app's :class:`~ws_lessons.chat.hub.Hub` is ``app.state.hub``.
    """
    secret = secret or secrets.token_urlsafe(32)
    origins = None if allowed_origins is None else frozenset(allowed_origins)
    hub = Hub(broker or MemoryBroker(history_size))
    page = (files(__package__) / "static" / "index.html").read_text(encoding="utf-8")
    rate_limited = Error(
        error="rate_limited",
        detail=f"Slow down: at most {rate:g} messages a second, or {burst} in a burst.",
    )

    app = FastAPI(title="ws_lessons chat")
    app.state.hub = hub

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/token")
    async def token(request: TokenRequest) -> TokenResponse:
        return TokenResponse(token=tokens.issue(request.user, secret))

    async def authenticate(websocket: WebSocket, token: str = "") -> str:
        """The user the ``?token=`` names; refuses the handshake for a bad token or Origin."""
        origin = websocket.headers.get("origin")
        if origins is not None and origin is not None and origin not in origins:
            raise WebSocketException(REFUSED, f"origin {origin} is not allowed")
        try:
            return tokens.verify(token, secret)
        except tokens.InvalidToken as exc:
            raise WebSocketException(REFUSED, f"invalid token: {exc}") from None

    @app.websocket("/ws/{room}")
    async def chat(
        websocket: WebSocket,
        room: Annotated[str, Path(pattern=NAME_PATTERN)],
        user: Annotated[str, Depends(authenticate)],
        since: Annotated[int | None, Query(ge=0)] = None,
    ) -> None:
        await websocket.accept()
        member = Member(websocket, room, user, queue_size)
        bucket = TokenBucket(rate, burst)

        async def on_receive(data: str | bytes) -> None:
            message = parse(data, max_text) if bucket.take() else rate_limited
            if isinstance(message, Say):
                await hub.say(member, message.text)
            else:
                hub.send(member, message)

        async with hub.join(member, since) as backlog:
            await member.run(backlog, on_receive)

    return app


class _ChatServer(uvicorn.Server):
    """uvicorn, but chat clients hear 1001 Going Away before the server stops.

    uvicorn itself closes open WebSockets with 1012 Service Restart.
    """

    def __init__(self, config: uvicorn.Config, hub: Hub) -> None:
        super().__init__(config)
        self.hub = hub

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.hub.close_all()
        await super().shutdown(sockets)


def run(host: str = "127.0.0.1", port: int = 8000, **settings: Any) -> None:
    """Serve the chat until Ctrl-C, then close every chat connection with 1001 and exit.

    ``settings`` go to :func:`create_app`.
    """
    app = create_app(**settings)
    server = _ChatServer(uvicorn.Config(app, host=host, port=port), app.state.hub)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once it has stopped
        server.run()
