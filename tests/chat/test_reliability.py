"""Faults the chat survives: silent peers, restarts, crashes (lesson 11).

Real servers, real clients: uvicorn in this process, or ``python -m ws_lessons serve
chat`` in a subprocess that the tests kill.
"""

import asyncio
import contextlib
import functools
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from chatkit import SECRET, receive, token
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ws_lessons import handshake
from ws_lessons.chat import ChatClient, SqliteBroker, backoff, create_app
from ws_lessons.services import free_port

pytestmark = pytest.mark.anyio

TIMEOUT = 10.0
FAST = functools.partial(backoff, initial=0.05, cap=0.5)
"""Retry quickly: these tests stop servers on purpose."""
POSIX = os.name == "posix"


async def say(ws: ClientConnection, text: str) -> int:
    """Say ``text`` and return its ``seq``, once the server has sent it back."""
    await ws.send(json.dumps({"type": "say", "text": text}))
    while True:
        said = await receive(ws, "said")
        if said["text"] == text:
            return said["seq"]


@contextlib.asynccontextmanager
async def join(
    url: str, user: str, room: str = "lobby", **options: Any
) -> AsyncIterator[ClientConnection]:
    """A connection of ``user`` to the chat at ``ws://...`` ``url``, its welcome read."""
    async with asyncio.timeout(TIMEOUT):
        ws = await connect(f"{url}/ws/{room}?token={token(user)}", **options)
    async with ws:
        assert (await receive(ws))["type"] == "welcome"
        yield ws


async def members(app: FastAPI) -> list[str]:
    return app.state.hub.members("lobby")


# -- heartbeats ------------------------------------------------------------------------------

# A peer that answers must stay: its pong may wait for a busy machine to schedule the test's
# loop, so the timeout is generous; the upper bounds below are hang guards, not timings.
PING_INTERVAL, PING_TIMEOUT, CLOSE_TIMEOUT = 0.2, 1.5, 0.5
PINGS = {"ws_ping_interval": PING_INTERVAL, "ws_ping_timeout": PING_TIMEOUT}


async def test_a_peer_that_stops_answering_pings_is_dropped_within_the_timeout(start) -> None:
    app = create_app(secret=SECRET)
    server = start(app, uvicorn_options=PINGS)
    url = server.ws_url("").rstrip("/")
    # The silent peer sends no pings of its own and, once paused, reads nothing: the
    # server's pings stay unanswered, as with a frozen process or a vanished network.
    async with join(url, "alice") as alice, join(url, "silent", ping_interval=None) as silent:
        await receive(alice, "joined")
        loop = asyncio.get_running_loop()
        silent.transport.pause_reading()
        paused = loop.time()
        assert await receive(alice, "left") == {"type": "left", "room": "lobby", "user": "silent"}
        dropped_after = loop.time() - paused
        # Detected by the first ping sent after the pause, at most PING_INTERVAL later,
        # PING_TIMEOUT after that (a ping sent just before the pause may go unread).
        assert PING_TIMEOUT - PING_INTERVAL < dropped_after < PING_INTERVAL + PING_TIMEOUT + 10
        assert server.run(members(app)) == ["alice"]  # alice answers pings: she stays

        silent.transport.resume_reading()
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    await silent.recv()
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (1011, "keepalive ping timeout")

        await asyncio.sleep(4 * PING_INTERVAL)  # several pings later, alice is still there
        assert await say(alice, "still here") == 1


async def test_an_idle_peer_that_answers_pings_is_kept(start) -> None:
    app = create_app(secret=SECRET)
    server = start(app, uvicorn_options=PINGS)
    url = server.ws_url("").rstrip("/")
    async with join(url, "idle", ping_interval=None) as idle:
        # idle through a whole ping timeout, and a few pings more
        await asyncio.sleep(PING_INTERVAL + PING_TIMEOUT + 2 * PING_INTERVAL)
        assert server.run(members(app)) == ["idle"]
        assert await say(idle, "awake") == 1


async def test_an_application_ping_gets_a_pong_for_the_sender_only(start) -> None:
    server = start()
    url = server.ws_url("").rstrip("/")
    async with join(url, "alice") as alice, join(url, "bob") as bob:
        await alice.send(json.dumps({"type": "ping"}))
        assert await receive(alice, "pong", "said") == {"type": "pong"}
        await bob.send(json.dumps({"type": "say", "text": "after the ping"}))
        assert (await receive(bob, "said", "pong"))["type"] == "said"  # bob got no pong
        assert (await receive(alice, "said", "pong"))["type"] == "said"


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A server that completes the WebSocket handshake, then never sends or reads again."""
    connections: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = handshake.parse_request(await reader.readuntil(b"\r\n\r\n"))
        writer.write(handshake.build_response(request))
        connections.append(writer)  # kept open, never read: pings go unanswered

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_the_client_notices_a_silent_server() -> None:
    async with silent_server() as url:
        loop = asyncio.get_running_loop()
        # After a ping timeout the client sends a close frame and waits close_timeout for
        # the server to close the TCP connection, as RFC 6455 §7.1.1 asks of clients.
        options = {"ping_interval": PING_INTERVAL, "ping_timeout": PING_TIMEOUT}
        async with connect(url, **options, close_timeout=CLOSE_TIMEOUT) as ws:
            opened = loop.time()
            with pytest.raises(ConnectionClosed) as info:
                async with asyncio.timeout(TIMEOUT):
                    await ws.recv()
            noticed_after = loop.time() - opened
    assert info.value.sent is not None and info.value.sent.code == 1011
    assert PING_TIMEOUT - 0.05 < noticed_after < PING_INTERVAL + PING_TIMEOUT + CLOSE_TIMEOUT + 10


# -- history in a file -----------------------------------------------------------------------


async def test_the_sqlite_broker_keeps_seq_and_a_bounded_history(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    with SqliteBroker(path, history_size=3) as broker:
        assert await broker.last_seq("lobby") == 0
        assert await broker.history("lobby", 0) == []
        published = [await broker.publish("lobby", "ada", f"m{n}") for n in range(1, 6)]
        assert [said.seq for said in published] == [1, 2, 3, 4, 5]
        await broker.publish("other", "bob", "elsewhere")
        assert [said.text for said in await broker.history("lobby", 0)] == ["m3", "m4", "m5"]
        assert [said.seq for said in await broker.history("lobby", 4)] == [5]
        assert await broker.last_seq("lobby") == 5
    with SqliteBroker(path, history_size=3) as reopened:  # a restart: nothing is lost
        assert await reopened.history("lobby", 0) == published[2:]
        assert (await reopened.publish("lobby", "ada", "m6")).seq == 6
        concurrent = await asyncio.gather(
            *(reopened.publish("busy", "ada", str(n)) for n in range(50))
        )
        assert [said.seq for said in concurrent] == list(range(1, 51))


async def test_history_and_seq_survive_a_restart_of_the_app(start, tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    with SqliteBroker(path) as broker:
        first = start(create_app(secret=SECRET, broker=broker))
        url = first.ws_url("").rstrip("/")
        async with join(url, "alice") as alice:
            for n in range(1, 4):
                assert await say(alice, f"m{n}") == n
        first.stop()
    with SqliteBroker(path) as broker:
        start(create_app(secret=SECRET, broker=broker), uvicorn_options={"port": first.port})
        async with asyncio.timeout(TIMEOUT):
            dave = await connect(f"{url}/ws/lobby?token={token('dave')}&since=1")
        async with dave:
            assert (await receive(dave))["seq"] == 3
            assert [(await receive(dave))["text"] for _ in range(2)] == ["m2", "m3"]
            async with join(url, "carol") as carol:
                assert await say(carol, "m4") == 4
            assert (await receive(dave, "said"))["seq"] == 4


# -- the reconnecting client -----------------------------------------------------------------


def test_backoff_grows_is_capped_and_jittered() -> None:
    runs = [list(zip(range(10), backoff(0.5, 2.0, 8.0), strict=False)) for _ in range(20)]
    for run in runs:
        delays = [delay for _, delay in run]
        steps = [min(8.0, 0.5 * 2**n) for n in range(10)]
        for delay, step in zip(delays, steps, strict=True):
            assert step / 2 <= delay <= step
    assert len({run[3][1] for run in runs}) > 1  # jitter: the same step gives other delays


async def test_the_client_resumes_after_a_graceful_restart(start, tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    first = start(create_app(secret=SECRET, broker=SqliteBroker(path)))
    url = first.ws_url("").rstrip("/")
    async with ChatClient(first.url, "lobby", "reader", delays=FAST) as reader:
        async with join(url, "writer") as writer:
            for n in range(1, 4):
                await say(writer, f"before {n}")
            stopping = asyncio.create_task(asyncio.to_thread(first.stop))
            with pytest.raises(ConnectionClosed) as info:
                await receive(writer)
            await stopping
        assert info.value.rcvd is not None and info.value.rcvd.code == 1001
        start(
            create_app(secret=SECRET, broker=SqliteBroker(path)),
            uvicorn_options={"port": first.port},
        )
        async with join(url, "writer") as writer:
            last = 0
            for n in range(1, 4):
                last = await say(writer, f"after {n}")
        await reader.wait_for_seq(last, TIMEOUT)
        assert [said["seq"] for said in reader.said] == list(range(1, last + 1))
        assert [said["text"] for said in reader.said] == [
            *(f"before {n}" for n in range(1, 4)),
            *(f"after {n}" for n in range(1, 4)),
        ]
        assert reader.gaps == []
        assert "closed by the server: 1001 the server is shutting down" in reader.log
        assert any(line.startswith("connecting with since=") for line in reader.log)


async def settle(condition: Any, timeout: float = TIMEOUT) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_what_is_said_while_away_is_sent_once_after_the_replay(start, tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    first = start(create_app(secret=SECRET, broker=SqliteBroker(path)))
    url = first.ws_url("").rstrip("/")
    async with ChatClient(first.url, "lobby", "reader", delays=FAST) as reader:
        await reader.say("hello")
        await reader.wait_for_seq(1, TIMEOUT)
        assert not reader.pending
        await asyncio.to_thread(first.stop)
        await settle(lambda: not reader.connected)
        await reader.say("while away")  # kept until the server confirms it
        assert list(reader.pending) == ["while away"]
        # A text the server stored but never confirmed (the connection died first): the
        # replay will hold it, so the client must not send it again.
        with SqliteBroker(path) as broker:
            await broker.publish("lobby", "reader", "stored, unconfirmed")
        reader.pending.appendleft("stored, unconfirmed")
        start(
            create_app(secret=SECRET, broker=SqliteBroker(path)),
            uvicorn_options={"port": first.port},
        )
        await settle(lambda: not reader.pending and reader.seq == 3)
        assert [(m["seq"], m["text"]) for m in reader.said] == [
            (1, "hello"),
            (2, "stored, unconfirmed"),
            (3, "while away"),
        ]
    newcomer_url = f"{url}/ws/lobby?token={token('newcomer')}&since=0"
    async with asyncio.timeout(TIMEOUT), await connect(newcomer_url) as newcomer:
        assert (await receive(newcomer))["seq"] == 3  # nothing else was stored: no repeat
        texts = [(await receive(newcomer, "said"))["text"] for _ in range(3)]
    assert texts == ["hello", "stored, unconfirmed", "while away"]


async def test_a_text_the_server_refuses_leaves_pending(start) -> None:
    server = start(create_app(secret=SECRET, max_text=10))
    async with ChatClient(server.url, "lobby", "ada", delays=FAST) as ada:
        await ada.say("x" * 11)
        await ada.say("fits")
        await ada.wait_for_seq(1, TIMEOUT)
        assert [said["text"] for said in ada.said] == ["fits"]
        assert [(text, error["error"]) for text, error in ada.refused] == [("x" * 11, "too_long")]
        assert not ada.pending


async def test_newcomers_during_shutdown_are_told_to_come_back(start) -> None:
    app = create_app(secret=SECRET)
    server = start(app)
    url = server.ws_url("").rstrip("/")
    async with join(url, "alice") as alice:
        await asyncio.to_thread(server.run, app.state.hub.close_all())
        with pytest.raises(ConnectionClosed) as info:
            await receive(alice)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    async with asyncio.timeout(TIMEOUT):
        late = await connect(f"{url}/ws/lobby?token={token('late')}")
    with pytest.raises(ConnectionClosed) as info:
        await receive(late)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    server.stop()
    again = start(app, uvicorn_options={"port": server.port})  # served again: the doors open again
    async with join(again.ws_url("").rstrip("/"), "alice") as alice:
        assert await say(alice, "hello again") == 1


async def test_the_client_reports_a_gap_the_history_cannot_fill(start) -> None:
    server = start(create_app(secret=SECRET, history_size=2))
    url = server.ws_url("").rstrip("/")
    async with join(url, "writer") as writer:
        for n in range(1, 6):
            await say(writer, f"m{n}")
    async with ChatClient(server.url, "lobby", "late", since=1, delays=FAST) as late:
        await late.wait_for_seq(5)
        assert [said["seq"] for said in late.said] == [4, 5]
        assert late.gaps == [(2, 3)]


async def test_the_client_gives_up_when_refused_for_good(start) -> None:
    server = start(create_app(secret=SECRET, max_connections=1))
    async with join(server.ws_url("").rstrip("/"), "alice"):
        client = ChatClient(server.url, "lobby", "alice", delays=FAST)
        with pytest.raises(ConnectionError, match="too many connections"):
            await client.start(TIMEOUT)
        await client.close()
    assert client.log[-1].startswith("gave up: closed by the server: 1008")


# -- a real process, killed mid-chat ---------------------------------------------------------


class ChatProcess:
    """``python -m ws_lessons serve chat`` with a history file, its stderr collected."""

    def __init__(self, port: int, history: Path) -> None:
        self.port = port
        self.history = history
        self.stderr: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reading: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = [sys.executable, "-m", "ws_lessons", "serve", "chat"]
        command += ["--port", str(self.port), "--history", str(self.history)]
        command += ["--rate", "1000", "--burst", "1000"]
        # Close every client at once on SIGTERM: in a drain spread over the grace period,
        # the writer, closed last, would say more than the 100 messages history keeps
        # before the reader, closed first, could come back.
        command += ["--grace", "0"]
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=os.environ | {"WS_LESSONS_SECRET": SECRET},
        )
        started = asyncio.get_running_loop().create_future()
        self._reading = asyncio.create_task(self._read(started))
        async with asyncio.timeout(2 * TIMEOUT):
            await started

    async def _read(self, started: asyncio.Future[None]) -> None:
        """Keep reading stderr, so that the server never blocks on a full pipe."""
        assert self.process is not None and self.process.stderr is not None
        async for line in self.process.stderr:
            self.stderr.append(line.decode(errors="replace").rstrip())
            if not started.done() and re.search("running on http://", self.stderr[-1]):
                started.set_result(None)
        if not started.done():
            started.set_exception(RuntimeError("\n".join(self.stderr)))

    async def stop(self, how: str) -> int:
        """End the process with ``Popen.kill()`` or ``Popen.terminate()``; return its status.

        Both exist on every system (on Windows both are ``TerminateProcess``), unlike
        ``signal.SIGKILL``, which Windows does not have.
        """
        assert self.process is not None and self._reading is not None
        getattr(self.process, how)()
        async with asyncio.timeout(TIMEOUT):
            status = await self.process.wait()
            await self._reading
        return status

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if self._reading is not None:
            self._reading.cancel()


@contextlib.asynccontextmanager
async def processes() -> AsyncIterator[list[ChatProcess]]:
    """Whatever processes the test starts are killed at the end, even if it fails."""
    started: list[ChatProcess] = []
    try:
        yield started
    finally:
        for process in started:
            await process.kill()


@pytest.mark.parametrize("how", ["kill", "terminate"])
async def test_a_resumed_client_misses_nothing_across_a_server_restart(
    tmp_path: Path, how: str
) -> None:
    port, history = free_port(), tmp_path / "chat.db"
    async with processes() as started:
        first = ChatProcess(port, history)
        started.append(first)
        await first.start()
        ws_url = first.url.replace("http", "ws")
        acknowledged: dict[int, str] = {}  # what the server confirmed before it went away

        async with ChatClient(first.url, "lobby", "reader", delays=FAST) as reader:
            async with join(ws_url, "writer") as writer:

                async def write() -> None:
                    for n in range(1, 100_000):
                        await writer.send(json.dumps({"type": "say", "text": f"w{n}"}))
                        await asyncio.sleep(0.002)  # a lively chat, not a flood

                async def collect() -> None:
                    while True:
                        message = json.loads(await writer.recv())
                        if message["type"] == "said":
                            acknowledged[message["seq"]] = message["text"]

                writing = asyncio.create_task(write())
                collecting = asyncio.create_task(collect())
                await reader.wait_for_seq(20, TIMEOUT)  # mid-chat: the writer is still going
                status = await first.stop(how)
                await asyncio.wait([writing, collecting], timeout=TIMEOUT)
                for task in (writing, collecting):
                    assert task.done()
                    assert isinstance(task.exception(), ConnectionClosed)

            if how == "terminate" and POSIX:  # SIGTERM: a graceful stop
                assert status == -signal.SIGTERM  # uvicorn stops, then re-raises the signal
                assert "Finished server process" in first.stderr[-1]
                assert "closed by the server: 1001 the server is shutting down" in reader.log
                assert not [line for line in first.stderr if "Traceback" in line]
            elif how == "kill":
                assert status == (-signal.SIGKILL if POSIX else 1)  # SIGKILL: POSIX only
                assert "connection lost (no close frame)" in reader.log
            assert acknowledged  # the writer had heard back from the server

            second = ChatProcess(port, history)
            started.append(second)
            await second.start()
            async with join(ws_url, "writer") as writer:
                last = await say(writer, "after the restart")
            assert last > max(acknowledged)  # seq carried on from the file
            await reader.wait_for_seq(last, TIMEOUT)

        received = {said["seq"]: said["text"] for said in reader.said}
        assert list(received) == list(range(1, last + 1))  # in order, no gap, no repeat
        assert reader.gaps == []
        for seq, text in acknowledged.items():  # nothing confirmed before the stop is lost
            assert received[seq] == text
        assert received[last] == "after the restart"
        since = [line for line in reader.log if line.startswith("connecting with since=")]
        assert since, reader.log
        await second.stop("terminate")
        assert not [line for line in second.stderr if "Traceback" in line]
