"""Broadcast fan-out, measured: the chat's hub against the connection manager of most tutorials.

:func:`measure_broadcast` serves each system in this process, connects the clients from
a second Python process (so that the server has a CPU of its own), and times how fast
messages reach every client, first with every client reading, then with one client
that stopped reading. It also measures the memory an idle connection costs each side.

A *stalled* client is connected but no longer reads: its TCP receive buffer is full,
and so is the server's send buffer towards it. A client that stopped reading a moment
ago does not look like that yet, because the kernel's buffers (several megabytes on
loopback) still absorb what is sent to it. So the stalled client joins first, alone
with the publisher, and large messages are broadcast until the server's socket towards
it pushes back (its writes are paused); only then do the other clients connect and the
measurement start. Both systems are filled the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

__all__ = [
    "BroadcastReport",
    "Memory",
    "Run",
    "measure_broadcast",
    "naive_app",
    "raise_open_file_limit",
]

FILL_MESSAGE = 64 * 1024
"""Size of the messages that fill the stalled client's buffers, in characters."""

FILL_LIMIT = 16 * 1024 * 1024
"""Give up filling after this many bytes, far beyond the buffers of any loopback."""

MESSAGE_BYTES = 100
"""Roughly the size of each broadcast measured: a chat message with its JSON envelope."""

ROOM = "bench"
REPLY_TIMEOUT = 60.0
"""How long to wait for the client process to answer a command, in seconds, beyond the time
the command itself may take."""

NO_STALL_TIMEOUT = 30.0
"""The longest a run without a stalled client may take, in seconds."""


# -- the systems measured -------------------------------------------------------------------


def naive_app() -> FastAPI:
    """The connection manager most tutorials write: a list, and a loop that awaits each send.

    The same code as lesson 09 shows; the benchmark keeps its own copy.
    """

    class ConnectionManager:
        def __init__(self) -> None:
            self.active_connections: list[WebSocket] = []

        async def connect(self, websocket: WebSocket) -> None:
            await websocket.accept()
            self.active_connections.append(websocket)

        def disconnect(self, websocket: WebSocket) -> None:
            self.active_connections.remove(websocket)

        async def broadcast(self, message: str) -> None:
            for connection in self.active_connections:
                await connection.send_text(message)

    manager = ConnectionManager()
    app = FastAPI()
    app.state.manager = manager

    @app.websocket("/ws/{client_id}")
    async def websocket_endpoint(websocket: WebSocket, client_id: int) -> None:
        await manager.connect(websocket)
        try:
            while True:
                data = await websocket.receive_text()
                await manager.broadcast(f"Client #{client_id} says: {data}")
        except WebSocketDisconnect:
            manager.disconnect(websocket)

    return app


@dataclass(frozen=True)
class _System:
    """How the benchmark drives one system."""

    name: str
    app: FastAPI
    path: Callable[[str, int], str]
    """(role, client number) -> the path and query a client connects to."""
    frame: Callable[[str], str]
    """The text of a message -> the frame the publisher sends."""
    counted: str | None
    """Prefix of the frames the clients count as deliveries (None: every frame)."""
    connected: Callable[[], int]
    """How many clients the app broadcasts to; run it on the server's loop."""


def _hub(clients: int, queue_size: int) -> _System:
    from ws_lessons.chat import create_app, tokens

    secret = "fan-out benchmark"
    # Every listener logs in as the same user (many tabs of one user), so that joining does
    # not broadcast a "joined" to everyone already there: what is timed is the fan-out of
    # "said" messages. The publisher is the only sender: no rate limit, room for the fill.
    app = create_app(
        secret=secret,
        max_text=FILL_MESSAGE,
        rate=1e9,
        burst=10**9,
        queue_size=queue_size,
        max_connections=clients,
    )
    issued = {role: tokens.issue(role, secret) for role in ("stalled", "publisher", "listener")}
    return _System(
        name="hub",
        app=app,
        path=lambda role, number: f"/ws/{ROOM}?token={issued[role]}",
        frame=lambda text: json.dumps({"type": "say", "text": text}),
        counted='{"type":"said"',
        connected=lambda: len(app.state.hub.rooms.get(ROOM, ())),
    )


def _naive(clients: int, queue_size: int) -> _System:
    app = naive_app()
    # Pad the text so that each broadcast is about as long as the hub's "said" message.
    padding = MESSAGE_BYTES - len("Client #1 says: ")
    return _System(
        name="naive",
        app=app,
        path=lambda role, number: f"/ws/{number}",
        frame=lambda text: text.ljust(padding, "."),
        counted=None,
        connected=lambda: len(app.state.manager.active_connections),
    )


# -- results --------------------------------------------------------------------------------


@dataclass
class Run:
    """One measurement: ``messages`` broadcasts, each to ``readers`` clients that read."""

    system: str
    stalled: bool
    readers: int
    messages: int
    delivered: int
    seconds: float
    timed_out: bool
    message_bytes: float
    """The average size of a delivered message."""
    dropped: bool | None = None
    """Whether the server had let go of the stalled client at the end (None: no stall)."""

    @property
    def expected(self) -> int:
        return self.readers * self.messages

    @property
    def rate(self) -> float:
        """Deliveries per second."""
        return self.delivered / self.seconds if self.seconds else 0.0


@dataclass
class Memory:
    """Python memory allocated for idle connections (tracemalloc), on each side."""

    system: str
    connections: int
    server_bytes: int
    client_bytes: int
    server_deflate_bytes: int
    """The part of ``server_bytes`` that permessage-deflate's compression contexts take."""
    client_deflate_bytes: int

    @property
    def server_per_connection(self) -> float:
        return self.server_bytes / self.connections

    @property
    def client_per_connection(self) -> float:
        return self.client_bytes / self.connections


@dataclass
class BroadcastReport:
    clients: int
    messages: int
    runs: list[Run] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)

    def run(self, system: str, stalled: bool) -> Run:
        return next(run for run in self.runs if (run.system, run.stalled) == (system, stalled))


# -- the measurement ------------------------------------------------------------------------


def raise_open_file_limit(needed: int) -> None:
    """Raise this process's soft limit on open files (at most to the hard limit) if needed.

    Windows has no such limit to raise (and no ``resource`` module).
    """
    if sys.platform == "win32":
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(
            resource.RLIMIT_NOFILE,
            (needed if hard == resource.RLIM_INFINITY else min(hard, needed), hard),
        )


def measure_broadcast(
    clients: int = 1000,
    messages: int = 120,
    *,
    queue_size: int = 100,
    progress: Any = None,
) -> BroadcastReport:
    """Measure the hub and the naive manager, each without and with a stalled client.

    Each run has ``clients`` connections: the publisher, the listeners and, in the
    second run, the stalled client. The publisher sends ``messages`` messages, which
    each system broadcasts to everyone. ``queue_size`` is the hub's outbox per client:
    with more messages than that, the hub drops the stalled client during the run. A
    run with a stalled client ends once everyone else has everything, or after three
    times as long as the same system took without one (at least a second).
    ``progress`` (a tqdm bar, or None) advances once per run.
    """
    from ws_lessons.server import serve

    raise_open_file_limit(2 * clients + 256)  # the server's sockets, and this side's
    report = BroadcastReport(clients, messages)
    with _ClientProcess(clients) as client_process:
        for make in (_hub, _naive):
            deadline = NO_STALL_TIMEOUT
            for stalled in (False, True):
                system = make(clients, queue_size)
                # uvicorn waits for every connection to drain before it stops, which a
                # stalled one never does: bound that wait.
                server = serve(
                    system.app, name=f"fan-out {system.name}", timeout_graceful_shutdown=1
                )
                try:
                    run, memory = _measure(
                        server, system, client_process, messages, stalled, deadline
                    )
                finally:
                    client_process.ask("reset")
                    server.stop()
                report.runs.append(run)
                if memory is not None:
                    report.memory.append(memory)
                deadline = max(1.0, 3 * run.seconds)
                if progress is not None:
                    progress.update(1)
    return report


def _measure(
    server: Any,
    system: _System,
    clients: _ClientProcess,
    messages: int,
    stalled: bool,
    deadline: float,
) -> tuple[Run, Memory | None]:
    def url(role: str, number: int) -> str:
        return server.ws_url(system.path(role, number))

    if stalled:
        clients.ask("stall", url("stalled", 0))
    clients.ask("publisher", url("publisher", 1), system.counted)
    if stalled:
        _fill(server, system, clients)
    listeners = clients.clients - 1 - stalled
    urls = [url("listener", number) for number in range(2, 2 + listeners)]
    memory = None
    if stalled:
        clients.ask("connect", urls, system.counted, False)
        server.run(_settled(system, clients.clients))
    else:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            client_bytes, client_deflate = clients.ask("connect", urls, system.counted, True)
            server.run(_settled(system, clients.clients))
            server_bytes = tracemalloc.get_traced_memory()[0] - before
            server_deflate = _deflate_bytes()
        finally:
            tracemalloc.stop()
        memory = Memory(
            system.name, listeners, server_bytes, client_bytes, server_deflate, client_deflate
        )
    frames = [system.frame(f"message {n}") for n in range(messages)]
    delivered, seconds, timed_out, message_bytes = clients.ask(
        "publish", frames, deadline, takes=deadline
    )
    dropped = server.run(_connected(system)) < clients.clients if stalled else None
    run = Run(
        system.name,
        stalled,
        listeners + 1,
        messages,
        delivered,
        seconds,
        timed_out,
        message_bytes,
        dropped,
    )
    return run, memory


def _fill(server: Any, system: _System, clients: _ClientProcess) -> None:
    """Broadcast large messages until the server's writes to the stalled client pause."""
    frame = system.frame("x" * (FILL_MESSAGE - 200))
    for _ in range(FILL_LIMIT // FILL_MESSAGE // 4):
        clients.ask("fill", frame, 4)
        if server.run(_pushing_back(server)):
            return
    raise RuntimeError("the stalled client's buffers never filled")


async def _pushing_back(server: Any) -> bool:
    """Whether a connection of ``server`` has its writes paused: its send buffer is full."""
    await asyncio.sleep(0.02)  # let the last fill messages reach the socket
    # uvicorn pauses writing to a connection once the transport holds more than its
    # high-water mark.
    return any(
        transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]
        for transport in server.transports()
    )


def _deflate_bytes() -> int:
    """Memory traced so far that the permessage-deflate extension allocated (zlib contexts)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, "*/websockets/extensions/permessage_deflate.py")]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def _connected(system: _System) -> int:
    return system.connected()


async def _settled(system: _System, clients: int) -> None:
    """Wait until the app counts every client (the last joins may lag the handshakes)."""
    async with asyncio.timeout(5):
        while system.connected() < clients:
            await asyncio.sleep(0.01)


# -- the client process ---------------------------------------------------------------------


class _ClientProcess:
    """A second Python process that holds the clients and answers commands over a socket pair.

    It runs as ``python -m ws_lessons.fanout`` rather than through ``multiprocessing``,
    which would import the caller's main module again (a notebook's, a test runner's).
    """

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.process: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None

    def __enter__(self) -> _ClientProcess:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            fd = theirs.fileno()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ws_lessons.fanout", str(fd), str(self.clients)],
                pass_fds=[fd],
            )
            self.conn = Connection(ours.detach())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.send(("exit",))
            self.conn.close()
        if self.process is not None:
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def ask(self, command: str, *args: Any, takes: float = 0) -> Any:
        """Have the client process run ``command`` (up to ``takes`` seconds) and return what
        it answered."""
        assert self.conn is not None
        self.conn.send((command, *args))
        if not self.conn.poll(takes + REPLY_TIMEOUT):
            raise TimeoutError(f"the client process did not answer {command!r}")
        status, value = self.conn.recv()
        if status == "error":
            raise RuntimeError(f"the client process failed on {command!r}: {value}")
        return value


def _client_main(fd: int, clients: int) -> None:
    raise_open_file_limit(clients + 256)
    with Connection(fd) as conn:
        asyncio.run(_Clients(conn).serve())


class _Clients:
    """The client side: a publisher, listeners counting deliveries, maybe a stalled client."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.connections: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.sender: Any = None
        self.delivered = 0
        self.delivered_bytes = 0
        self.target = 0
        self.done = asyncio.Event()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, *args = await loop.run_in_executor(None, self.conn.recv)
            if command == "exit":
                await self.reset()
                return
            try:
                value = await getattr(self, command)(*args)
            except Exception as exc:
                self.conn.send(("error", f"{type(exc).__name__}: {exc}"))
            else:
                self.conn.send(("ok", value))

    async def _connect(self, url: str, **options: Any) -> Any:
        from websockets.asyncio.client import connect

        async with asyncio.timeout(10):
            # The client's own keepalive pings are off: they would only add noise.
            ws = await connect(url, ping_interval=None, **options)
        self.connections.append(ws)
        return ws

    def _count(self, ws: Any, counted: str | None) -> None:
        async def read() -> None:
            from websockets.exceptions import ConnectionClosed

            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    if counted is None or message.startswith(counted):
                        self.delivered += 1
                        self.delivered_bytes += len(message)
                        if self.delivered >= self.target:
                            self.done.set()

        self.readers.append(asyncio.create_task(read()))

    # -- commands ---------------------------------------------------------------------------

    async def stall(self, url: str) -> None:
        # No compression, so that every byte sent fills a buffer. max_queue=1: the library
        # stops reading the socket once one message waits unread, and none will be read.
        await self._connect(url, compression=None, max_queue=1)

    async def publisher(self, url: str, counted: str | None) -> None:
        self.sender = await self._connect(url)
        self._count(self.sender, counted)

    async def fill(self, frame: str, times: int) -> None:
        # A naive server stops reading the publisher once it is stuck: do not wait for it.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                for _ in range(times):
                    await self.sender.send(frame)

    async def connect(self, urls: list[str], counted: str | None, trace: bool) -> tuple[int, int]:
        """Connect a listener to each URL; if ``trace``, return the memory that took
        and the part of it permessage-deflate took."""
        if trace:
            tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for start in range(0, len(urls), 100):  # 100 handshakes at a time
                batch = [self._connect(url) for url in urls[start : start + 100]]
                for ws in await asyncio.gather(*batch):
                    self._count(ws, counted)
            used = tracemalloc.get_traced_memory()[0] - before
            deflate = _deflate_bytes() if trace else 0
        finally:
            if trace:
                tracemalloc.stop()
        await asyncio.sleep(0.1)  # the welcome messages arrive before the count starts
        return (used, deflate) if trace else (0, 0)

    async def publish(self, frames: list[str], deadline: float) -> tuple[int, float, bool, float]:
        """Send ``frames``; wait until every reader has them all, or ``deadline`` seconds."""
        self.delivered = self.delivered_bytes = 0
        self.target = len(frames) * len(self.readers)
        self.done.clear()
        started = time.perf_counter()
        timed_out = False
        try:
            async with asyncio.timeout(deadline):
                for frame in frames:
                    await self.sender.send(frame)
                await self.done.wait()
        except TimeoutError:
            timed_out = True
        seconds = time.perf_counter() - started
        size = self.delivered_bytes / self.delivered if self.delivered else 0.0
        return self.delivered, seconds, timed_out, size

    async def reset(self) -> None:
        """Cut every connection at once: a TCP reset, since a stalled client reads no close."""
        for ws in self.connections:
            ws.transport.abort()
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        self.connections.clear()
        self.readers.clear()
        self.sender = None


if __name__ == "__main__":
    _client_main(int(sys.argv[1]), int(sys.argv[2]))
