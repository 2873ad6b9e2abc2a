"""The reference chat stopping while a handshake is under way: 1001, never a 500 or a traceback."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import Any

import pytest
import uvicorn
from chatkit import SECRET, token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ws_lessons.chat import create_app
from ws_lessons.chat.server import DrainingServer
from ws_lessons.limits import PROTOCOLS

TIMEOUT = 10.0  # a hang guard


def test_a_handshake_under_way_when_the_server_stops_hears_1001(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(secret=SECRET)
    hub = app.state.hub

    async def slow_to_accept(scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The app meets the handshake once the server has stopped listening: the race of a
        client that arrives as a stop begins, every time."""
        if scope["type"] == "websocket":
            while server.servers[0].is_serving():
                await asyncio.sleep(0.005)
        await app(scope, receive, send)

    config = uvicorn.Config(slow_to_accept, host="127.0.0.1", port=0, log_config=None, **PROTOCOLS)
    server = DrainingServer(config, hub, grace=0)
    serving = threading.Thread(target=asyncio.run, args=(server.serve(),))
    serving.start()
    try:
        for _ in range(int(TIMEOUT / 0.01)):
            if server.started:
                break
            threading.Event().wait(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        heard: list[object] = []

        def client() -> None:
            url = f"ws://127.0.0.1:{port}/ws/lobby?token={token('ada')}"
            try:
                with connect(url, open_timeout=TIMEOUT, proxy=None) as ws:
                    ws.recv(timeout=TIMEOUT)
            except ConnectionClosed as closed:
                heard.append(closed.rcvd.code if closed.rcvd else None)
            except Exception as other:
                heard.append(other)

        caplog.set_level(logging.INFO, logger="uvicorn.error")
        talking = threading.Thread(target=client)
        talking.start()
        for _ in range(int(TIMEOUT / 0.01)):  # the handshake has reached the server
            if server.server_state.connections:
                break
            threading.Event().wait(0.01)
        server.handle_exit(signal.SIGTERM, None)  # as a process manager stops it
        talking.join(TIMEOUT)
    finally:
        server.should_exit = True
        serving.join(TIMEOUT)
    assert heard == [1001], heard
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert not errors, errors
