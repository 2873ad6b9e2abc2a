"""Broadcast fan-out, measured: the chat's hub, the connection manager of most tutorials,
and the ``broadcast()`` of the ``websockets`` library.

:func:`measure_broadcast` serves each system in this process, connects the clients from
a second Python process (so that the server has a CPU of its own), and times how fast
messages reach every client. First every system is served at once, each with its own
clients, all reading, and the publishers take turns: three rounds, so that a slow
moment of the machine hits every system alike and a ratio compares runs of the same
round. Then the hub and the naive manager again, each with one client that stopped
reading. It also measures the memory an idle connection costs each side, and the CPU
time the server's thread spends per delivery.

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
import math
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from ws_lessons.chat.models import Said, encode, is_said, say
from ws_lessons.proxies import LOOPBACK

__all__ = [
    "BroadcastReport",
    "ClientProcess",
    "FanOut",
    "FanoutRun",
    "Memory",
    "fan_out_costs",
    "measure_broadcast",
    "naive_app",
    "raise_open_file_limit",
]

FILL_MESSAGE = 64 * 1024
"""Size of the messages that fill the stalled client's buffers, in characters."""

FILL_LIMIT = 16 * 1024 * 1024
"""Give up filling after this many bytes, far beyond the buffers of any loopback."""

ROOM = "bench"
REPLY_TIMEOUT = 60.0
"""How long to wait for the client process to answer a command, in seconds, beyond the time
the command itself may take."""

NO_STALL_TIMEOUT = 30.0
"""The longest a run without a stalled client may take, in seconds."""

HANDSHAKES_AT_ONCE = 100
"""Handshakes the client process has under way at a time."""

Counted = Callable[[str], bool] | None
"""Which frames a client counts as deliveries (None: every frame), e.g. the chat's
:func:`~ws_lessons.chat.models.is_said`; a module-level function, which the client
process gets by name."""


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


@dataclass
class _System:
    """One system served on a loop of its own, and how the benchmark drives it."""

    name: str
    server: Any
    """The :class:`~ws_lessons.server.RunningServer` whose loop serves the system."""
    url: Callable[[str, int], str]
    """(role, client number) -> the URL a client connects to."""
    frame: Callable[[str, int], str]
    """(the text of a message, its number) -> the frame the publisher sends."""
    counted: Counted
    """Which frames the clients count as deliveries (None: every frame)."""
    connected: Callable[[], int]
    """How many clients the system broadcasts to; run it on the server's loop."""
    close: Callable[[], Any] | None = None
    """A coroutine function that stops what runs on the server's loop besides the app."""

    def stop(self) -> None:
        if self.close is not None:
            with contextlib.suppress(Exception):
                self.server.run(self.close())
        self.server.stop()


def _serve(app: FastAPI, name: str) -> Any:
    from ws_lessons.server import serve

    # uvicorn waits for every connection to drain before it stops, which a stalled one
    # never does: bound that wait.
    return serve(app, name=f"fan-out {name}", timeout_graceful_shutdown=1)


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
    server = _serve(app, "hub")
    return _System(
        name="hub",
        server=server,
        url=lambda role, number: server.ws_url(f"/ws/{ROOM}?token={issued[role]}"),
        frame=lambda text, number: say(text),
        counted=is_said,
        connected=lambda: len(app.state.hub.rooms.get(ROOM, ())),
    )


def _naive(clients: int, queue_size: int) -> _System:
    app = naive_app()
    server = _serve(app, "naive")
    prefix = len("Client #1 says: ")
    return _System(
        name="naive",
        server=server,
        url=lambda role, number: server.ws_url(f"/ws/{number}"),
        frame=lambda text, number: _said(text, number)[prefix:],
        counted=None,
        connected=lambda: len(app.state.manager.active_connections),
    )


def _reference(compression: str | None) -> _System:
    """A plain ``websockets`` server that relays each message with ``broadcast()``.

    ``broadcast()`` writes to every open connection at once and never waits: the fastest
    fan-out the library offers, with no protection against a client that stops reading
    (its data piles up in memory, the library's documentation says).
    """
    from websockets.asyncio.server import broadcast
    from websockets.asyncio.server import serve as websockets_serve
    from websockets.exceptions import ConnectionClosed

    name = "websockets" if compression is None else "websockets+deflate"
    host = _serve(FastAPI(), name)  # its loop, in a thread of its own, runs the server
    relay: list[Any] = []

    async def handler(connection: Any) -> None:
        with contextlib.suppress(ConnectionClosed):  # the benchmark resets its clients
            async for message in connection:  # only the publisher sends
                broadcast(relay[0].connections, message)

    async def start() -> Any:
        return await websockets_serve(handler, LOOPBACK, 0, compression=compression)

    try:
        relay.append(host.run(start()))
    except BaseException:
        host.stop()
        raise
    port = relay[0].sockets[0].getsockname()[1]

    async def close() -> None:
        relay[0].close()
        await relay[0].wait_closed()

    return _System(
        name=name,
        server=host,
        url=lambda role, number: f"ws://{LOOPBACK}:{port}/",
        frame=_said,
        counted=None,
        connected=lambda: len(relay[0].connections),
        close=close,
    )


def _said(text: str, number: int) -> str:
    """The ``said`` message the hub would broadcast for ``text``, made by the publisher.

    The other systems broadcast it (the naive one without its first characters, which it
    replaces with its own prefix), so that every system sends messages of the same size
    that compress alike: the ``seq`` and the time stamp change with every message, which
    permessage-deflate cannot compress away as it would a repeated padding.
    """
    said = Said(room=ROOM, user="publisher", text=text, seq=number + 1, ts=time.time())
    return encode(said)


# -- results --------------------------------------------------------------------------------


@dataclass
class FanoutRun:
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
    cpu_seconds: float = math.nan
    """CPU time the server's thread used during the run."""
    round: int = 0
    """Which round of the paired runs without a stall (0 for a run with a stall)."""

    @property
    def expected(self) -> int:
        return self.readers * self.messages

    @property
    def rate(self) -> float:
        """Deliveries per second."""
        return self.delivered / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_delivery(self) -> float:
        """Server CPU seconds per delivery."""
        return self.cpu_seconds / self.delivered if self.delivered else math.nan


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
    runs: list[FanoutRun] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    after_stall: dict[str, FanoutRun] = field(default_factory=dict)
    """Per system that dropped its stalled client: a run right after, with the same clients."""

    def stall_share(self, system: str) -> float:
        """The rate with a stalled client / without: the run made right after it if there
        is one (the same clients, the same moment of the machine), else the median round."""
        base = self.after_stall.get(system) or self.run(system, False)
        return self.run(system, True).rate / base.rate if base.rate else 0.0

    def rounds(self, system: str, stalled: bool = False) -> list[FanoutRun]:
        return [run for run in self.runs if (run.system, run.stalled) == (system, stalled)]

    def run(self, system: str, stalled: bool) -> FanoutRun:
        """The run of ``system``; without a stall, the one of median rate over the rounds."""
        runs = sorted(self.rounds(system, stalled), key=lambda run: run.rate)
        return runs[(len(runs) - 1) // 2]

    def ratio(self, system: str, base: str) -> float:
        """The median, over the rounds without a stall, of ``system``'s rate / ``base``'s."""
        bases = {run.round: run.rate for run in self.rounds(base)}
        return statistics.median(
            run.rate / bases[run.round] if bases.get(run.round) else 0.0
            for run in self.rounds(system)
        )

    def cpu_ratio(self, system: str, base: str) -> float:
        """Server CPU per delivery of ``system`` / ``base``'s, medians over the rounds."""
        mine = statistics.median(run.cpu_per_delivery for run in self.rounds(system))
        theirs = statistics.median(run.cpu_per_delivery for run in self.rounds(base))
        return mine / theirs if theirs else math.nan


# -- the measurement ------------------------------------------------------------------------


def raise_open_file_limit(needed: int) -> tuple[int, int] | None:
    """Raise this process's soft limit on open files (at most to the hard limit) if needed.

    Returns the (soft, hard) limits now in force, -1 meaning unlimited; None on Windows,
    which has no such limit to raise (and no ``resource`` module).
    """
    if sys.platform == "win32":
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        with contextlib.suppress(ValueError, OSError):  # e.g. macOS caps it lower still
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def measure_broadcast(
    clients: int = 1000,
    messages: int = 120,
    *,
    queue_size: int = 100,
    rounds: int = 3,
    progress: Any = None,
) -> BroadcastReport:
    """Measure the hub, the naive manager and ``websockets``' ``broadcast()``.

    Each system has ``clients`` connections: the publisher, the listeners and, in the
    runs with a stall, the stalled client. The publisher sends ``messages`` messages,
    which each system broadcasts to everyone. Without a stall, every system is served at
    once and the publishers take turns for ``rounds`` rounds. Then the hub and the naive
    manager each get one stalled client. ``queue_size`` is the hub's outbox per client:
    with more messages than that, the hub drops the stalled client during the run. A
    run with a stalled client ends once everyone else has everything, or after twice
    as long as the same system took without one (at least a second).
    ``progress`` (a tqdm bar, or None) advances once per run.
    """
    makers = [
        lambda: _hub(clients, queue_size),
        lambda: _naive(clients, queue_size),
        lambda: _reference(None),
        lambda: _reference("deflate"),
    ]
    raise_open_file_limit(len(makers) * clients + 256)  # the servers' sockets
    report = BroadcastReport(clients, messages)

    def frames_of(system: _System) -> list[str]:
        return [system.frame(f"message {n}", n) for n in range(messages)]

    with ClientProcess(len(makers) * clients) as client_process:
        systems: list[_System] = []
        try:
            for make in makers:
                systems.append(system := make())
                trace = system.name in ("hub", "naive")
                memory = _connect(system, client_process, clients, trace=trace)
                if memory is not None:
                    report.memory.append(memory)
            for number in range(1, rounds + 1):
                for system in systems:
                    run = _publish(system, client_process, frames_of(system), NO_STALL_TIMEOUT)
                    run.round = number
                    report.runs.append(run)
                    if progress is not None:
                        progress.update(1)
        finally:
            client_process.ask("reset")
            for system in systems:
                system.stop()
        for make in makers[:2]:
            system = make()
            deadline = max(1.0, 2 * report.run(system.name, False).seconds)
            try:
                client_process.ask("stall", system.name, system.url("stalled", 0))
                publisher = system.url("publisher", 1)
                client_process.ask("publisher", system.name, publisher, system.counted)
                _fill(system, client_process)
                _connect(system, client_process, clients, trace=False, stalled=True)
                run = _publish(system, client_process, frames_of(system), deadline, stalled=True)
                if run.dropped:  # the same clients a moment later, the stalled one gone
                    report.after_stall[system.name] = _publish(
                        system, client_process, frames_of(system), NO_STALL_TIMEOUT
                    )
            finally:
                client_process.ask("reset")
                system.stop()
            report.runs.append(run)
            if progress is not None:
                progress.update(1)
    return report


@dataclass(frozen=True)
class FanOut:
    """What one system's fan-out costs: medians over the rounds."""

    rate: float
    """Deliveries per second, counted at the clients."""
    cpu: float
    """CPU seconds the server's thread spent per delivery."""


def fan_out_costs(
    systems: dict[str, tuple[Any, Callable[[int], str]]],
    clients: int = 100,
    messages: int = 100,
    rounds: int = 3,
) -> dict[str, FanOut]:
    """Measure each system's fan-out, clients in a second process, systems in turns.

    ``systems`` maps a name to ``(server, url)``: the server from :func:`~ws_lessons.serve`
    whose thread does the work, and ``url(n)``, the URL client ``n`` connects to. Client 0
    sends ``messages`` text messages one at a time, as in a chat: the next once every
    client (client 0 too) has the one before. Returns each system's medians over
    ``rounds`` rounds, in the order given.
    """
    raise_open_file_limit(len(systems) * clients + 256)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in systems}
    frames = [f"message {n}" for n in range(messages)]
    with ClientProcess(len(systems) * clients) as process:
        try:
            for name, (_, url) in systems.items():
                process.ask("publisher", name, url(0), None)
                process.ask("connect", name, [url(n) for n in range(1, clients)], None, False)
            for _ in range(rounds):
                for name, (server, _) in systems.items():
                    cpu = server.run(_thread_time())
                    reply = process.ask("publish", name, frames, 30.0, True, takes=30)
                    delivered, seconds = reply[:2]
                    cpu = server.run(_thread_time()) - cpu
                    cpu = cpu / delivered if delivered else math.nan
                    runs[name].append((delivered / seconds, cpu))
        finally:
            process.ask("reset")
    return {
        name: FanOut(
            statistics.median(rate for rate, _ in values),
            statistics.median(cpu for _, cpu in values),
        )
        for name, values in runs.items()
    }


def _connect(
    system: _System, clients: ClientProcess, count: int, *, trace: bool, stalled: bool = False
) -> Memory | None:
    """Connect the publisher (unless it is there already) and the listeners, up to ``count``
    clients in all; with ``trace``, measure the memory the listeners take on each side."""
    group = system.name
    if not stalled:
        clients.ask("publisher", group, system.url("publisher", 1), system.counted)
    listeners = count - 1 - stalled
    urls = [system.url("listener", number) for number in range(2, 2 + listeners)]
    if not trace:
        clients.ask("connect", group, urls, system.counted, False)
        system.server.run(_settled(system, count))
        return None
    system.server.run(_settled(system, 1))  # the publisher is in: trace the listeners only
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        client_bytes, client_deflate, _ = clients.ask("connect", group, urls, system.counted, True)
        system.server.run(_settled(system, count))
        server_bytes = tracemalloc.get_traced_memory()[0] - before
        server_deflate = _deflate_bytes()
    finally:
        tracemalloc.stop()
    return Memory(
        system.name, listeners, server_bytes, client_bytes, server_deflate, client_deflate
    )


def _publish(
    system: _System,
    clients: ClientProcess,
    frames: list[str],
    deadline: float,
    stalled: bool = False,
) -> FanoutRun:
    """Have the publisher send ``frames``; time until every reader has them all."""
    cpu = system.server.run(_thread_time())
    delivered, seconds, timed_out, message_bytes, readers = clients.ask(
        "publish", system.name, frames, deadline, takes=deadline
    )
    cpu = system.server.run(_thread_time()) - cpu
    count = system.server.run(_call(system.connected))
    return FanoutRun(
        system.name,
        stalled,
        readers,
        len(frames),
        delivered,
        seconds,
        timed_out,
        message_bytes,
        dropped=count < readers + 1 if stalled else None,
        cpu_seconds=cpu,
    )


def _fill(system: _System, clients: ClientProcess) -> None:
    """Broadcast large messages until the server's writes to the stalled client pause."""
    frame = system.frame("x" * (FILL_MESSAGE - 200), 0)
    for _ in range(FILL_LIMIT // FILL_MESSAGE // 4):
        clients.ask("fill", system.name, frame, 4)
        if system.server.run(_pushing_back(system.server)):
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


async def _call(function: Callable[[], Any]) -> Any:
    return function()


async def _thread_time() -> float:
    """The CPU time of the thread this runs on: run it on a server's loop."""
    return time.thread_time()


async def _settled(system: _System, clients: int) -> None:
    """Wait until the app counts every client (the last joins may lag the handshakes)."""
    async with asyncio.timeout(10):
        while system.connected() < clients:
            await asyncio.sleep(0.01)


# -- the client process ---------------------------------------------------------------------


class ClientProcess:
    """A second Python process that holds clients and answers commands over a socket pair.

    Clients are kept in named groups, one per system measured. It runs as ``python -m
    ws_lessons.fanout`` rather than through ``multiprocessing``, which would import the
    caller's main module again (a notebook's, a test runner's). ``clients``: how many
    connections it may hold at once (it raises its open-file limit for them).
    """

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.process: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None

    def __enter__(self) -> ClientProcess:
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


class _Group:
    """The clients of one system: publishers, readers counting deliveries, maybe a stalled one."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.senders: list[Any] = []
        self.delivered = 0
        self.delivered_bytes = 0
        self.target = 0
        self.done = asyncio.Event()

    def count(self, ws: Any, counted: Counted) -> None:
        async def read() -> None:
            from websockets.exceptions import ConnectionClosed

            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    if counted is None or counted(message):
                        self.delivered += 1
                        self.delivered_bytes += len(message)
                        if self.delivered >= self.target:
                            self.done.set()

        self.readers.append(asyncio.create_task(read()))

    async def reset(self) -> None:
        """Cut every connection at once: a TCP reset, since a stalled client reads no close."""
        for ws in self.connections:
            ws.transport.abort()
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


class _Clients:
    """The client side: groups of clients, and the commands the benchmark sends them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.groups: dict[str, _Group] = {}

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

    async def _connect(self, group: str, url: str, **options: Any) -> Any:
        from websockets.asyncio.client import connect

        async with asyncio.timeout(10):
            # The client's own keepalive pings are off: they would only add noise.
            ws = await connect(url, ping_interval=None, **options)
        self.groups.setdefault(group, _Group()).connections.append(ws)
        return ws

    # -- commands ---------------------------------------------------------------------------

    async def stall(self, group: str, url: str) -> None:
        # No compression, so that every byte sent fills a buffer. max_queue=1: the library
        # stops reading the socket once one message waits unread, and none will be read.
        await self._connect(group, url, compression=None, max_queue=1)

    async def publisher(
        self, group: str, url: str, counted: Counted, compression: str | None = "deflate"
    ) -> None:
        ws = await self._connect(group, url, compression=compression)
        self.groups[group].senders.append(ws)
        self.groups[group].count(ws, counted)

    async def fill(self, group: str, frame: str, times: int) -> None:
        # A naive server stops reading the publisher once it is stuck: do not wait for it.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                for _ in range(times):
                    await self.groups[group].senders[0].send(frame)

    async def connect(
        self,
        group: str,
        urls: list[str],
        counted: Counted,
        trace: bool,
        compression: str | None = "deflate",
    ) -> tuple[int, int, float]:
        """Connect a reader to each URL, a batch of handshakes at a time. Returns the memory
        that took and the part permessage-deflate took (0 without ``trace``), and the time."""
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for start in range(0, len(urls), HANDSHAKES_AT_ONCE):
                batch = urls[start : start + HANDSHAKES_AT_ONCE]
                opened = [self._connect(group, url, compression=compression) for url in batch]
                for ws in await asyncio.gather(*opened):
                    self.groups[group].count(ws, counted)
            seconds = time.perf_counter() - started
            used = tracemalloc.get_traced_memory()[0] - before
            deflate = _deflate_bytes() if trace else 0
        finally:
            if trace:
                tracemalloc.stop()
        await asyncio.sleep(0.1)  # the welcome messages arrive before the count starts
        return used, deflate, seconds

    async def publish(
        self, group: str, frames: list[str], deadline: float, paced: bool = False
    ) -> tuple[int, float, bool, float, int]:
        """Each publisher sends ``frames``; wait until every reader has them all, or
        ``deadline`` seconds. ``paced``: send each frame only once every reader has the
        one before. Returns deliveries, seconds, whether it timed out, the average size
        of a delivery, and the number of readers."""
        clients = self.groups[group]
        clients.delivered = clients.delivered_bytes = 0
        readers = len(clients.readers)
        clients.target = len(frames) * readers
        clients.done.clear()
        started = time.perf_counter()
        timed_out = False
        try:
            async with asyncio.timeout(deadline):
                for number, frame in enumerate(frames, 1):
                    if paced:
                        clients.target = number * readers
                        clients.done.clear()
                    for sender in clients.senders:
                        await sender.send(frame)
                    if paced:
                        await clients.done.wait()
                await clients.done.wait()
        except TimeoutError:
            timed_out = True
        seconds = time.perf_counter() - started
        delivered = clients.delivered
        size = clients.delivered_bytes / delivered if delivered else 0.0
        return delivered, seconds, timed_out, size, len(clients.readers)

    async def reset(self, group: str | None = None) -> None:
        """Cut the connections of ``group``, or of every group."""
        for name in [group] if group is not None else list(self.groups):
            if name in self.groups:
                await self.groups.pop(name).reset()


if __name__ == "__main__":
    _client_main(int(sys.argv[1]), int(sys.argv[2]))
