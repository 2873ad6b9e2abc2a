"""A loopback TCP relay on its own event loop: what the wire taps and the byte counter share.

Like ``serve()``, the relay runs in a background thread, so clients in notebook cells,
async or blocking, can go through it. It forwards every chunk unchanged, both ways, and
shows each one to :meth:`Relay.observe` first. (The proxy *variables* a learner may have
set are another matter: :mod:`ws_lessons.proxies`.)
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Literal

from ws_lessons.proxies import LOOPBACK
from ws_lessons.server import lifecycle
from ws_lessons.server.background import Background, bind, close_loop

__all__ = [
    "CLIENT_TO_SERVER",
    "READ_SIZE",
    "SERVER_TO_CLIENT",
    "START_TIMEOUT",
    "Direction",
    "Relay",
]

Direction = Literal["→", "←"]
CLIENT_TO_SERVER: Direction = "→"
SERVER_TO_CLIENT: Direction = "←"

READ_SIZE = 65536
START_TIMEOUT = 5.0


class Relay(Background):
    """Listens on 127.0.0.1 (``port=0``: a free port) and relays each connection to the target."""

    kind = "proxy"

    def __init__(
        self, target_host: str, target_port: int, *, port: int = 0, name: str | None = None
    ) -> None:
        # bind() makes a socket that says it is TCP, so asyncio turns Nagle's algorithm off
        # on each accepted connection, as it does on the one to the target.
        lifecycle.make_room(self.kind, name, LOOPBACK, port)  # a cell is run again
        super().__init__(name, bind(LOOPBACK, port))
        self.target_host, self.target_port = target_host, target_port
        self.connections = 0  # accepted so far
        self._numbers = itertools.count(1)
        self._open = 0  # connections being relayed
        self._idle = threading.Condition()
        self._thread.start()
        try:
            listen = asyncio.start_server(self._relay, sock=self._socket)
            self._server = self.run(listen, START_TIMEOUT)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT)
            self._socket.close()
            raise
        lifecycle.track(self)

    def observe(self, connection: int, direction: Direction, data: bytes) -> None:
        """Called on the proxy's thread with each chunk read; ``b""`` when that side closed."""

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def idle_within(self, timeout: float = 2.0) -> bool:
        """Wait until no connection is open (at most ``timeout`` s); say whether that happened.

        A client's ``close()`` returns as soon as its own socket is closed; the proxy sees
        the close a moment later, on its own thread.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._open == 0, timeout)

    def stop(self) -> None:
        """Stop listening and cut the connections that are still open. Safe to call twice."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._shutdown)
            self._thread.join(START_TIMEOUT)
        self._release()

    # -- the proxy's thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            close_loop(self._loop)  # cancels the relays still running; they close their sockets

    def _shutdown(self) -> None:
        self._server.close()
        self._loop.stop()

    async def _relay(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        """Handle one client: connect to the target, then copy bytes both ways."""
        connection = next(self._numbers)
        with self._idle:
            self._open += 1
            self.connections += 1
        writers = [client_writer]
        try:
            server_reader, server_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
            writers.append(server_writer)
            await asyncio.gather(
                self._copy(connection, CLIENT_TO_SERVER, client_reader, server_writer, writers),
                self._copy(connection, SERVER_TO_CLIENT, server_reader, client_writer, writers),
            )
        except OSError:  # the target does not answer: the client sees its connection close
            pass
        except asyncio.CancelledError:
            # stop() cancels the relays still running. Ending quietly, rather than
            # re-raising, keeps asyncio's stream server from logging the cancellation.
            pass
        finally:
            for writer in writers:
                writer.close()
            with self._idle:
                self._open -= 1
                self._idle.notify_all()

    async def _copy(
        self,
        connection: int,
        direction: Direction,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        writers: list[asyncio.StreamWriter],
    ) -> None:
        """Copy one direction until its sender closes, then pass the close on."""
        try:
            while data := await reader.read(READ_SIZE):
                self.observe(connection, direction, data)
                writer.write(data)
                await writer.drain()
            self.observe(connection, direction, b"")
            # TCP half-close: the other side may still be sending.
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
        except OSError:  # reset by one side: there is nothing more to copy either way
            self.observe(connection, direction, b"")
            for other in writers:
                other.transport.abort()
