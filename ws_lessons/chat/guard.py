"""Who may open a chat connection, decided from the handshake request alone.

Two checks run before the connection is accepted:

- **Origin.** A browser names, in ``Origin``, the origin of the page that opens the
  socket, and any page may open a socket to any server: neither the same-origin policy
  nor CORS applies to WebSockets, so the server must check (RFC 6455 §10.2). A
  ``SameSite`` cookie does not replace this check: browsers send it from every origin of
  the same site (another port, a sibling subdomain). The chat accepts its
  own origin (the page's host and port are the ``Host`` the request was sent to), the
  origins in its allowlist, and clients that send no ``Origin`` at all (programs, not
  browsers). ``"*"`` in the allowlist accepts every origin.
- **Token.** A signed, expiring token (:mod:`.tokens`) read from the ``?token=`` query
  parameter or, failing that, from the ``chat_token`` cookie that ``POST /token`` sets.
  Browsers cannot add an ``Authorization`` header to a WebSocket handshake, hence these
  two places.

A refusal is a ``WebSocketException`` with code 1008 raised before ``accept()``: the
ASGI server answers the handshake with HTTP 403 instead of ``101 Switching Protocols``,
and a browser only learns that the connection failed. (A denial response with a body
saying why would be friendlier to programs, but uvicorn's default WebSocket
implementation logs a spurious error after each one: https://github.com/Kludex/uvicorn/pull/3138.)
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import WebSocket, WebSocketException

from ws_lessons.frames import CloseCode

from . import tokens

COOKIE = "chat_token"
"""The cookie ``POST /token`` sets, an alternative to ``?token=`` for browsers."""

ANY_ORIGIN = "*"


def refuse(reason: str) -> WebSocketException:
    """The exception that refuses a handshake (HTTP 403); ``reason`` is for logs and tests."""
    return WebSocketException(CloseCode.POLICY_VIOLATION, reason)


def same_origin(origin: str, host: str) -> bool:
    """Whether a page from ``origin`` was served by the host (and port) named in ``host``."""
    return urlsplit(origin).netloc.lower() == host.lower()


class Guard:
    """The two checks, with the chat's secret and Origin allowlist."""

    def __init__(self, secret: str, allowed_origins: Iterable[str] = ()) -> None:
        self.secret = secret
        self.allowed_origins = frozenset(allowed_origins)

    def check_origin(self, origin: str | None, host: str | None) -> None:
        """Refuse the handshake unless ``origin`` may connect."""
        if origin is None or ANY_ORIGIN in self.allowed_origins:
            return
        if origin in self.allowed_origins or (host and same_origin(origin, host)):
            return
        raise refuse(f"origin {origin} is not allowed")

    def admit(self, websocket: WebSocket) -> str:
        """The user a handshake is for; refuses it if the Origin or the token is wrong.

        A FastAPI dependency: ``user: Annotated[str, Depends(guard.admit)]``.
        """
        self.check_origin(websocket.headers.get("origin"), websocket.headers.get("host"))
        token = websocket.query_params.get("token") or websocket.cookies.get(COOKIE)
        if not token:
            raise refuse(f"no token: pass ?token= or the {COOKIE} cookie")
        try:
            return tokens.verify(token, self.secret)
        except tokens.InvalidToken as exc:
            raise refuse(f"invalid token: {exc}") from None
