"""A loopback TCP proxy that counts the bytes going each way: the wire, measured."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import httpx

from ws_lessons.server import Listening

__all__ = ["ByteCounter"]

START_TIMEOUT = 10.0
STOP_TIMEOUT = 2.0  # seconds the counter waits for its connections to finish when closed


def address(target: Any) -> tuple[str, int]:
    """(host, port) of a server handle (anything Listening), a URL or a (host, port) pair."""
    if isinstance(target, Listening):
        return target.host, target.port
    if isinstance(target, tuple):
        return target
    url = httpx.URL(target)
    return url.host, url.port or (443 if url.scheme in ("https", "wss") else 80)


class ByteCounter(Listening):
    """A loopback TCP proxy in front of ``target`` that counts the bytes each way.

    Point a client at ``counter.url`` (or ``counter.ws_url(path)``) instead of the server.
    ``up`` counts the bytes clients sent, ``down`` the bytes the server sent back, as they
    crossed the proxy: everything HTTP and WebSocket put on the TCP connection (request
    lines, headers, bodies, frames), but not the TCP/IP headers underneath. Use it as a
    context manager: the counts are final once the block has ended.
    """

    def __init__(self, target: Listening | str | tuple[str, int]) -> None:
        self.target = address(target)
        self.up = 0
        self.down = 0
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, name="byte counter", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self._server is None:
            self.close()
            raise RuntimeError("the byte counter did not start")
        self.host, self.port = self._server.sockets[0].getsockname()[:2]

    def __repr__(self) -> str:
        return (
            f"<ByteCounter :{self.port} -> :{self.target[1]}: {self.up} bytes up, "
            f"{self.down} down, {self.connections} connections>"
        )

    def close(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop accepting, let open connections finish for ``timeout`` s, then cut them."""
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self._shutdown(timeout), self._loop).result(
                    timeout + START_TIMEOUT
                )
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> ByteCounter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the proxy thread ---------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", 0)
            )
        finally:
            self._ready.set()
        self._loop.run_forever()

    async def _shutdown(self, timeout: float) -> None:
        assert self._server is not None
        self._server.close()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            self._tasks.discard(task)
            return
        try:
            await asyncio.gather(
                self._pump(client_r, server_w, "up"), self._pump(server_r, client_w, "down")
            )
        finally:
            for writer in (client_w, server_w):
                writer.close()
            self._tasks.discard(task)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        """Copy one direction until end of file, counting what was read."""
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if direction == "up":
                    self.up += len(data)
                else:
                    self.down += len(data)
                if not writer.is_closing():  # the other side may be gone: keep counting
                    writer.write(data)
                    with contextlib.suppress(ConnectionError):
                        await writer.drain()
        if not writer.is_closing() and writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()  # pass the half-close on, like TCP would
