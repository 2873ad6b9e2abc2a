"""Who may open a chat connection, decided from the handshake request alone.

Two checks run before the connection is accepted:

- **Origin.** A browser names, in ``Origin``, the origin of the page that opens the
  socket, and any page may open a socket to any server: neither the same-origin policy
  nor CORS applies to WebSockets, so the server must check (RFC 6455 §10.2). A
  ``SameSite`` cookie does not replace this check: browsers send it from every origin of
  the same site (another port, a sibling subdomain). The chat compares the whole origin
  (scheme, host and port) with an explicit list: its own address (the address and port
  the connection reached, and ``localhost`` for a loopback address) and the origins in
  its allowlist. It never trusts the ``Host`` header for this: under DNS rebinding, a
  page of ``http://evil.example:8000`` whose name now resolves to the chat's address
  sends ``Host: evil.example:8000`` and ``Origin: http://evil.example:8000``, which
  agree. Clients that send no ``Origin`` at all (programs, not browsers) are accepted;
  ``"*"`` in the allowlist accepts every origin.
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

from fastapi import WebSocket, WebSocketException
from websockets.frames import CloseCode

from . import tokens
from .exceptions import InvalidToken

__all__ = ["ANY_ORIGIN", "COOKIE", "Guard", "own_origins", "refuse"]

COOKIE = "chat_token"
"""The cookie ``POST /token`` sets, an alternative to ``?token=`` for browsers."""

ANY_ORIGIN = "*"


def refuse(reason: str) -> WebSocketException:
    """The exception that refuses a handshake (HTTP 403); ``reason`` is for logs and tests."""
    return WebSocketException(CloseCode.POLICY_VIOLATION, reason)


LOOPBACK_NAMES = {"127.0.0.1": "localhost", "::1": "localhost"}
DEFAULT_PORTS = {"http": 80, "https": 443}


def own_origins(server: tuple[str, int | None] | None, scheme: str) -> set[str]:
    """The origins of pages served from the address a connection reached (ASGI ``server``).

    ``scheme`` is the connection's (``ws``/``wss``, or ``http``/``https``). The host is an
    address the server listens on, never a name the client chose.
    """
    if server is None:
        return set()
    host, port = server
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    hosts = {host, LOOPBACK_NAMES.get(host, host)}
    hosts = {f"[{name}]" if ":" in name else name for name in hosts}
    ports = [f":{port}"] + ([""] if port is None or DEFAULT_PORTS.get(scheme) == port else [])
    return {f"{scheme}://{name}{suffix}" for name in hosts for suffix in ports}


class Guard:
    """The two checks, with the chat's secret and Origin allowlist."""

    def __init__(self, secret: str, allowed_origins: Iterable[str] = ()) -> None:
        self.secret = secret
        self.allowed_origins = frozenset(origin.lower() for origin in allowed_origins)

    def check_origin(self, origin: str | None, own: set[str]) -> None:
        """Refuse the handshake unless ``origin`` is absent, listed, or one of ``own``."""
        if origin is None or ANY_ORIGIN in self.allowed_origins:
            return
        if origin.lower() in self.allowed_origins or origin.lower() in own:
            return
        raise refuse(f"origin {origin} is not allowed")

    def admit(self, websocket: WebSocket) -> str:
        """The user a handshake is for; refuses it if the Origin or the token is wrong.

        A FastAPI dependency: ``user: Annotated[str, Depends(guard.admit)]``.
        """
        own = own_origins(websocket.scope.get("server"), websocket.url.scheme)
        self.check_origin(websocket.headers.get("origin"), own)
        token = websocket.query_params.get("token") or websocket.cookies.get(COOKIE)
        if not token:
            raise refuse(f"no token: pass ?token= or the {COOKIE} cookie")
        try:
            return tokens.verify(token, self.secret)
        except InvalidToken as exc:
            raise refuse(f"invalid token: {exc}") from None
