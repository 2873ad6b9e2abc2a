"""A loopback TCP proxy that counts the bytes going each way: the wire, measured."""

from __future__ import annotations

from typing import Any

import httpx

from ws_lessons.relay import CLIENT_TO_SERVER, Direction, Relay
from ws_lessons.server import Listening

__all__ = ["ByteCounter"]

STOP_TIMEOUT = 2.0  # seconds the counter waits for its connections to finish when closed


def address(target: Any) -> tuple[str, int]:
    """(host, port) of a server handle (anything Listening), a URL or a (host, port) pair."""
    if isinstance(target, Listening):
        return target.host, target.port
    if isinstance(target, tuple):
        return target
    url = httpx.URL(target)
    return url.host, url.port or (443 if url.scheme in ("https", "wss") else 80)


class ByteCounter(Relay):
    """A loopback TCP proxy in front of ``target`` that counts the bytes each way.

    Point a client at ``counter.url`` (or ``counter.ws_url(path)``) instead of the server.
    ``up`` counts the bytes clients sent, ``down`` the bytes the server sent back, as they
    crossed the proxy: everything HTTP and WebSocket put on the TCP connection (request
    lines, headers, bodies, frames), but not the TCP/IP headers underneath. Use it as a
    context manager: the counts are final once the block has ended.
    """

    kind = "byte counter"

    def __init__(self, target: Listening | str | tuple[str, int]) -> None:
        self.up = 0
        self.down = 0
        host, port = address(target)
        super().__init__(host, port)  # unnamed: counters in front of one server coexist

    def observe(self, connection: int, direction: Direction, data: bytes) -> None:
        if direction == CLIENT_TO_SERVER:
            self.up += len(data)
        else:
            self.down += len(data)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Let open connections finish for ``timeout`` s, then stop (cutting what is left)."""
        if self.running:
            self.idle_within(timeout)
        super().stop()

    def __repr__(self) -> str:
        return (
            f"<ByteCounter :{self.port} -> :{self.target_port}: {self.up} bytes up, "
            f"{self.down} down, {self.connections} connections>"
        )
