"""``serve chat --workers N --redis URL``: N processes on one port, one chat."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import ExitStack

import psutil
import pytest
from test_scaling import SECRET, read
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import ClientConnection, connect

from ws_lessons.chat import tokens
from ws_lessons.services import Service, start_chat_worker, start_redis

pytestmark = pytest.mark.timeout(120)


def serving_process(worker: Service, ws: ClientConnection) -> int:
    """The pid of the worker process holding the server side of ``ws``."""
    client_port = ws.local_address[1]
    for child in psutil.Process(worker.process.pid).children():
        for conn in child.net_connections("tcp"):
            if conn.laddr.port == worker.port and conn.raddr and conn.raddr.port == client_port:
                return child.pid
    raise AssertionError(f"no worker process holds the connection from port {client_port}")


@pytest.mark.needs("redis-server")
@pytest.mark.slow
def test_two_workers_on_one_port_share_the_rooms() -> None:
    with (
        start_redis() as redis_server,
        start_chat_worker(secret=SECRET, redis=redis_server.url, options=["--workers", "2"]) as w,
        ExitStack() as clients,
    ):
        w.wait_for_log("Application startup complete.", 2)  # both workers accept
        by_process: dict[int, list[ClientConnection]] = {}
        for number in range(40):  # the kernel hands each connection to either process
            url = w.ws_url(f"/ws/lobby?token={tokens.issue(f'user{number}', SECRET)}")
            ws = clients.enter_context(connect(url, open_timeout=5))
            read(ws, "welcome")
            by_process.setdefault(serving_process(w, ws), []).append(ws)
            if len(by_process) == 2 and min(map(len, by_process.values())) >= 2:
                break
        assert len(by_process) == 2, "every connection went to the same process"
        senders = [connections[0] for connections in by_process.values()]
        for number, sender in enumerate(senders):
            sender.send(json.dumps({"type": "say", "text": f"from process {number}"}))
        everyone = [ws for connections in by_process.values() for ws in connections]
        heard = [[read(ws, "said")["text"] for _ in senders] for ws in everyone]
        assert all(texts == heard[0] for texts in heard)  # every message, one order
        assert sorted(heard[0]) == ["from process 0", "from process 1"]
    assert "Traceback" not in w.log, w.log


def test_workers_without_redis_are_refused_with_the_reason() -> None:
    command = [sys.executable, "-m", "ws_lessons", "serve", "chat", "--workers", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--workers above 1 needs --redis URL" in result.stderr
    assert "would not see each other" in result.stderr


@pytest.mark.needs("redis-server")
def test_stopping_the_workers_closes_their_clients_with_1001() -> None:
    with start_redis() as redis_server:
        chat = start_chat_worker(secret=SECRET, redis=redis_server.url, options=["--workers", "2"])
        chat.wait_for_log("Application startup complete.", 2)
        url = chat.ws_url(f"/ws/lobby?token={tokens.issue('ada', SECRET)}")
        with connect(url, open_timeout=5) as ws:
            read(ws, "welcome")
            chat.stop()
            with pytest.raises(ConnectionClosedOK) as closed:
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert "Traceback" not in chat.log, chat.log


def test_history_and_redis_together_are_refused_with_the_reason(tmp_path) -> None:
    command = [sys.executable, "-m", "ws_lessons", "serve", "chat", "--redis", "redis://x:1"]
    command += ["--history", str(tmp_path / "chat.db")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "argument --history: not allowed with argument --redis" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.needs("redis-server")
@pytest.mark.slow
def test_a_worker_that_dies_takes_the_others_down_with_it() -> None:
    """Half a chat would lose the messages of the clients the dead worker held: the parent
    stops every worker, and a process manager can start the whole chat again."""
    with start_redis() as redis_server:
        chat = start_chat_worker(secret=SECRET, redis=redis_server.url, options=["--workers", "2"])
        chat.wait_for_log("Application startup complete.", 2)
        first, second = [  # the workers, not multiprocessing's resource tracker
            child
            for child in psutil.Process(chat.process.pid).children()
            if "spawn_main" in " ".join(child.cmdline())
        ]
        url = chat.ws_url(f"/ws/lobby?token={tokens.issue('ada', SECRET)}")
        with connect(url, open_timeout=5) as ws:
            read(ws, "welcome")
            held_by = serving_process(chat, ws)
            other = second if held_by == first.pid else first
            other.kill()  # the worker that does not hold ada's connection crashes
            with pytest.raises(ConnectionClosedOK) as closed:
                ws.recv(timeout=30)  # ...and ada's worker is stopped: 1001, going away
        assert chat.process.wait(30) == 0
        assert not psutil.pid_exists(held_by) or psutil.Process(held_by).status() == "zombie"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
