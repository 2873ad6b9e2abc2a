"""ws_lessons.server against a real uvicorn on loopback and real clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.testclient import TestClient
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ws_lessons import services
from ws_lessons.feeds import ByteCounter
from ws_lessons.server import RunningServer, ServerError, running, serve, serve_streams, stop_all
from ws_lessons.services import Service, free_port
from ws_lessons.tap import Tap

pytestmark = pytest.mark.timeout(60)


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.seen = []

    @app.get("/")
    async def root() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom from the endpoint")

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                app.state.seen.append(text)
                await websocket.send_text(text)
        except WebSocketDisconnect:
            pass

    return app


def server_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("ws_lessons")]


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with serve(make_app(), name="test") as handle:
        yield handle


@pytest.fixture(autouse=True)
def no_servers_left() -> Iterator[None]:
    yield
    stop_all()
    assert not server_threads()


def test_serve_returns_a_server_that_accepts(server: RunningServer) -> None:
    assert server.port > 0
    assert server.running
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.ws_url("/echo") == f"ws://127.0.0.1:{server.port}/echo"
    assert httpx.get(server.url).json() == {"ok": True}


def test_blocking_clients_in_the_calling_thread_do_not_deadlock(server: RunningServer) -> None:
    with connect(server.ws_url("/echo"), open_timeout=5) as ws:
        ws.send("sync client")
        assert ws.recv(timeout=5) == "sync client"
        assert httpx.get(server.url, timeout=5).status_code == 200  # while the socket is open
    with TestClient(make_app()) as client, client.websocket_connect("/echo") as ws:
        ws.send_text("test client")
        assert ws.receive_text() == "test client"


@pytest.mark.anyio
async def test_serve_from_a_running_event_loop_like_a_notebook_cell() -> None:
    with serve(make_app(), name="in a loop") as server:
        async with connect_async(server.ws_url("/echo")) as ws:
            await ws.send("async client")
            assert await ws.recv() == "async client"
        async with httpx.AsyncClient() as client:
            assert (await client.get(server.url)).json() == {"ok": True}
        assert httpx.get(server.url, timeout=5).status_code == 200  # blocking call in a loop


def test_connections_have_nagle_off(server: RunningServer) -> None:
    async def nodelay_flags() -> list[int]:
        return [
            connection.transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY
            )
            for connection in server._server.server_state.connections
        ]

    with connect(server.ws_url("/echo")) as ws:
        ws.send("hi")
        ws.recv(timeout=5)
        flags = server.run(nodelay_flags())
    assert flags and all(flags)  # else small writes wait ~40 ms for the next one


def test_send_buffer_fixes_each_connections_kernel_send_buffer() -> None:
    async def send_buffers(server: RunningServer) -> list[int]:
        return [
            transport.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            for transport in server.transports()
        ]

    sizes = {}
    for name, options in {"small": {"send_buffer": 8192}, "grown": {}}.items():
        with (
            serve(make_app(), name=name, **options) as server,
            connect(server.ws_url("/echo")) as ws,
        ):
            ws.send("x" * 100_000)  # the default buffer grows with what is sent
            assert ws.recv(timeout=5) == "x" * 100_000
            sizes[name] = server.run(send_buffers(server))
    assert sizes["small"] == [2 * 8192]  # Linux doubles it for its own bookkeeping (socket(7))
    assert sizes["grown"] and sizes["grown"][0] > 2 * 8192


def test_run_executes_on_the_server_loop(server: RunningServer) -> None:
    async def where() -> tuple[str, asyncio.AbstractEventLoop]:
        return threading.current_thread().name, asyncio.get_running_loop()

    thread_name, loop = server.run(where())
    assert thread_name.startswith("ws_lessons server")
    assert loop.is_running()

    async def slow() -> None:
        await asyncio.sleep(10)

    with pytest.raises(TimeoutError):
        server.run(slow(), timeout=0.1)


def test_run_on_a_stopped_server_says_so(server: RunningServer) -> None:
    server.stop()

    async def nothing() -> None:
        pass

    with pytest.raises(ServerError, match="not running"):
        server.run(nothing())


def test_serving_again_under_the_same_name_replaces_the_old_server() -> None:
    first = serve(make_app(), name="cell")
    second = serve(make_app(), name="cell")
    assert not first.running
    assert refuses_connections(first.port)
    assert second.running
    assert running() == [second]


def test_serving_again_on_the_same_fixed_port_replaces_the_old_server() -> None:
    first = serve(make_app(), port=free_port())  # a port no other server is handed meanwhile
    second = serve(make_app(), port=first.port)
    assert second.port == first.port
    assert not first.running
    assert httpx.get(second.url).json() == {"ok": True}


def test_a_port_held_by_another_program_gives_a_clear_error() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} .* already in use"):
            serve(make_app(), port=port)
    assert running() == []


def test_a_failing_lifespan_gives_a_clear_error() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("database unreachable")
        yield

    with pytest.raises(ServerError, match="database unreachable"):
        serve(FastAPI(lifespan=lifespan), name="broken lifespan")
    assert running() == []


def test_an_app_that_fails_to_import_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_app.py").write_text("import not_a_module_anywhere\napp = None\n")
    (tmp_path / "fine_app.py").write_text("app = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ServerError, match=r"broken_app:app.*not_a_module_anywhere"):
        serve("broken_app:app")
    with pytest.raises(ServerError, match='Could not import module "no_such_module"'):
        serve("no_such_module:app")
    with pytest.raises(ServerError, match='Attribute "nope" not found'):
        serve("fine_app:nope")
    assert running() == []


def test_logs_go_to_the_handle_and_not_to_the_root_logger(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    httpx.get(server.url)
    assert httpx.get(f"{server.url}/boom").status_code == 500
    logs = "\n".join(server.logs)
    assert "Application startup complete" in logs
    assert '"GET / HTTP/1.1" 200' in logs
    assert "kaboom from the endpoint" in logs
    assert not [record for record in caplog.records if record.name.startswith("uvicorn")]


def test_two_servers_keep_their_logs_apart() -> None:
    with serve(make_app(), name="a") as a, serve(make_app(), name="b") as b:
        httpx.get(f"{a.url}/only-on-a")
        assert any("/only-on-a" in line for line in a.logs)
        assert not any("/only-on-a" in line for line in b.logs)


@pytest.mark.usefixtures("sigint_raises")
def test_the_kernel_keeps_its_sigint_handler() -> None:
    with serve(make_app(), name="test"):
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def main_thread_in(function: str, caller: str) -> bool:
    """Whether the main thread is running ``function`` called from ``caller``."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None and frame.f_back is not None:
        if frame.f_code.co_name == function and frame.f_back.f_code.co_name == caller:
            return True
        frame = frame.f_back
    return False


def interrupt_main_in(
    function: str, caller: str, then: Callable[[], object] = lambda: None
) -> threading.Thread:
    """SIGINT the main thread, as the kernel's interrupt button does, once it runs ``function``
    called from ``caller``; then call ``then``. No timer: on a loaded machine a timer may fire
    before the call, or after it returned, and interrupt something else."""

    def interrupt() -> None:
        deadline = time.monotonic() + 30  # a hang guard: the test then fails, nothing is cut
        while not main_thread_in(function, caller):
            if time.monotonic() > deadline:
                then()
                return
            time.sleep(0.005)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        then()

    thread = threading.Thread(target=interrupt, name="interrupter", daemon=True)
    thread.start()
    return thread


@pytest.mark.usefixtures("sigint_raises")
def test_interrupting_a_slow_start_leaves_nothing_behind() -> None:
    started = threading.Event()

    @asynccontextmanager
    async def slow_start(app: FastAPI) -> AsyncIterator[None]:
        while not started.is_set():  # until the interrupt has arrived
            await asyncio.sleep(0.01)
        yield

    # While serve() waits for the start: the interrupt, then the start goes on and ends.
    interrupter = interrupt_main_in("wait", "_start", then=started.set)
    with pytest.raises(KeyboardInterrupt):
        serve(FastAPI(lifespan=slow_start), name="interrupted")
    interrupter.join()
    assert running() == []
    assert not server_threads()


def test_stop_closes_open_connections_and_frees_the_port() -> None:
    server = serve(make_app(), name="busy")
    with connect(server.ws_url("/echo")) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "hi"
        server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1012  # uvicorn's "service restart" on shutdown
    assert refuses_connections(server.port)
    server.stop()  # a second stop is harmless


def test_before_stop_runs_on_the_server_loop_before_connections_close() -> None:
    app = make_app()
    sockets: list[WebSocket] = []

    @app.websocket("/hold")
    async def hold(websocket: WebSocket) -> None:
        await websocket.accept()
        sockets.append(websocket)
        await websocket.send_text("ready")
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()

    async def going_away() -> None:
        for websocket in sockets:
            await websocket.close(code=1001, reason="server going away")

    server = serve(app, name="polite", before_stop=going_away)
    with connect(server.ws_url("/hold")) as ws:
        assert ws.recv(timeout=5) == "ready"
        server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "server going away")


def test_stop_cuts_a_client_that_stopped_reading() -> None:
    app = FastAPI()
    noise = os.urandom(65536)  # incompressible, so permessage-deflate does not shrink it

    @app.websocket("/firehose")
    async def firehose(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:  # blocks once the client's buffers are full
            await websocket.send_bytes(noise)

    server = serve(app, name="firehose")
    # max_queue=1, and never reading: the client stops taking data off its socket
    with connect(server.ws_url("/firehose"), max_queue=1, close_timeout=0.5):

        async def backed_up() -> bool:
            return any(t.get_write_buffer_size() > 0 for t in server.transports())

        deadline = time.monotonic() + 30  # a hang guard
        while not server.run(backed_up()):
            assert time.monotonic() < deadline, "the server's writes never backed up"
            time.sleep(0.01)
        server.stop()
        assert not server._server.force_exit  # the graceful path ended, and cut the client
        assert not server.running
    assert refuses_connections(server.port)


def open_descriptors() -> int:
    """Open files and sockets of this process (handles on Windows)."""
    process = psutil.Process()
    return process.num_handles() if sys.platform == "win32" else process.num_fds()


def test_a_hundred_start_stop_cycles_leak_nothing() -> None:
    app = make_app()
    serve(app, name="warm-up").stop()
    threads, descriptors = threading.active_count(), open_descriptors()
    for _ in range(100):
        with serve(app, name="cycle") as server, connect(server.ws_url("/echo")) as ws:
            ws.send("x")
            ws.recv(timeout=5)
    assert threading.active_count() == threads
    assert open_descriptors() == descriptors
    assert running() == []


def test_servers_stop_when_the_interpreter_exits(tmp_path: Path) -> None:
    marker = tmp_path / "shutdown-ran"
    script = textwrap.dedent(
        f"""
        from contextlib import asynccontextmanager
        from fastapi import FastAPI
        from ws_lessons import serve

        @asynccontextmanager
        async def lifespan(app):
            yield
            open({str(marker)!r}, "w").close()

        server = serve(FastAPI(lifespan=lifespan))
        print(server.port)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert marker.exists(), "the app's lifespan shutdown did not run at exit"
    assert refuses_connections(int(result.stdout))


def test_stop_all_stops_taps_counters_and_services(tmp_path: Path) -> None:
    server = serve(make_app(), name="stopped by stop_all")
    tap, counter = Tap(server), ByteCounter(server)
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    service = Service("http.server", command, port, tmp_path)
    child = psutil.Process(service.process.pid)
    with connect(tap.ws_url("/echo")) as ws, httpx.Client(base_url=counter.url) as client:
        assert client.get("/").json() == {"ok": True}
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
    assert httpx.get(service.url).status_code == 200
    stop_all()
    for port in (server.port, tap.port, counter.port, service.port):
        assert refuses_connections(port), port
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert service.process.poll() is not None


def test_the_protocol_modules_import_only_the_standard_library() -> None:
    script = textwrap.dedent(
        """
        import sys
        import ws_lessons.frames, ws_lessons.handshake, ws_lessons.scratch
        import ws_lessons.table, ws_lessons.i18n, ws_lessons.autobahn
        heavy = ("uvicorn", "starlette", "fastapi", "httpx", "websockets", "anyio", "pydantic")
        print(sorted(name for name in heavy if name in sys.modules))
        import ws_lessons
        print(ws_lessons.__version__, "serve" in dir(ws_lessons))
        from ws_lessons import browser_url, serve, stop_all
        print("uvicorn" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "0.1.0 True", "True"]


async def _echo_bytes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


def test_serve_streams_runs_a_plain_tcp_handler_like_serve_runs_an_app() -> None:
    threads = threading.active_count()
    first = serve_streams(_echo_bytes, name="streams")
    with socket.create_connection((first.host, first.port), timeout=5) as client:
        client.sendall(b"ping")
        assert client.recv(4) == b"ping"
        again = serve_streams(_echo_bytes, name="streams")  # a cell run twice
        assert not first.running and again.running
        assert client.recv(4) == b""  # the old server's connection was ended
    assert refuses_connections(first.port)
    stop_all()
    assert not again.running and refuses_connections(again.port)
    assert threading.active_count() == threads
    assert running() == []


def test_serve_streams_keeps_what_the_handler_raised_in_its_logs() -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        raise ValueError("a bug in the handler")

    with serve_streams(broken, name="broken") as server:
        with socket.create_connection((server.host, server.port), timeout=5) as client:
            client.sendall(b"x")
            assert client.recv(1) == b""  # the connection was closed for the handler
        assert server.logs == ["ERROR    the handler raised ValueError: a bug in the handler"]


def test_serve_streams_wants_the_handler_itself() -> None:
    with pytest.raises(TypeError, match="handler function itself"):
        serve_streams("handle")  # type: ignore[arg-type]


# -- the edges of serve() and stop() ----------------------------------------------------------


def test_run_from_the_servers_own_loop_says_to_await(server: RunningServer) -> None:
    async def nothing() -> None:
        pass

    async def from_inside() -> None:
        server.run(nothing())  # on the server's loop this would wait for itself forever

    with pytest.raises(RuntimeError, match="own loop: await the coroutine"):
        server.run(from_inside())


def test_a_host_this_machine_does_not_have_gives_a_clear_error() -> None:
    with pytest.raises(ServerError, match=r"cannot listen on 192\.0\.2\.1:0: "):
        serve(make_app(), host="192.0.2.1")  # TEST-NET-1 (RFC 5737): never a local address
    assert running() == []


def test_a_start_that_never_ends_is_given_up_and_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ws_lessons.server.embedded.START_TIMEOUT", 0.5)

    @asynccontextmanager
    async def stuck(app: FastAPI) -> AsyncIterator[None]:
        deadline = time.monotonic() + 30  # a hang guard
        while not main_thread_in("stop", "_start") and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # until serve() gives up and stops the server
        yield

    with pytest.raises(ServerError, match=r"did not start within 0\.5 s"):
        serve(FastAPI(lifespan=stuck), name="stuck")
    assert running() == []
    assert not server_threads()


def test_stop_forces_a_server_whose_requests_never_finish() -> None:
    app = FastAPI()
    arrived = threading.Event()

    @app.get("/forever")
    async def forever() -> None:
        arrived.set()
        await asyncio.Event().wait()

    server = serve(app, name="forced", timeout_graceful_shutdown=600)

    def ask() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server cuts the connection
            httpx.get(f"{server.url}/forever", timeout=60)

    client = threading.Thread(target=ask, daemon=True)
    client.start()
    assert arrived.wait(30)
    server.stop(timeout=2)  # the graceful drain would take 600 s: forced after 2 s
    assert server._server.force_exit
    assert not server.running
    assert refuses_connections(server.port)
    client.join(30)
    assert not client.is_alive()  # its connection was cut


def test_a_tap_says_when_a_connection_stays_open(server: RunningServer) -> None:
    tap = Tap(server)
    with connect(tap.ws_url("/echo")) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "hi"
        with pytest.raises(TimeoutError, match=r"still open after 0\.1 s"):
            tap.wait_idle(0.1)
    assert tap.wait_idle(30) is tap  # closed: returns at once, with the whole session
    assert [record.kind for record in tap.records][:2] == ["handshake", "handshake"]


def test_free_ports_are_never_ones_the_system_hands_out_for_port_0() -> None:
    ports = {free_port() for _ in range(20)}
    assert not ports & set(services._ephemeral_ports())
    for port in ports:  # free: a server can listen there
        with socket.create_server(("127.0.0.1", port)):
            pass


def http_server(tmp_path: Path) -> Service:
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    return Service("http.server", command, port, tmp_path)


def test_a_killed_service_is_gone_at_once_and_forgotten(tmp_path: Path) -> None:
    service = http_server(tmp_path)
    assert services.started() == [service]
    service.kill()
    assert service.process.returncode == -signal.SIGKILL  # no chance to clean up: a crash
    assert refuses_connections(service.port)
    assert services.started() == []


def test_waiting_for_a_log_line_gives_up_with_the_log(tmp_path: Path) -> None:
    with http_server(tmp_path) as service:
        with pytest.raises(services.ServiceUnavailable, match="never logged 'no such line' 1x"):
            service.wait_for_log("no such line", timeout=0.2)
        httpx.get(service.url)
        service.wait_for_log('"GET / HTTP/1.1" 200', timeout=30)
        service.process.terminate()  # a process that exits will never log it: no wait
        with pytest.raises(services.ServiceUnavailable, match="never logged"):
            service.wait_for_log("no such line", timeout=600)


def test_asyncio_warnings_of_a_server_loop_go_to_its_log(capfd: pytest.CaptureFixture[str]) -> None:
    """Writing to a connection already lost makes asyncio warn on the server's loop: the
    warning belongs to that server's log, never to the kernel's stderr under a cell."""
    peer = socket.create_server(("127.0.0.1", 0))

    def reset_the_connection() -> None:
        connection, _ = peer.accept()
        connection.recv(1)  # the server is connected
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        connection.close()  # a reset, not a goodbye

    app = FastAPI()

    @app.get("/write-late")
    async def write_late() -> str:
        reader, writer = await asyncio.open_connection(*peer.getsockname())
        writer.write(b"?")
        with contextlib.suppress(ConnectionError):
            await reader.read(1)  # the reset arrives
        for _ in range(10):  # asyncio warns from the fifth write to a lost connection on
            writer.write(b"late")
        writer.close()
        return "wrote"

    resetter = threading.Thread(target=reset_the_connection)
    resetter.start()
    with peer, serve(app, name="late-writer") as server:
        response = httpx.get(f"{server.url}/write-late")
        assert response.json() == "wrote"
        resetter.join(10)
        assert any("socket.send() raised exception." in line for line in server.logs)
    assert "socket.send() raised exception." not in capfd.readouterr().err
