"""The chat in production: probes, metrics, JSON logs, the secret, draining on SIGTERM, and a
rolling restart of ``serve chat --workers 2`` behind nginx. Real processes throughout."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import signal
import subprocess
import sys
from typing import Any

import httpx
import psutil
import pytest
from chatkit import SECRET, closed, receive, scrape, token
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ws_lessons.chat import ChatClient, backoff, create_app
from ws_lessons.services import Service, start_chat_worker, start_nginx, start_redis

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

HANG_GUARD = 60.0
"""Seconds a wait may take before the test fails: a guard against hangs, not a speed goal."""


async def join(url: str, user: str, room: str = "lobby") -> ClientConnection:
    async with asyncio.timeout(HANG_GUARD):
        ws = await connect(f"{url}/ws/{room}?token={token(user)}")
        assert (await receive(ws))["type"] == "welcome"
    return ws


# -- probes and metrics, in process -----------------------------------------------------------


async def test_livez_readyz_and_the_old_healthz(start) -> None:
    app = create_app(secret=SECRET)
    server = start(app)
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ("/livez", "/readyz", "/healthz"):
            response = await http.get(path)
            assert (response.status_code, response.json()) == (200, {"status": "ok"})
        app.state.hub.closing = True  # what a SIGTERM does first
        assert (await http.get("/livez")).status_code == 200
        for path in ("/readyz", "/healthz"):
            response = await http.get(path)
            assert response.status_code == 503
            assert response.json() == {
                "status": "unavailable",
                "reason": "the server is shutting down",
            }


async def test_metrics_move_as_messages_flow(start) -> None:
    server = start(create_app(secret=SECRET))
    url = server.ws_url("").rstrip("/")
    before = await asyncio.to_thread(scrape, server.url)
    assert before["chat_connections"] == 0
    ada, bob = await join(url, "ada"), await join(url, "bob")
    try:
        await receive(ada, "joined")
        during = await asyncio.to_thread(scrape, server.url)
        assert during["chat_connections"] == 2
        assert during["chat_rooms"] == 1
        for n in range(3):
            await ada.send(json.dumps({"type": "say", "text": f"hello {n}"}))
        for ws in (ada, bob):
            assert [(await receive(ws, "said"))["seq"] for _ in range(3)] == [1, 2, 3]
        after = await asyncio.to_thread(scrape, server.url)
    finally:
        await ada.close()
        await bob.close()
    assert after["chat_messages_received_total"] - during["chat_messages_received_total"] == 3
    assert after["chat_messages_sent_total"] - during["chat_messages_sent_total"] == 6  # 3 x 2
    assert after["chat_outbox_deepest"] == 0  # both read everything
    assert after["chat_slow_clients_dropped_total"] == before["chat_slow_clients_dropped_total"]
    assert after["chat_broker_reconnects_total"] == 0  # in memory: no broker to lose
    assert after["process_open_fds"] > 0  # prometheus-client's process collector


# -- the command line: the secret, JSON logs ----------------------------------------------------


def test_secret_on_the_command_line_is_refused_with_the_variable_to_use() -> None:
    command = [sys.executable, "-m", "ws_lessons", "serve", "chat", "--secret", "hunter2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "Set the environment variable WS_LESSONS_SECRET instead" in result.stderr
    assert "Traceback" not in result.stderr


async def test_the_secret_comes_from_the_environment_and_logs_can_be_json() -> None:
    with start_chat_worker(secret=SECRET, options=["--log-format", "json"]) as chat:
        assert SECRET not in " ".join(psutil.Process(chat.process.pid).cmdline())
        ws = await join(chat.ws_url("").rstrip("/"), "ada")  # a token signed with SECRET
        await ws.close()
    lines = [json.loads(line) for line in chat.log.splitlines()]  # every line is JSON
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    accepted = [line for line in lines if "[accepted]" in line["message"]]
    assert [(line["room"], line["user"]) for line in accepted] == [("lobby", "ada")]
    assert "token=…" in accepted[0]["message"]  # the token itself is never logged


# -- SIGTERM: drain in batches over the grace period ------------------------------------------


async def test_sigterm_drains_clients_in_batches_within_the_grace_period() -> None:
    grace = 3.0
    chat = start_chat_worker(secret=SECRET, grace=grace)
    url = chat.ws_url("").rstrip("/")
    clients = [await join(url, f"user{n}") for n in range(10)]
    loop = asyncio.get_running_loop()

    async def close_of(ws: ClientConnection) -> tuple[int | None, str | None, float]:
        async with asyncio.timeout(HANG_GUARD):
            while True:
                try:
                    await ws.recv()
                except ConnectionClosed as closed:
                    at, rcvd = loop.time(), closed.rcvd
                    return (rcvd and rcvd.code), (rcvd and rcvd.reason), at

    async def readiness() -> list[tuple[int, dict[str, Any]]]:
        """Poll /readyz from the SIGTERM until the server stops listening."""
        answers = []
        async with httpx.AsyncClient(base_url=chat.url, timeout=5) as http:
            async with asyncio.timeout(HANG_GUARD):
                while chat.process.poll() is None:
                    try:
                        response = await http.get("/readyz")
                    except httpx.TransportError:
                        break
                    answers.append((response.status_code, response.json()))
                    await asyncio.sleep(0.02)
        return answers

    closes = [asyncio.create_task(close_of(ws)) for ws in clients]
    sent = loop.time()
    chat.process.send_signal(signal.SIGTERM)
    answers = await readiness()
    results = await asyncio.gather(*closes)
    returncode = await asyncio.to_thread(chat.process.wait, HANG_GUARD)
    exited = loop.time() - sent
    chat.stop()

    assert [(code, reason) for code, reason, _ in results] == [
        (1001, "the server is shutting down")
    ] * 10
    assert (503, {"status": "unavailable", "reason": "the server is shutting down"}) in answers
    assert returncode == -signal.SIGTERM  # uvicorn re-raises the signal once it has stopped
    drained = float(re.search(r"Drained in ([\d.]+) s", chat.log)[1])
    assert drained < grace  # the server's own clock: done within the grace period
    assert exited < 3 * grace  # the whole process, on a loaded machine: a generous bound
    # Closes come in batches (grace / 2 / 10 = 0.15 s apart): at least two groups of times
    # separated by more than 0.1 s, however late each one was read here.
    times = sorted(at for _, _, at in results)
    assert any(later - earlier > 0.1 for earlier, later in itertools.pairwise(times)), times
    assert "Traceback" not in chat.log, chat.log


async def test_a_connection_during_the_drain_is_closed_with_1001() -> None:
    chat = start_chat_worker(secret=SECRET, grace=10)
    url = chat.ws_url("").rstrip("/")
    stay = [await join(url, f"user{n}") for n in range(10)]  # 10 batches, 0.5 s apart
    chat.process.send_signal(signal.SIGTERM)
    async with httpx.AsyncClient(base_url=chat.url) as http, asyncio.timeout(HANG_GUARD):
        while (await http.get("/readyz")).status_code == 200:
            await asyncio.sleep(0.02)
    async with asyncio.timeout(HANG_GUARD):
        late = await connect(f"{url}/ws/lobby?token={token('late')}")
    close = await closed(late)  # no welcome: the close comes first
    assert close.rcvd is not None
    assert (close.rcvd.code, close.rcvd.reason) == (1001, "the server is shutting down")
    for ws in stay:
        assert (await closed(ws, HANG_GUARD)).rcvd.code == 1001
    await asyncio.to_thread(chat.process.wait, HANG_GUARD)
    chat.stop()


# -- a rolling restart behind nginx --------------------------------------------------------------


def workers_of(chat: Service) -> list[psutil.Process]:
    """The worker processes (not multiprocessing's resource tracker)."""
    children = psutil.Process(chat.process.pid).children()
    return [child for child in children if "spawn_main" in " ".join(child.cmdline())]


def held(chat: Service, worker: psutil.Process) -> int:
    """How many connections (from nginx) ``worker`` holds on the chat's port."""
    connections = worker.net_connections("tcp")
    return sum(c.laddr.port == chat.port and c.status == "ESTABLISHED" for c in connections)


@pytest.mark.needs("redis-server", "nginx")
async def test_a_rolling_restart_loses_and_repeats_nothing() -> None:
    """SIGTERM one of two workers while 30 clients chat: it drains, the parent starts
    another, the clients reconnect and resume, and each ends with every message once."""
    options = ["--workers", "2", "--rate", "1000", "--burst", "1000"]
    with (
        start_redis() as redis_server,
        start_chat_worker(secret=SECRET, redis=redis_server.url, options=options, grace=2) as chat,
    ):
        chat.wait_for_log("Application startup complete.", 2)
        with start_nginx([chat.port]) as proxy:
            clients = [
                ChatClient(proxy.url, "lobby", f"user{n}", delays=lambda: backoff(0.1, 2, 1))
                for n in range(30)
            ]
            async with asyncio.timeout(HANG_GUARD):
                await asyncio.gather(*(client.start(HANG_GUARD) for client in clients))
            try:
                await chat_through_a_restart(chat, clients)
            finally:
                await asyncio.gather(*(client.close() for client in clients))
    assert "Traceback" not in chat.log, chat.log


async def chat_through_a_restart(chat: Service, clients: list[ChatClient]) -> None:
    senders = clients[:3]
    texts = [f"{sender.user}: {n}" for n in range(20) for sender in senders]

    async def say(some: list[str]) -> None:
        for n, text in enumerate(some):
            await senders[n % len(senders)].say(text)
            await asyncio.sleep(0.02)

    await say(texts[:15])
    stopped = max(workers_of(chat), key=lambda worker: held(chat, worker))
    assert held(chat, stopped) > 0
    stopped.send_signal(signal.SIGTERM)
    await say(texts[15:])  # while the worker drains, and after
    await asyncio.to_thread(chat.wait_for_log, "Application startup complete.", 3, HANG_GUARD)
    assert f"Worker {stopped.pid} drained and stopped: starting another" in chat.log
    assert len(workers_of(chat)) == 2 and stopped.pid not in [w.pid for w in workers_of(chat)]

    async with asyncio.timeout(HANG_GUARD):
        for client in clients:
            await client.wait_for_seq(len(texts), HANG_GUARD)
        while any(sender.pending for sender in senders):  # every text confirmed
            await asyncio.sleep(0.05)
    for client in clients:
        assert [said["seq"] for said in client.said] == list(range(1, len(texts) + 1))
        assert sorted(said["text"] for said in client.said) == sorted(texts)  # each once
        assert client.gaps == []
    assert any("closed by the server: 1001" in line for c in clients for line in c.log)
