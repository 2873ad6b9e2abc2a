"""Each mistake learners make in a cell, made for real, gets a hint that says what to do."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from fastapi import FastAPI, WebSocket
from nbclient import NotebookClient
from test_server import interrupt_main_in
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
from websockets.sync.client import connect as connect_sync

from ws_lessons import RunningServer, serve, stop_all
from ws_lessons.hints import hint_for

pytestmark = pytest.mark.timeout(60)


def make_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/rooms/{room_id}")
    async def room(websocket: WebSocket, room_id: int) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())

    @app.websocket("/crash")
    async def crash(websocket: WebSocket) -> None:
        await websocket.accept()
        raise RuntimeError("bug in the endpoint")

    return app


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with serve(make_app(), name="hints") as handle:
        yield handle


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def caught(call) -> BaseException:
    try:
        call()
    except BaseException as error:
        return error
    raise AssertionError("no error was raised")


def test_server_not_started_or_wrong_port() -> None:
    stop_all()
    error = caught(lambda: connect_sync(f"ws://127.0.0.1:{closed_port()}/ws", open_timeout=2))
    assert "Nothing is listening" in hint_for(error)
    assert "run the cell that calls serve(app) first" in hint_for(error)
    http_error = caught(lambda: httpx.get(f"http://127.0.0.1:{closed_port()}/"))
    assert "Nothing is listening" in hint_for(http_error)


def test_wrong_path_lists_the_websocket_routes(server: RunningServer) -> None:
    error = caught(lambda: connect_sync(server.ws_url("/room/1"), open_timeout=2))
    assert isinstance(error, InvalidStatus)
    hint = hint_for(error)
    assert "HTTP 403" in hint
    assert "/rooms/{room_id}" in hint
    bad_parameter = caught(lambda: connect_sync(server.ws_url("/rooms/lobby"), open_timeout=2))
    assert "failed validation" in hint_for(bad_parameter)


def test_an_http_url_given_to_the_websocket_client(server: RunningServer) -> None:
    error = caught(lambda: connect_sync(f"{server.url}/rooms/1"))
    assert isinstance(error, InvalidURI)
    assert "ws://" in hint_for(error)


def test_an_endpoint_that_crashes_points_to_the_logs(server: RunningServer) -> None:
    with connect_sync(server.ws_url("/crash"), open_timeout=2) as ws:
        error = caught(lambda: ws.recv(timeout=5))
    assert isinstance(error, ConnectionClosed)
    assert "print_logs()" in hint_for(error)


def test_asyncio_run_inside_a_running_loop() -> None:
    async def cell() -> BaseException:
        coroutine = asyncio.sleep(0)
        error = caught(lambda: asyncio.run(coroutine))
        coroutine.close()
        return error

    error = asyncio.run(cell())
    assert "await" in hint_for(error)


def test_with_instead_of_async_with_and_the_reverse(server: RunningServer) -> None:
    def plain_with() -> None:
        with connect(server.ws_url("/rooms/1")):  # type: ignore[attr-defined]
            pass

    assert "async with" in hint_for(caught(plain_with))

    async def async_with_sync_client() -> BaseException:
        async def use() -> None:
            async with connect_sync(server.ws_url("/rooms/1")):  # type: ignore[attr-defined]
                pass

        try:
            await use()
        except TypeError as error:
            return error
        raise AssertionError("no error")

    assert "not `async with`" in hint_for(asyncio.run(async_with_sync_client()))


def test_forgotten_await() -> None:
    async def receive() -> str:
        return "message"

    def use_without_await() -> None:
        coroutine = receive()
        try:
            coroutine.upper()  # type: ignore[attr-defined]
        finally:
            coroutine.close()

    assert "put `await` before the call" in hint_for(caught(use_without_await))


@pytest.mark.usefixtures("sigint_raises")
def test_interrupting_a_receive_that_waits_forever(server: RunningServer) -> None:
    with connect_sync(server.ws_url("/rooms/1"), open_timeout=2) as ws:  # it never speaks first
        # a real SIGINT, as the kernel's interrupt button sends, once the wait has begun
        interrupter = interrupt_main_in("recv", "caught")
        error = caught(ws.recv)  # no timeout: what a learner writes, then interrupts
        interrupter.join()
    assert isinstance(error, KeyboardInterrupt)
    assert "recv(timeout=5)" in hint_for(error)
    assert hint_for(KeyboardInterrupt()) is None  # interrupted anything else: no advice


def test_errors_without_a_useful_hint_get_none() -> None:
    assert hint_for(ValueError("something else")) is None
    assert hint_for(RuntimeError("unrelated")) is None


def test_the_hint_appears_under_the_traceback_in_a_notebook(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            # The hints come with the serving machinery, not with `import ws_lessons`.
            "from ws_lessons import serve\nfrom websockets.sync.client import connect"
        ),
        nbformat.v4.new_code_cell(f"connect('ws://127.0.0.1:{closed_port()}/ws', open_timeout=2)"),
    ]
    NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True).execute()
    outputs = notebook.cells[1].outputs
    assert any(output.output_type == "error" for output in outputs)
    text = "".join(output.get("text", "") for output in outputs)
    assert "💡 Hint: Nothing is listening" in text


def test_a_server_without_a_websocket_library_gets_the_install_hint() -> None:
    # ws="none" is what uvicorn's ws="auto" becomes when neither websockets nor wsproto
    # can be imported: the handshake is served as a plain GET, and logged as unsupported.
    with serve(make_app(), name="no ws library", ws="none") as server:
        with pytest.raises(InvalidStatus) as refused:
            connect_sync(server.ws_url("/rooms/1"), open_timeout=5)
        assert any("No supported WebSocket library detected" in line for line in server.logs)
        assert any("Unsupported upgrade request." in line for line in server.logs)
        hint = hint_for(refused.value)
    assert hint is not None and "pip install 'uvicorn[standard]'" in hint
