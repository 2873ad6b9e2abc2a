"""What lessons 00-11 print about the running versions, checked against those versions.

A lesson that depends on a library's behaviour prints it live instead of stating it. These
tests read what the lesson printed in its first run (the one ``test_notebooks.py`` made, kept
for the whole test run), and measure the same thing independently on real servers, so that
a new version of uvicorn, websockets or wsproto that behaves differently fails here and says
which sentence to revisit.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
import websockets
from fastapi import Depends, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from test_notebooks import first_run, text_of
from test_server import make_app as echo_app
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ws_lessons.frames import Opcode, decode, parse_close
from ws_lessons.handshake import Response, build_request, parse_response
from ws_lessons.server import serve


def printed(stem: str) -> list[tuple[str, str]]:
    """(source, printed text) of each code cell of a lesson's first run in a fresh kernel.

    The run of ``test_notebooks.py`` when it ran in this process, else a run of its own.
    """
    cells = []
    for cell in first_run(stem).cells:
        if cell.cell_type == "code":
            cells.append((cell.source, text_of(cell, shown=False)))
    return cells


def output_of(cells: list[tuple[str, str]], marker: str) -> str:
    """The printed text of the one code cell whose source contains ``marker``."""
    found = [text for source, text in cells if marker in source]
    assert len(found) == 1, f"{len(found)} cells contain {marker!r}"
    return found[0]


def knock(port: int, request: bytes) -> Response:
    """Send a request head to 127.0.0.1:``port`` and parse the answer's head."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, "the server closed before answering"
            head += chunk
    return parse_response(head[: head.index(b"\r\n\r\n") + 4])


def shown(answer: Response) -> str:
    """An answer as lesson 04 prints it: the status, and the versions header if any."""
    versions = answer.headers.get("Sec-WebSocket-Version")
    return f"{answer.status}" + (f" + Sec-WebSocket-Version: {versions}" if versions else "")


# -- lesson 00 ----------------------------------------------------------------------------


@pytest.mark.xdist_group("00_start_here")  # reads that lesson's run
@pytest.mark.notebook
def test_lesson_00_talks_over_a_websocket_within_its_first_five_code_cells() -> None:
    cells = printed("00_start_here")
    first_five = [source for source, _ in cells[:5]]
    assert any("@app.websocket" in source for source in first_five)
    assert any("connect(server.ws_url" in source for source in first_five)
    conversation = output_of(cells, "connect(server.ws_url")
    assert conversation.splitlines() == [
        "server → client: welcome!",
        "client → server: hello",
        "server → client: you said 'hello'",
        "client → server: are you there?",
        "server → client: you said 'are you there?'",
        "the server received: ['hello', 'are you there?']",
    ]


# -- lesson 02: the client offers permessage-deflate, the server accepts it -----------------


def test_lesson_02_default_client_offers_deflate_and_default_uvicorn_accepts_it() -> None:
    with serve(echo_app(), name="facts 02") as server, connect(server.ws_url("/echo")) as ws:
        offered = ws.request.headers.get("Sec-WebSocket-Extensions") or ""
        accepted = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
    assert offered.startswith("permessage-deflate"), offered
    assert accepted.startswith("permessage-deflate"), accepted


# -- lesson 04: what each implementation answers to a broken handshake -----------------------

BROKEN = {
    "Sec-WebSocket-Version: 8": lambda good, host: good.replace(b"Version: 13", b"Version: 8"),
    "no Sec-WebSocket-Key": lambda good, host: b"\r\n".join(
        line for line in good.split(b"\r\n") if not line.startswith(b"Sec-WebSocket-Key:")
    ),
    "a key of 12 bytes, not 16": lambda good, host: build_request(
        host, "/echo", key="bm90IDE2IGJ5dGVz"
    ),
}
RULES = {  # RFC 6455 §4.2.2 for the version, §4.2.1 for the key
    "Sec-WebSocket-Version: 8": lambda answer: (
        answer.status >= 400 and answer.headers.get("Sec-WebSocket-Version") is not None
    ),
    "no Sec-WebSocket-Key": lambda answer: answer.status >= 400,
    "a key of 12 bytes, not 16": lambda answer: answer.status >= 400,
}


@pytest.mark.xdist_group("04_handshake")  # reads that lesson's run
@pytest.mark.notebook
def test_lesson_04_prints_what_the_running_servers_answer() -> None:
    cells = printed("04_handshake")
    table = output_of(cells, "wsproto_server = serve(")
    picks = output_of(cells, "auto_picks = ")
    from uvicorn.config import WS_PROTOCOLS
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    path = f"{AutoWebSocketsProtocol.__module__}:{AutoWebSocketsProtocol.__name__}"
    (name,) = [name for name, where in WS_PROTOCOLS.items() if where == path]
    assert f"ws='auto' picks ws={name!r}: {path}" in picks
    assert f"default ({name})" in table.splitlines()[0]
    verdicts = output_of(cells, "rules = {").splitlines()

    measured: dict[str, dict[str, Response]] = {}
    with (
        serve(echo_app(), name="facts 04 default") as default,
        serve(echo_app(), name="facts 04 wsproto", ws="wsproto") as other,
    ):
        for case, broken in BROKEN.items():
            measured[case] = {}
            for implementation, server in [("default", default), ("wsproto", other)]:
                good = build_request(f"{server.host}:{server.port}", "/echo")
                measured[case][implementation] = knock(server.port, broken(good, server.host))

    for case, answers in measured.items():
        default_answer, other_answer = answers["default"], answers["wsproto"]
        row = f"{case:30} {shown(default_answer):28} {shown(other_answer)}"
        assert row in table.splitlines(), (row, table)
        heading = verdicts.index(next(line for line in verdicts if line.startswith(case)))
        for offset, (implementation, answer) in enumerate(answers.items(), 1):
            line = verdicts[heading + offset].split()
            rule = "follows the rule" if RULES[case](answer) else "does NOT follow the rule"
            assert line[:3] == [implementation, "answered", str(answer.status)], line
            assert " ".join(line).endswith(rule), (line, rule)


# -- lessons 07 and 08: keepalive defaults, and when a silent peer is dropped ---------------


def uvicorn_default(name: str) -> object:
    return inspect.signature(uvicorn.Config).parameters[name].default


@pytest.mark.xdist_group("07_fastapi_endpoint")  # reads that lesson's run
@pytest.mark.notebook
def test_lesson_06_prints_the_running_uvicorn_keepalive_defaults() -> None:
    text = output_of(printed("07_fastapi_endpoint"), 'defaults["ws_ping_interval"]')
    interval, timeout = uvicorn_default("ws_ping_interval"), uvicorn_default("ws_ping_timeout")
    assert text.splitlines() == [
        f"uvicorn {uvicorn.__version__}: a ping every {interval} s, then {timeout} s to answer",
        f"a dead network is noticed {timeout} to {interval + timeout} s after it died",
    ]


@pytest.mark.xdist_group("08_integration_config")  # reads that lesson's run
@pytest.mark.notebook
def test_lesson_07_prints_the_running_uvicorn_websocket_defaults() -> None:
    text = output_of(printed("08_integration_config"), "inspect.signature(uvicorn.Config)")
    lines = text.splitlines()
    assert lines[0] == f"uvicorn {uvicorn.__version__}"
    names = [name for name in inspect.signature(uvicorn.Config).parameters if name.startswith("ws")]
    assert [line.split()[0] for line in lines[1:]] == names
    for line, name in zip(lines[1:], names, strict=True):
        assert line.endswith(f"default {uvicorn_default(name)!r}"), line


def test_a_silent_peer_is_dropped_after_ping_interval_plus_ping_timeout() -> None:
    """The rule lessons 07 and 08 state, on the running uvicorn: ping, wait, drop with 1011."""
    interval, timeout = 0.3, 0.3
    with (
        serve(
            echo_app(), name="facts keepalive", ws_ping_interval=interval, ws_ping_timeout=timeout
        ) as server,
        socket.create_connection((server.host, server.port), timeout=5) as sock,
    ):
        sock.sendall(build_request(f"{server.host}:{server.port}", "/echo"))
        opened = time.monotonic()
        received = b""
        while chunk := sock.recv(65536):  # never answers: read until the server closes
            received += chunk
        closed_after = time.monotonic() - opened
    frames = []
    rest = received[received.index(b"\r\n\r\n") + 4 :]
    while rest:
        frame, used = decode(rest)
        frames.append(frame)
        rest = rest[used:]
    assert [frame.opcode for frame in frames] == [Opcode.PING, Opcode.CLOSE]
    assert parse_close(frames[-1].payload) == (1011, "keepalive ping timeout")
    assert closed_after >= interval + timeout - 0.05, closed_after
    assert closed_after < interval + timeout + 20, closed_after  # a hang guard, not a timing


# -- lesson 07: what an endpoint that does not receive learns, and bearer tokens ------------


def test_lesson_07_an_endpoint_that_only_sends_hears_a_clean_close_as_1006_on_its_send() -> None:
    """The client closes with 1000; the endpoint, which never receives, still sees the client
    CONNECTED, and its next send raises WebSocketDisconnect with 1006, not 1000."""
    app = FastAPI()
    client_left, done = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    @app.websocket("/ticks")
    async def ticks(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("tick 1")
        deadline = time.monotonic() + 10
        while not client_left.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        seen["state"] = websocket.client_state.name
        try:
            await websocket.send_text("tick 2")
        except WebSocketDisconnect as exc:
            seen["code"] = exc.code
        done.set()

    with serve(app, name="facts 07 sender") as server:
        with connect(server.ws_url("/ticks")) as ws:
            assert ws.recv(timeout=5) == "tick 1"
        client_left.set()  # the closing handshake (1000) is over
        assert done.wait(10)
    assert seen == {"state": "CONNECTED", "code": 1006}


def test_lesson_07_security_dependencies_refuse_a_websocket_with_401() -> None:
    app = FastAPI()

    @app.websocket("/bearer")
    async def bearer(
        websocket: WebSocket,
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())],
    ) -> None:
        await websocket.accept()
        await websocket.send_text(credentials.credentials)
        await websocket.close()

    with serve(app, name="facts 07 bearer") as server:
        with pytest.raises(InvalidStatus) as refused:
            connect(server.ws_url("/bearer"), open_timeout=5)
        headers = {"Authorization": "Bearer abc"}
        with connect(server.ws_url("/bearer"), additional_headers=headers) as ws:
            assert ws.recv(timeout=5) == "abc"
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"] == "Bearer"


# -- lesson 08: ws="none" -------------------------------------------------------------------


def test_lesson_08_ws_none_refuses_with_404_and_logs_the_two_warnings_it_quotes() -> None:
    with serve(echo_app(), name="facts 08 none", ws="none") as server:
        with pytest.raises(InvalidStatus) as refused:
            connect(server.ws_url("/echo"), open_timeout=5)
        warnings = [line for line in server.logs if line.startswith("WARNING")]
    assert refused.value.response.status_code == 404
    assert warnings[0].endswith("Unsupported upgrade request.")
    assert "No supported WebSocket library detected" in warnings[1]


# -- lesson 09: a TaskGroup's exception group leaves the app whole ---------------------------


def test_lesson_09_the_exception_group_of_a_task_group_is_not_collapsed() -> None:
    """Behind @app.middleware("http"), neither route's log ends in the bare KeyError."""
    app = FastAPI()

    @app.middleware("http")
    async def pass_through(request: Request, call_next: Any) -> Any:
        return await call_next(request)

    async def fail_in_a_task_group() -> None:
        async def fail() -> None:
            raise KeyError("text")

        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(asyncio.sleep(10))
            tasks.create_task(fail())

    @app.get("/http")
    async def http_route() -> None:
        await fail_in_a_task_group()

    @app.websocket("/ws")
    async def websocket_route(websocket: WebSocket) -> None:
        await websocket.accept()
        await fail_in_a_task_group()

    with serve(app, name="facts 09 groups") as server:
        assert httpx.get(server.url + "/http").status_code == 500
        with connect(server.ws_url("/ws")) as ws, pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        deadline = time.monotonic() + 10
        while sum(line.startswith("ERROR") for line in server.logs) < 2:
            assert time.monotonic() < deadline, server.logs
            time.sleep(0.01)
        logs = server.logs
    groups = [line for line in logs if "ExceptionGroup: unhandled errors in a TaskGroup" in line]
    assert len(groups) == 2, logs
    assert not [line for line in logs if line.startswith("KeyError")], logs


# -- lesson 11: websockets' reconnecting client ----------------------------------------------


def test_lesson_11_websockets_reconnects_at_once_after_a_connection_that_opened() -> None:
    """reconnect_delays is asked for delays only after failed attempts."""
    if "reconnect_delays" not in inspect.signature(connect_async).parameters:
        pytest.skip(f"websockets {websockets.__version__} has no reconnect_delays (17.0+)")
    asked: list[str] = []

    def delays() -> Iterator[float]:
        asked.append("a delay")
        yield from itertools.repeat(0.01)

    app = FastAPI()

    @app.websocket("/bye")
    async def bye(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close(1001)

    async def sessions(url: str) -> int:
        opened = 0
        async for ws in connect_async(url, reconnect_delays=delays, open_timeout=5):
            opened += 1
            async for _ in ws:
                pass
            if opened == 3:
                return opened
        return opened

    with serve(app, name="facts 11 reconnect") as server:
        assert asyncio.run(sessions(server.ws_url("/bye"))) == 3
    assert asked == []
