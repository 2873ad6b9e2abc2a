"""The chat served by real uvicorn on loopback, driven by real ``websockets`` clients."""

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from chatkit import SECRET, TIMEOUT, closed, scrape, token
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from ws_lessons.chat import create_app, hub, tokens
from ws_lessons.chat.broker import MemoryBroker
from ws_lessons.chat.models import Said, server_message
from ws_lessons.server import RunningServer

pytestmark = pytest.mark.anyio


class Chatter:
    """A chat client: its connection and the welcome it got."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}

    async def say(self, text: str) -> None:
        await self.ws.send(json.dumps({"type": "say", "text": text}))

    async def receive(self, *types: str) -> dict[str, Any]:
        """The next message (of one of ``types``, skipping others), checked against the models."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = json.loads(await self.ws.recv())
                server_message.validate_python(message)
                if not types or message["type"] in types:
                    return message


@contextlib.asynccontextmanager
async def join(
    server: RunningServer, room: str, user: str, *, since: int | None = None, **options: Any
) -> AsyncIterator[Chatter]:
    query = f"?token={token(user)}" + ("" if since is None else f"&since={since}")
    async with asyncio.timeout(TIMEOUT):
        ws = await connect(server.ws_url(f"/ws/{room}{query}"), **options)
    async with ws:
        chatter = Chatter(ws)
        chatter.welcome = await chatter.receive()
        assert chatter.welcome["type"] == "welcome"
        yield chatter


async def members(app: FastAPI) -> list[str]:
    """Who the hub has in the lobby; run it on the server's loop with ``server.run()``."""
    return app.state.hub.members("lobby")


# -- HTTP ------------------------------------------------------------------------------------


async def test_page_and_health(start) -> None:
    server = start()
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        page = await http.get("/")
        health = await http.get("/healthz")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for element in ("name", "room", "join", "text", "send", "messages", "members", "status"):
        assert f'id="{element}"' in page.text
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}


async def test_token_names_the_user(start) -> None:
    server = start()
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        response = await http.post("/token", json={"user": "alice_1.b-c"})
    assert response.status_code == 200
    assert tokens.verify(response.json()["token"], SECRET) == "alice_1.b-c"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user": ""},
        {"user": "a" * 33},
        {"user": "al ice"},
        {"user": "zoë"},
        {"user": "a/b"},
        {"user": 7},
    ],
)
async def test_token_refuses_bad_names(start, body: dict[str, Any]) -> None:
    server = start()
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        response = await http.post("/token", json=body)
    assert response.status_code == 422


# -- handshake -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "origin"),
    [
        ("", None),
        ("?token=", None),
        (f"?token={tokens.issue('alice', 'another secret')}", None),
        (f"?token={token('alice')}x", None),
        (f"?token={token('alice', ttl=-1)}", None),
        (f"?token={token('alice')}", "http://evil.example"),
        (f"?token={token('alice')}&since=-1", None),
    ],
    ids=["no token", "empty token", "forged", "tampered", "expired", "foreign origin", "bad since"],
)
async def test_handshake_refused(start, query: str, origin: str | None) -> None:
    server = start(allowed_origins=["http://chat.example"])
    with pytest.raises(InvalidStatus) as info:
        async with asyncio.timeout(TIMEOUT):
            await connect(server.ws_url(f"/ws/lobby{query}"), origin=origin)
    assert info.value.response.status_code == 403


@pytest.mark.parametrize("origin", ["http://chat.example", None])
async def test_allowed_origin_or_none_is_accepted(start, origin: str | None) -> None:
    server = start(allowed_origins=["http://chat.example"])
    async with join(server, "lobby", "alice", origin=origin) as alice:
        assert alice.welcome == {
            "type": "welcome",
            "room": "lobby",
            "user": "alice",
            "seq": 0,
            "members": ["alice"],
        }


# -- rooms -----------------------------------------------------------------------------------


async def test_say_reaches_everyone_with_seq_and_ts(start) -> None:
    server = start()
    async with join(server, "lobby", "alice") as alice, join(server, "lobby", "bob") as bob:
        assert bob.welcome["members"] == ["alice", "bob"]
        assert await alice.receive() == {"type": "joined", "room": "lobby", "user": "bob"}
        for text, seq in [("hello", 1), ("again", 2)]:
            await bob.say(text)  # bob only listens to himself here: no reply is needed
            for chatter in (alice, bob):
                said = await chatter.receive()
                assert {k: said[k] for k in ("type", "room", "user", "text", "seq")} == {
                    "type": "said",
                    "room": "lobby",
                    "user": "bob",
                    "text": text,
                    "seq": seq,
                }
                assert isinstance(said["ts"], float)
                assert abs(said["ts"] - time.time()) < 60
    async with join(server, "lobby", "carol") as carol:
        assert carol.welcome["seq"] == 2


async def test_presence(start) -> None:
    server = start()
    async with join(server, "lobby", "alice") as alice:
        async with join(server, "lobby", "bob") as bob:
            assert await alice.receive() == {"type": "joined", "room": "lobby", "user": "bob"}
            async with join(server, "lobby", "bob") as second_bob:  # a second tab: no news
                assert second_bob.welcome["members"] == ["alice", "bob"]
            async with join(server, "lobby", "carol"):
                assert await alice.receive() == {"type": "joined", "room": "lobby", "user": "carol"}
                assert await bob.receive() == {"type": "joined", "room": "lobby", "user": "carol"}
            assert await alice.receive() == {"type": "left", "room": "lobby", "user": "carol"}
            assert await bob.receive() == {"type": "left", "room": "lobby", "user": "carol"}
        assert await alice.receive() == {"type": "left", "room": "lobby", "user": "bob"}
        await alice.say("alone")
        assert (await alice.receive())["text"] == "alone"  # nothing else came in between


async def test_rooms_do_not_leak(start) -> None:
    server = start()
    async with join(server, "red", "alice") as alice, join(server, "blue", "bob") as bob:
        assert bob.welcome["members"] == ["bob"]
        await alice.say("in red")
        await bob.say("in blue")
        said_red, said_blue = await alice.receive(), await bob.receive()
        assert (said_red["room"], said_red["text"], said_red["seq"]) == ("red", "in red", 1)
        assert (said_blue["room"], said_blue["text"], said_blue["seq"]) == ("blue", "in blue", 1)
        await alice.say("still red")  # had blue leaked, alice would read it before this
        assert (await alice.receive())["text"] == "still red"


async def test_seq_orders_several_senders(start) -> None:
    server = start(rate=1000, burst=100)
    async with (
        join(server, "lobby", "alice") as alice,
        join(server, "lobby", "bob") as bob,
        join(server, "lobby", "carol") as carol,
    ):
        chatters = {"alice": alice, "bob": bob, "carol": carol}

        async def talk(name: str) -> None:
            for n in range(30):
                await chatters[name].say(f"{name} {n}")

        await asyncio.gather(*(talk(name) for name in chatters))
        for chatter in chatters.values():
            received = [await chatter.receive("said") for _ in range(90)]
            assert [said["seq"] for said in received] == list(range(1, 91))
            for name in chatters:  # each sender's messages arrive in the order it sent them
                texts = [said["text"] for said in received if said["user"] == name]
                assert texts == [f"{name} {n}" for n in range(30)]


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("hello", "invalid_json"),
        ('{"type": "say", "text": "unfinished', "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": "shout", "text": "hi"}', "invalid_message"),
        ('{"type": "say"}', "invalid_message"),
        ('{"type": "say", "text": 42}', "invalid_message"),
        ('{"type": "say", "text": ""}', "invalid_message"),
        (b'{"type": "say", "text": "hi"}', "invalid_message"),
        (json.dumps({"type": "say", "text": "x" * 11}), "too_long"),
    ],
)
async def test_bad_message_gets_an_error_and_the_connection_stays_open(
    start, frame: str | bytes, error: str
) -> None:
    server = start(max_text=10)
    async with join(server, "lobby", "alice") as alice:
        await alice.ws.send(frame)
        reply = await alice.receive()
        assert reply["type"] == "error"
        assert reply["error"] == error
        assert len(reply["detail"]) > 10
        if isinstance(frame, bytes):
            assert "binary" in reply["detail"].lower()
        await alice.say("x" * 10)
        said = await alice.receive()
        assert (said["type"], said["text"], said["seq"]) == ("said", "x" * 10, 1)


async def test_rate_limit(start) -> None:
    now = [0.0]  # the rate limit's clock, which stands still however slow the machine is
    server = start(create_app(secret=SECRET, rate=10, burst=3, clock=lambda: now[0]))
    async with join(server, "lobby", "alice") as alice:
        for n in range(4):
            await alice.say(f"{n}")
        replies = [await alice.receive() for _ in range(4)]
        assert [reply["type"] for reply in replies] == ["said", "said", "said", "error"]
        assert replies[-1]["error"] == "rate_limited"
        await alice.say("too soon")
        assert (await alice.receive())["error"] == "rate_limited"
        now[0] += 1 / 10  # one token back
        await alice.say("later")
        assert (await alice.receive())["text"] == "later"


async def test_oversized_frame_closes_with_1009(start) -> None:
    server = start(uvicorn_options={"ws_max_size": 1024})
    async with join(server, "lobby", "alice") as alice, join(server, "lobby", "bob") as bob:
        await bob.say("y" * 2000)
        assert (await closed(bob.ws)).rcvd.code == 1009  # RFC 6455 §7.4.1: message too big
        assert await alice.receive("left") == {"type": "left", "room": "lobby", "user": "bob"}


# -- resume ----------------------------------------------------------------------------------


async def test_resume_since_replays_without_gap_or_duplicate(start) -> None:
    server = start()
    async with join(server, "lobby", "alice") as alice:
        for n in range(1, 6):
            await alice.say(f"m{n}")
            await alice.receive()
        async with join(server, "lobby", "bob", since=2) as bob:
            assert bob.welcome["seq"] == 5
            await alice.say("m6")
            received = [await bob.receive() for _ in range(4)]
            assert [(said["seq"], said["text"]) for said in received] == [
                (3, "m3"),
                (4, "m4"),
                (5, "m5"),
                (6, "m6"),
            ]
        async with join(server, "lobby", "carol", since=6) as carol:
            await alice.say("m7")
            assert (await carol.receive())["seq"] == 7


async def test_resume_is_bounded_by_the_history(start) -> None:
    server = start(history_size=3)
    async with join(server, "lobby", "alice") as alice:
        for n in range(1, 6):
            await alice.say(f"m{n}")
            await alice.receive()
        async with join(server, "lobby", "bob", since=0) as bob:
            assert [(await bob.receive())["seq"] for _ in range(3)] == [3, 4, 5]


class HeldBroker(MemoryBroker):
    """Holds one join halfway, in the room but before its last ``seq`` is read, until a
    message is published: the race a broker over a network makes likely, every time."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False  # set by the test: hold the next join
        self.holding = threading.Event()  # the held join has reached last_seq
        self.published = asyncio.Event()  # used on the server's loop only

    async def last_seq(self, room: str) -> int:
        if self.hold:
            self.hold = False
            self.published.clear()
            self.holding.set()
            async with asyncio.timeout(TIMEOUT):
                await self.published.wait()
        return await super().last_seq(room)

    async def publish(self, room: str, user: str, text: str) -> Said:
        said = await super().publish(room, user, text)
        self.published.set()
        return said


async def test_message_published_while_joining_is_sent_once(start) -> None:
    broker = HeldBroker()
    server = start(broker=broker)
    async with join(server, "lobby", "alice") as alice:
        await alice.say("before")
        await alice.receive("said")
        broker.hold = True
        url = server.ws_url(f"/ws/lobby?token={token('bob')}&since=0")
        async with asyncio.timeout(TIMEOUT), await connect(url) as bob:
            # bob is in the room but the hub has not read the history yet
            assert await asyncio.to_thread(broker.holding.wait, TIMEOUT)
            await alice.say("during")
            messages = [json.loads(await bob.recv()) for _ in range(3)]
            await alice.say("after")
            messages.append(json.loads(await bob.recv()))
    assert messages[0]["type"] == "welcome"
    assert [(said["seq"], said["text"]) for said in messages[1:]] == [
        (1, "before"),
        (2, "during"),
        (3, "after"),
    ]


# -- slow and dead clients ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("close_timeout", "read_again_after", "close_code"),
    # The server waits close_timeout for the close frame to go out. Each case leaves a wide
    # margin: a busy machine delays the reader and the server's timer alike.
    [(30.0, 0, 1013), (0.1, 2.0, None)],
    ids=["close frame sent", "close frame given up"],
)
async def test_client_that_stops_reading_is_dropped_without_slowing_the_others(
    start,
    monkeypatch: pytest.MonkeyPatch,
    close_timeout: float,
    read_again_after: float,
    close_code: int | None,
) -> None:
    monkeypatch.setattr(hub, "CLOSE_TIMEOUT", close_timeout)
    app = create_app(secret=SECRET, queue_size=4, max_text=64 * 1024, rate=10_000, burst=10_000)
    server = start(app)
    # No compression, so that every byte sent fills the slow client's socket buffers.
    async with (
        join(server, "lobby", "slow", compression=None, max_queue=1) as slow,
        join(server, "lobby", "alice") as alice,
        join(server, "lobby", "bob") as bob,
    ):
        await alice.receive("joined")
        text = "x" * (64 * 1024)
        left = None
        for n in range(1, 1000):  # up to 64 MB for the slow client, far beyond any buffer
            await alice.say(text)
            for chatter in (alice, bob):  # each message reaches the others within TIMEOUT
                message = await chatter.receive("said", "left")
                if message["type"] == "left":
                    left = message
                    assert (await chatter.receive("said"))["seq"] == n
            if left:
                break
        assert left == {"type": "left", "room": "lobby", "user": "slow"}
        assert server.run(members(app)) == ["alice", "bob"]
        assert (await asyncio.to_thread(scrape, server.url))["chat_slow_clients_dropped_total"] == 1

        await asyncio.sleep(read_again_after)
        # The slow client gets what was buffered, then the close frame (1013 Try Again
        # Later) if it came back in time, else the end of the TCP connection.
        close = await closed(slow.ws)
        assert (close.rcvd and close.rcvd.code) == close_code


async def test_client_killed_mid_broadcast_is_announced_as_left(start) -> None:
    app = create_app(secret=SECRET, rate=10_000, burst=10_000)
    server = start(app)
    async with join(server, "lobby", "alice") as alice, join(server, "lobby", "bob") as bob:
        async with join(server, "lobby", "victim") as victim:
            for n in range(200):
                await alice.say(f"{n}")
                if n == 100:  # abort: the server sees a TCP reset, not a close frame
                    sock = victim.ws.transport.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    victim.ws.transport.abort()
        for chatter in (alice, bob):
            messages = [await chatter.receive("said", "left") for _ in range(201)]
            assert [m["seq"] for m in messages if m["type"] == "said"] == list(range(1, 201))
            assert {"type": "left", "room": "lobby", "user": "victim"} in messages
        assert server.run(members(app)) == ["alice", "bob"]


# -- shutdown --------------------------------------------------------------------------------


async def test_server_stop_closes_connections_with_1001(start) -> None:
    app = create_app(secret=SECRET)
    server = start(app)  # served with before_stop=app.state.hub.close_all
    async with join(server, "lobby", "alice") as alice, join(server, "lobby", "bob") as bob:
        await asyncio.to_thread(server.stop)
        for chatter in (alice, bob):
            assert (await closed(chatter.ws)).rcvd.code == 1001  # RFC 6455 §7.4.1: going away


@pytest.mark.skipif(sys.platform == "win32", reason="Windows cannot send SIGINT to a child")
async def test_the_command_line_server_closes_with_1001_on_ctrl_c() -> None:
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "ws_lessons", "serve", "chat", "--port", "0"],
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"WS_LESSONS_SECRET": SECRET},
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(TIMEOUT * 2):
            async for line in process.stderr:
                if match := re.search(rb"running on http://([\d.]+:\d+)", line):
                    break
            else:
                pytest.fail("the server did not start")
        url = f"ws://{match[1].decode()}/ws/lobby?token={token('alice')}"
        async with asyncio.timeout(TIMEOUT), await connect(url) as alice:
            assert json.loads(await alice.recv())["type"] == "welcome"
            process.send_signal(signal.SIGINT)
            close = await closed(alice)
        assert close.rcvd.code == 1001  # RFC 6455 §7.4.1: going away
        async with asyncio.timeout(TIMEOUT):
            stderr = await process.stderr.read()
            assert await process.wait() == 0
        assert b"Traceback" not in stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
