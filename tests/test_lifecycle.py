"""The one rule for a cell run again, followed by every kind of background thing.

The same kind under the same name, or anything on the fixed port asked for, is stopped
before the new one binds; something unnamed never replaces anything.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from ws_lessons.feeds import ByteCounter
from ws_lessons.server import lifecycle, running, serve, serve_streams, started, stop_all
from ws_lessons.server.background import close_loop
from ws_lessons.services import Service, free_port
from ws_lessons.tap import Tap

pytestmark = pytest.mark.timeout(60)


def app() -> FastAPI:
    hello = FastAPI()

    @hello.get("/")
    async def root() -> dict[str, bool]:
        return {"ok": True}

    return hello


async def _close(reader: object, writer: object) -> None:
    pass  # serve_streams closes the connection after the handler


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(autouse=True)
def nothing_left() -> Iterator[None]:
    yield
    stop_all()
    assert started() == []
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("ws_lessons")]


def test_a_raw_server_under_a_uvicorn_servers_name_replaces_it() -> None:
    first = serve(app(), name="cell")
    second = serve_streams(_close, name="cell")  # the cell now speaks bytes itself
    assert not first.running and refuses_connections(first.port)
    assert running() == [second]


def test_a_tap_run_again_on_its_fixed_port_replaces_the_old_tap() -> None:
    server = serve(app(), name="lifecycle target")
    first = Tap(server, port=free_port(), name="before")
    second = Tap(server, port=first.port, name="after")  # the cell renamed its tap
    assert (not first.running, second.running) == (True, True)
    assert httpx.get(second.url).json() == {"ok": True}
    assert [thing.name for thing in started()] == ["lifecycle target", "after"]


def test_the_same_name_in_another_kind_replaces_nothing() -> None:
    server = serve(app(), name="shared name")
    tap = Tap(server, name="shared name")
    assert server.running and tap.running
    assert httpx.get(tap.url).json() == {"ok": True}


def test_unnamed_things_are_named_after_their_port_and_coexist() -> None:
    server = serve(app())
    counters = [ByteCounter(server), ByteCounter(server)]
    assert server.name == f"server-{server.port}"
    assert all(counter.running for counter in counters)
    assert [counter.name for counter in counters] == [
        f"byte counter-{counter.port}" for counter in counters
    ]


def test_a_service_started_again_under_its_name_stops_the_old_process(tmp_path: Path) -> None:
    def http_server() -> Service:
        port = free_port()
        command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        return Service("lifecycle http.server", command, port, tmp_path)

    first = http_server()
    second = http_server()
    assert first.process.poll() is not None and refuses_connections(first.port)
    assert httpx.get(second.url).status_code == 200
    assert lifecycle.started() == [second]


def test_closing_a_loop_cancels_a_task_started_while_others_are_cancelled() -> None:
    """As when a connection is accepted in the loop's last turn: its handler starts as the
    other tasks end, and must be cancelled too, not left unstarted ("never awaited")."""
    loop = asyncio.new_event_loop()
    late: list[asyncio.Task[None]] = []

    async def handler() -> None:
        await asyncio.sleep(60)

    async def serving() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            late.append(loop.create_task(handler()))

    first = loop.create_task(serving())
    loop.run_until_complete(asyncio.sleep(0))
    close_loop(loop)
    assert loop.is_closed()
    assert first.cancelled() and late and late[0].cancelled()
