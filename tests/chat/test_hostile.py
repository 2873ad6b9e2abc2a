"""Hostile clients against the real servers, each started as a child process (lesson 10).

Each test runs one attack against ``python -m ws_lessons serve chat`` (or ``serve
scratch``) on loopback while three well-behaved clients chat in a room of their own:
they must lose nothing. Memory is the server process's RSS (psutil), the log is what
the process wrote. Set ``WS_LESSONS_BEFORE`` to a copy of an older package to run the
same attacks against it, and ``WS_LESSONS_FIGURES`` to a file to collect the figures.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import resource
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ws_lessons.apps import echo_app
from ws_lessons.chat import tokens
from ws_lessons.chat.broker import MemoryBroker
from ws_lessons.frames import Frame, FrameReader, Opcode, encode, parse_close
from ws_lessons.limits import HideQueryValues, Limits, _Lingering, quiet_accept_errors
from ws_lessons.server import serve

pytestmark = pytest.mark.anyio

SECRET = "hostile-secret"
START = 30.0  # hang guards, never expected to be reached
GUARD = 20.0
BEFORE = os.environ.get("WS_LESSONS_BEFORE")
FIGURES = os.environ.get("WS_LESSONS_FIGURES")
MiB = 2**20


def record(attack: str, **figures: Any) -> None:
    """Keep a measured figure (for the before/after table), if asked to."""
    if FIGURES:
        with open(FIGURES, "a", encoding="utf-8") as file:
            print(json.dumps({"attack": attack, "before": bool(BEFORE), **figures}), file=file)


def token(user: str) -> str:
    return tokens.issue(user, SECRET)


class Child:
    """A server running in a child process: its port, memory and log."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path, port: int) -> None:
        self.process = process
        self.log_path = log
        self.port = port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def rss(self) -> int:
        return psutil.Process(self.process.pid).memory_info().rss

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tracebacks(self) -> int:
        return self.log.count("Traceback")


def _low_open_files(limit: int) -> Any:
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return lower


@contextlib.contextmanager
def child(app: str, tmp_path: Path, *options: str, nofile: int | None = None) -> Iterator[Child]:
    """``python -m ws_lessons serve <app>`` on a free port, stopped on the way out."""
    command = [sys.executable, "-m", "ws_lessons", "serve", app, "--port", "0"]
    if app == "chat":
        command += ["--ping-interval", "60"]
        command += ["--secret", SECRET] if BEFORE else []  # older packages: an option
    if not BEFORE:  # an older package does not know the new options
        command += options
    env = os.environ | ({"PYTHONPATH": BEFORE} if BEFORE else {}) | {"WS_LESSONS_SECRET": SECRET}
    # glibc returns a freed block of 128 KiB or more to the system at once: RSS then shows
    # what the server holds, not what the allocator kept for later.
    env["MALLOC_MMAP_THRESHOLD_"] = str(128 * 1024)
    log = tmp_path / f"{app}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=BEFORE,  # None: this one; else the older package, found first in its folder
            preexec_fn=None if nofile is None else _low_open_files(nofile),
        )
    try:
        port = None
        for _ in range(int(START * 10)):
            if found := re.search(
                r"(?:running on http|echo server on ws)://[\d.]+:(\d+)", log.read_text()
            ):
                port = int(found[1])
                break
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
        assert port is not None, log.read_text()
        yield Child(process, log, port)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Calm:
    """Three clients that chat in a room of their own all along; each must get everything."""

    def __init__(self, server: Child, count: int = 3) -> None:
        self.server = server
        self.users = [f"calm{n}" for n in range(count)]
        self.sent = 0
        self.received: dict[str, list[int]] = {user: [] for user in self.users}
        self.clients: list[ClientConnection] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.stop = asyncio.Event()

    async def __aenter__(self) -> Calm:
        for user in self.users:
            async with asyncio.timeout(GUARD):
                ws = await connect(self.server.ws_url(f"/ws/calm?token={token(user)}"))
                while json.loads(await ws.recv())["type"] != "welcome":
                    pass
            self.clients.append(ws)
            self.tasks.append(asyncio.create_task(self._read(user, ws)))
        for ws in self.clients:
            self.tasks.append(asyncio.create_task(self._talk(ws)))
        return self

    async def _talk(self, ws: ClientConnection) -> None:
        while not self.stop.is_set():
            self.sent += 1
            await ws.send(json.dumps({"type": "say", "text": f"calm {self.sent}"}))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 0.25)  # 4 a second: under the rate

    async def _read(self, user: str, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                message = json.loads(frame)
                if message["type"] == "said":
                    self.received[user].append(message["seq"])

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks[len(self.users) :])
        with contextlib.suppress(TimeoutError):  # the assertion below says what was lost
            async with asyncio.timeout(GUARD):
                while any(len(seqs) < self.sent for seqs in self.received.values()):
                    if any(ws.close_code is not None for ws in self.clients):
                        break
                    await asyncio.sleep(0.05)
        for ws in self.clients:
            await ws.close()
        await asyncio.gather(*self.tasks)
        expected = list(range(1, self.sent + 1))
        lost = sum(len(set(expected) - set(seqs)) for seqs in self.received.values())
        if BEFORE:
            record("calm clients", sent=self.sent, lost=lost)
            return
        assert all(seqs == expected for seqs in self.received.values()), f"calm lost {lost}"


async def open_socket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with asyncio.timeout(GUARD):
        return await asyncio.open_connection("127.0.0.1", port)


def upgrade(path: str, *headers: str, host: str = "127.0.0.1") -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(secrets.token_bytes(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def raw_websocket(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand: the test then writes any frame it likes."""
    reader, writer = await open_socket(port)
    writer.write(upgrade(path))
    async with asyncio.timeout(GUARD):
        head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def status_of(port: int, request: bytes, pieces: int = 1) -> int:
    """Send ``request`` in ``pieces`` writes; return the status of the answer (0: none)."""
    reader, writer = await open_socket(port)
    size = -(-len(request) // pieces)
    try:
        for start in range(0, len(request), size):
            writer.write(request[start : start + size])
            await writer.drain()
            await asyncio.sleep(0.01)
        async with asyncio.timeout(GUARD):
            line = await reader.readline()
    except ConnectionError:
        return 0
    finally:
        writer.close()
    return int(line.split()[1]) if line else 0


async def close_code(reader: asyncio.StreamReader) -> int | None:
    """Read a server's frames up to its close frame; its code, or None if the TCP closed first."""
    frames = FrameReader("client")
    with contextlib.suppress(ConnectionError, TimeoutError):
        async with asyncio.timeout(GUARD):
            while data := await reader.read(2**16):
                for frame in frames.feed(data):
                    if frame.opcode is Opcode.CLOSE:
                        return int(parse_close(frame.payload)[0])
    return None


def ping(payload: bytes = b"p" * 125) -> bytes:
    return encode(Frame(Opcode.PING, payload), mask=secrets.token_bytes(4))


# -- 1. sockets that send nothing, or a byte a second --------------------------------------


async def test_idle_sockets_never_lock_a_new_client_out(tmp_path: Path) -> None:
    """Under 256 open files, 300 idle or slow sockets; a new client still gets in."""
    with child("chat", tmp_path, "--request-timeout", "2", nofile=256) as server:
        async with Calm(server):
            idle = [await open_socket(server.port) for _ in range(300)]
            for _, writer in idle[:20]:  # slowloris: a head that never ends, a byte at a time
                writer.write(b"GET /healthz HTTP/1.1\r\nX: ")
            async with httpx.AsyncClient(timeout=5) as http:
                try:
                    answer = (await http.get(server.url("/healthz"))).status_code
                except httpx.TimeoutException:
                    answer = 0  # locked out
            closed = 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3 if BEFORE else GUARD):
                    for reader, writer in idle:
                        with contextlib.suppress(ConnectionError):
                            while await reader.read(2**16):
                                writer.write(b"x")  # a byte now and then: still too slow
                        closed += 1
            for _, writer in idle:
                writer.close()
        record("idle sockets", healthz=answer, closed=closed, log=len(server.log))
        record("idle sockets", tracebacks=server.tracebacks())
        assert answer == 200
        assert closed == len(idle)  # each got 408, or made room for a newcomer
        assert server.tracebacks() == 0
        assert len(server.log) < 20_000  # a few lines per burst, not per socket
        assert "408" in server.log and "open files: soft limit 256" in server.log


async def test_beyond_the_cap_a_new_client_gets_503(tmp_path: Path) -> None:
    with child("chat", tmp_path, "--max-clients", "8") as server:
        async with Calm(server):
            held = [
                await connect(server.ws_url(f"/ws/full?token={token(f'u{n}')}")) for n in range(5)
            ]
            with pytest.raises(InvalidStatus) as refused:
                async with asyncio.timeout(GUARD):
                    await connect(server.ws_url(f"/ws/full?token={token('late')}"))
            async with httpx.AsyncClient(timeout=GUARD) as http:
                assert (await http.get(server.url("/healthz"))).status_code == 503
                await held.pop().close()
                for _ in range(100):  # the server hears of the close on its own
                    if (await http.get(server.url("/healthz"))).status_code == 200:
                        break
                    await asyncio.sleep(0.05)
            async with connect(server.ws_url(f"/ws/full?token={token('late')}")):
                pass
            for ws in held:
                await ws.close()
    assert refused.value.response.status_code == 503
    assert server.log.count("503: 8 connections open") == 1  # once per burst


def test_accept_errors_are_logged_once_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        burst = quiet_accept_errors(loop)
        error = OSError(24, "Too many open files")
        with caplog.at_level(logging.INFO, "uvicorn.error"):
            for _ in range(1000):
                message = "socket.accept() out of system resource"
                loop.call_exception_handler({"message": message, "exception": error})
    finally:
        loop.close()
    assert burst.total == 1000
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is None


# -- 2. a body of any size --------------------------------------------------------------


async def test_a_huge_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with child("chat", tmp_path) as server:
        async with Calm(server):
            before = server.rss()
            head = b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            statuses = []
            for framing in [b"Content-Length: %d\r\n\r\n" % (100 * MiB)] * 2 + [
                b"Transfer-Encoding: chunked\r\n\r\n"
            ]:
                reader, writer = await open_socket(server.port)
                writer.write(head + framing)
                chunk = b"x" * MiB
                if b"chunked" in framing:
                    chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
                with contextlib.suppress(ConnectionError, TimeoutError):
                    async with asyncio.timeout(10):
                        for _ in range(30):  # 30 MiB at most: the rest would not change a thing
                            writer.write(chunk)
                            await writer.drain()
                with contextlib.suppress(ConnectionError, TimeoutError):
                    async with asyncio.timeout(3 if BEFORE else GUARD):
                        statuses.append(int((await reader.readline()).split()[1]))
                writer.close()
            grew = server.rss() - before
        record("100 MiB body", statuses=statuses, grew_mib=round(grew / MiB, 1))
        assert statuses == [413, 413, 413]
        assert grew < 10 * MiB
        assert server.tracebacks() == 0


async def test_a_slow_body_is_cut_at_the_deadline(tmp_path: Path) -> None:
    with child("chat", tmp_path, "--request-timeout", "1") as server:
        reader, writer = await open_socket(server.port)
        writer.write(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        async with asyncio.timeout(GUARD):  # a byte a second would take 50 s
            with contextlib.suppress(ConnectionError):
                while await reader.read(1024):
                    pass
        writer.close()
        async with httpx.AsyncClient(timeout=GUARD) as http:
            assert (await http.get(server.url("/healthz"))).status_code == 200
    assert server.tracebacks() == 0


# -- 3, 6. pings ---------------------------------------------------------------------------


@pytest.mark.parametrize("reads", [False, True], ids=["never reads", "reads"])
async def test_a_ping_flood_closes_the_flooder_only(tmp_path: Path, reads: bool) -> None:
    with child("chat", tmp_path) as server:
        async with Calm(server):
            before = server.rss()
            reader, writer = await raw_websocket(server.port, f"/ws/x?token={token('flood')}")
            reading = asyncio.create_task(close_code(reader)) if reads else None
            sent, cut = 0, False
            try:  # until the server cuts the connection; a reader stops once told why
                async with asyncio.timeout(GUARD):
                    while not (reading and reading.done()):
                        writer.write(ping() * 1000)  # 1,000 pings of 125 bytes: 131 KB
                        await writer.drain()
                        sent += 1000
            except ConnectionError:
                cut = True
            except TimeoutError:
                pass  # never cut: the assertion below says so
            await asyncio.sleep(1)  # what the server holds now
            grew = server.rss() - before
            code = await reading if reading else await close_code(reader)
            writer.close()
        record("ping flood", reads=reads, pings_sent=sent, grew_mib=round(grew / MiB, 1), code=code)
        assert grew < 8 * MiB
        assert code == 1008 or not reads  # a reader sees why; a non-reader may be cut first
        assert cut or reads  # the server stopped taking them: it cut a client that went on
        assert server.tracebacks() == 0


# -- 4. rooms ------------------------------------------------------------------------------


@pytest.mark.slow
async def test_rooms_are_forgotten_once_idle(tmp_path: Path) -> None:
    options = ("--keep-rooms", "0", "--max-rooms", "20")
    with child("chat", tmp_path, *options) as server:
        async with Calm(server):
            before = server.rss()
            text = json.dumps({"type": "say", "text": "x" * 1000})
            for n in range(300):
                async with connect(server.ws_url(f"/ws/r{n}?token={token('roomer')}")) as ws:
                    for _ in range(10):
                        await ws.send(text)
                    said = 0
                    async with asyncio.timeout(GUARD):
                        while said < 10:
                            said += json.loads(await ws.recv())["type"] == "said"
            await asyncio.sleep(0.5)
            grew = server.rss() - before
            async with connect(server.ws_url(f"/ws/r0?since=0&token={token('back')}")) as ws:
                welcome = json.loads(await ws.recv())
        record("3,000 messages in 300 rooms", grew_mib=round(grew / MiB, 1), seq=welcome["seq"])
        assert welcome["seq"] == 0  # forgotten: nothing to replay
        assert grew < 4 * MiB


async def test_a_room_name_that_is_only_dots_or_too_long_is_refused(tmp_path: Path) -> None:
    with child("chat", tmp_path) as server:
        statuses = {
            room: await status_of(server.port, upgrade(f"/ws/{room}?token={token('ada')}"))
            for room in [".", "..", "x" * 33, "%2e%2e", "a%2Fb", "a.b"]
        }
    record("room names", **statuses)
    assert statuses.pop("a.b") == 101
    assert set(statuses.values()) <= {400, 403, 404}  # refused: by the parser, or the route


def test_memory_broker_keeps_a_room_while_used_then_for_a_while() -> None:
    now = [0.0]
    broker = MemoryBroker(keep_for=60, max_rooms=2, clock=lambda: now[0])

    async def scenario() -> None:
        for room in ["a", "b", "c"]:
            broker.members_changed(room, True)
            await broker.publish(room, "ada", "hello")
        now[0] = 1000.0  # occupied rooms are kept however long
        broker.members_changed("a", False)
        assert broker.rooms == 3 and await broker.history("a", 0)
        now[0] = 1059.0
        broker.members_changed("b", False)
        now[0] = 1100.0
        broker.members_changed("c", False)  # three idle rooms, two kept: "a" goes first
        assert broker.rooms == 2 and not await broker.history("a", 0)
        now[0] = 1119.0  # "b" idle for 60 s
        broker.members_changed("d", True)
        assert await broker.last_seq("b") == 0 and await broker.last_seq("c") == 1

    asyncio.run(scenario())


# -- 5. the scratch server and a reader that never reads ----------------------------------


async def test_scratch_lets_go_of_a_message_nobody_reads(tmp_path: Path) -> None:
    """Two clients in turn send 16 MiB and never read the echo, nor close."""
    with child("scratch", tmp_path, "--request-timeout", "1") as server:
        before = server.rss()
        grew = []
        writers = []
        for n in range(1, 3):
            _, writer = await raw_websocket(server.port, "/")
            writers.append(writer)
            payload = bytes(16 * MiB - 16)
            header = bytes([0x82, 0x80 | 127]) + len(payload).to_bytes(8, "big") + bytes(4)
            writer.write(header + payload)  # masked with a zero key: the payload as is
            await writer.drain()
            async with asyncio.timeout(60):  # a hang guard: the write deadline is 1 s
                while server.log.count("cut: it does not read") < n:
                    await asyncio.sleep(0.05)
                while (server.rss() - before) // MiB >= 8:  # let go of, a moment after
                    await asyncio.sleep(0.05)
            grew.append((server.rss() - before) // MiB)
        for writer in writers:
            writer.close()
    record("16 MiB to a non-reader, twice (scratch)", grew_mib=grew)
    assert max(grew) < 8
    assert server.log.count("cut: it does not read") == 2


async def test_scratch_bounds_pings_and_its_handshake(tmp_path: Path) -> None:
    with child("scratch", tmp_path, "--request-timeout", "1") as server:
        reader, writer = await raw_websocket(server.port, "/")
        writer.write(ping() * 1000)
        assert await close_code(reader) == 1008
        writer.close()
        silent = await status_of(server.port, b"GET / HTTP/1.1\r\n")
        big = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"y" * 20_000 + b"\r\n\r\n"
        statuses = [await status_of(server.port, big, pieces) for pieces in (1, 5)]
    assert silent == 408 and statuses == [431, 431]
    assert server.tracebacks() == 0


# -- 7, 8. logs ----------------------------------------------------------------------------


async def test_tokens_never_reach_the_log(tmp_path: Path) -> None:
    secret = token("ada")
    with child("chat", tmp_path) as server:
        async with Calm(server), httpx.AsyncClient(timeout=GUARD) as http:
            await http.get(server.url(f"/healthz?token={secret}"))
            async with connect(server.ws_url(f"/ws/lobby?token={secret}")) as ws:
                await ws.recv()
        leaked = server.log.count(secret)
    record("tokens in the log", leaked=leaked)
    assert leaked == 0
    assert '"WebSocket /ws/lobby?token=…" [accepted]' in server.log
    assert '"GET /healthz?token=… HTTP/1.1" 200' in server.log


async def test_invalid_utf8_is_one_info_line_each(tmp_path: Path) -> None:
    with child("chat", tmp_path) as server:
        async with Calm(server):
            codes = []
            for _ in range(50):
                reader, writer = await raw_websocket(server.port, f"/ws/x?token={token('bad')}")
                writer.write(encode(Frame(Opcode.TEXT, b"\xff\xfe"), mask=secrets.token_bytes(4)))
                codes.append(await close_code(reader))
                writer.close()
        record("invalid UTF-8 x 50", tracebacks=server.tracebacks(), codes=sorted(set(codes)))
        assert codes == [1007] * 50
        assert server.tracebacks() == 0
        assert server.log.count("closed 1007 invalid UTF-8") == 50
        assert "ERROR" not in server.log


def test_hide_query_values_rewrites_uvicorn_arguments() -> None:
    record_ = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s"',
        ("1.2.3.4", "GET", "/a?x=1&token=s3cret&y=2"),
        None,
    )
    HideQueryValues().filter(record_)
    assert record_.getMessage() == '1.2.3.4 - "GET /a?x=1&token=…&y=2"'


# -- 10. Origin and the head ---------------------------------------------------------------


async def test_origin_is_checked_against_the_servers_address_never_host(tmp_path: Path) -> None:
    with child("chat", tmp_path) as server:
        path = f"/ws/lobby?token={token('ada')}"
        rebound = f"evil.example:{server.port}"
        here = f"127.0.0.1:{server.port}"
        attacks = {
            "rebinding": upgrade(path, f"Origin: http://{rebound}", host=rebound),
            "own address": upgrade(path, f"Origin: http://{here}", host=here),
            "localhost": upgrade(path, f"Origin: http://localhost:{server.port}", host=here),
            "another port": upgrade(path, f"Origin: http://127.0.0.1:{server.port + 1}", host=here),
        }
        statuses = {
            name: await status_of(server.port, request) for name, request in attacks.items()
        }
    record("Origin", **statuses)
    assert statuses == {"rebinding": 403, "own address": 101, "localhost": 101, "another port": 403}


async def test_a_head_over_the_limit_gets_431_however_it_arrives(tmp_path: Path) -> None:
    with child("chat", tmp_path) as server:
        headers = [f"X-Filler-{n}: {'y' * 4000}" for n in range(16)]  # 64 KiB
        statuses = {}
        for name, request in {
            "websocket": upgrade(f"/ws/lobby?token={token('ada')}", *headers),
            "http": (
                "GET /healthz HTTP/1.1\r\nHost: x\r\n" + "\r\n".join(headers) + "\r\n\r\n"
            ).encode(),
        }.items():
            for pieces in (1, 16):
                statuses[f"{name}, {pieces} writes"] = await status_of(server.port, request, pieces)
    record("64 KiB head", **statuses)
    assert set(statuses.values()) == {431}
    assert server.tracebacks() == 0


async def test_a_client_closed_for_a_protocol_error_reads_why_while_still_writing() -> None:
    """After its close frame the server half-closes and reads on until the client closes.

    Closing a socket with unread data resets the connection; a client that is still
    writing then meets the reset and loses the close frame before reading it.
    """
    with serve(echo_app(), limits=Limits(linger=GUARD)) as server:  # linger: a hang guard
        reader, writer = await raw_websocket(server.port, "/")
        writer.write(ping() * 10_000)  # 1.3 MB: over the ping budget, and more than one read
        await writer.drain()
        code = await close_code(reader)
        for _ in range(10):  # a busy client writes on before it acts on the close frame
            writer.write(ping() * 1000)
            await writer.drain()
        async with asyncio.timeout(GUARD):
            rest = await reader.read()
        writer.close()
    assert code == 1008
    assert rest == b""  # then the end of the stream: nothing after the close frame


async def test_a_closed_connection_that_never_drains_is_cut() -> None:
    """asyncio's close() waits for the buffer to drain; a peer that never reads never lets it."""
    lost = asyncio.Event()

    class Writer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            transport.write(bytes(32 * MiB))  # more than the kernel's buffers take
            _Lingering(transport, linger=0.2).close()

        def connection_lost(self, exc: Exception | None) -> None:
            lost.set()

    server = await asyncio.get_running_loop().create_server(Writer, "127.0.0.1", 0)
    async with server:
        _, writer = await open_socket(server.sockets[0].getsockname()[1])  # and never read
        async with asyncio.timeout(GUARD):
            await lost.wait()
        writer.close()
