"""The hub writes at once to a client that keeps up and queues for one that is behind.

Both paths, and the hand-over between them, keep each client's messages in order and
send each once (real server, real clients). The stalled client dropped with 1013 while
the others get every ``seq`` is ``test_chat.py``'s
``test_client_that_stops_reading_is_dropped_without_slowing_the_others``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from chatkit import SECRET, TIMEOUT, receive, token
from websockets.asyncio.client import ClientConnection, connect

from ws_lessons.chat import create_app
from ws_lessons.server import RunningServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

MESSAGES = 600
TEXT = "x" * (16 * 1024)  # 600 of them: about 10 MB, beyond the buffers of a small socket


async def join(server: RunningServer, user: str, **options: Any) -> ClientConnection:
    async with asyncio.timeout(TIMEOUT):
        ws = await connect(server.ws_url(f"/ws/lobby?token={token(user)}"), **options)
        await receive(ws, "welcome")
    return ws


async def said(ws: ClientConnection, count: int) -> list[int]:
    """The ``seq`` of the next ``count`` said messages, skipping presence."""
    return [(await receive(ws, "said"))["seq"] for _ in range(count)]


async def writes_paused(server: RunningServer) -> bool:
    """Whether a transport of ``server`` holds more than its high-water mark: paused."""
    return any(
        transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]
        for transport in server.transports()
    )


async def test_a_client_that_falls_behind_and_catches_up_gets_each_message_once_in_order(
    start,
) -> None:
    # A large outbox: the slow client is behind for a while, but never dropped.
    app = create_app(
        secret=SECRET, queue_size=10 * MESSAGES, max_text=len(TEXT), rate=10_000, burst=10_000
    )
    server = start(app)
    # A small receive buffer (64 KiB: smaller makes TCP crawl once it reads again), no
    # compression, and the library reads the socket only while fewer than one message
    # waits unread: the server's writes to it pause soon. No pings: it reads late.
    sock = socket.create_connection((server.host, server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    options = {"compression": None, "max_queue": 1, "ping_interval": None}
    slow = await join(server, "slow", sock=sock, **options)
    alice, bob = await join(server, "alice"), await join(server, "bob")
    try:
        for _ in range(MESSAGES):
            await alice.send(json.dumps({"type": "say", "text": TEXT}))
        assert await said(alice, MESSAGES) == list(range(1, MESSAGES + 1))
        assert await said(bob, MESSAGES) == list(range(1, MESSAGES + 1))
        # The server's writes to the slow client are paused: what it has not written yet
        # waits in the slow client's outbox, behind the write that had to wait.
        assert server.run(writes_paused(server))

        assert await said(slow, MESSAGES) == list(range(1, MESSAGES + 1))
        # Caught up: the next message goes out at once again, once.
        await alice.send(json.dumps({"type": "say", "text": "and now?"}))
        for ws in (slow, alice, bob):
            assert await said(ws, 1) == [MESSAGES + 1]
        assert server.run(members(app)) == ["alice", "bob", "slow"]
    finally:
        for ws in (slow, alice, bob):
            await ws.close()


async def test_messages_from_several_senders_keep_one_order_for_everyone(start) -> None:
    server = start(rate=10_000, burst=10_000)
    clients = [await join(server, name) for name in ("ada", "bob", "cy", "dee")]
    try:
        sends = [
            ws.send(json.dumps({"type": "say", "text": f"{n}"}))
            for n in range(50)
            for ws in clients
        ]
        await asyncio.gather(*sends)
        heard = [await said(ws, 200) for ws in clients]
        assert all(seqs == list(range(1, 201)) for seqs in heard)
    finally:
        for ws in clients:
            await ws.close()


async def members(app: Any) -> list[str]:
    return app.state.hub.members("lobby")
