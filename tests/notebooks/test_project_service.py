"""The learner's chat as lesson 14 leaves it, run as a service: real processes, real Redis.

The project is laid down from the course's answers (every layer, 09 to 14) in a folder of
its own, then ``python -m mychat`` runs from it as a deployment runs it: every setting from
the environment. Redis stops under a chat and starts again; Prometheus's parser reads
``/metrics`` while messages flow; SIGTERM drains the clients within the grace period.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ws_lessons.project import layers
from ws_lessons.services import Service, ServiceUnavailable, free_port, start_redis

NEEDED = ["mychat/service.py", "mychat/drain.py", "mychat/redis_broker.py", "mychat/main.py"]
SECRET = "a secret for the service tests"
HANG = 20.0  # a guard against a hang, never a speed goal


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every layer of the course's answers, in order (a later write of a file wins)."""
    root = tmp_path_factory.mktemp("project")
    for files in layers().values():
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    missing = [path for path in NEEDED if not (root / path).is_file()]
    assert not missing, f"the course's answers lack {missing}: run tools/project.py"
    return root


@pytest.fixture
def redis() -> Iterator[Service]:
    server = start_redis(name="project service redis", persistent=True)
    yield server
    server.stop()


def start_chat(project: Path, name: str, **env: str) -> Service:
    """``python -m mychat`` from the project folder, configured by the environment only."""
    port = free_port()
    environment = {"CHAT_SECRET": SECRET, "CHAT_PORT": str(port), **env}
    chat = Service(name, [sys.executable, "-m", "mychat"], port, project, env=environment)
    chat.wait_for_log("Application startup complete.")
    return chat


async def token(chat: Service, user: str) -> str:
    async with httpx.AsyncClient(base_url=chat.url) as http:
        response = await http.post("/token", json={"user": user})
        response.raise_for_status()
        return response.json()["token"]


async def join(chat: Service, user: str, since: int | None = None) -> ClientConnection:
    """A client in room ``lobby``, its welcome read."""
    query = f"?token={await token(chat, user)}" + ("" if since is None else f"&since={since}")
    ws = await connect(chat.ws_url(f"/ws/lobby{query}"), open_timeout=HANG)
    assert json.loads(await asyncio.wait_for(ws.recv(), HANG))["type"] == "welcome"
    return ws


async def say(ws: ClientConnection, text: str) -> int:
    """Send ``text``; the seq of the ``said`` that confirms it."""
    await ws.send(json.dumps({"type": "say", "text": text}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), HANG))
        if message["type"] == "said" and message["text"] == text:
            return message["seq"]


async def closed(ws: ClientConnection) -> tuple[int | None, str | None, float]:
    """The close code and reason the client gets, and when (monotonic)."""
    try:
        async with asyncio.timeout(HANG):
            async for _ in ws:
                pass
    except ConnectionClosed:
        pass  # a code other than 1000 and 1001
    return ws.close_code, ws.close_reason, time.monotonic()


async def readiness(chat: Service, status: int) -> dict:
    """Poll ``/readyz`` until it answers ``status``; its JSON."""
    async with httpx.AsyncClient(base_url=chat.url) as http, asyncio.timeout(HANG):
        while (response := await http.get("/readyz")).status_code != status:
            await asyncio.sleep(0.05)
    return response.json()


def metrics(chat: Service) -> dict[str, float]:
    """``/metrics`` read by Prometheus's own parser: {name{labels}: value} of the chat's."""
    page = httpx.get(f"{chat.url}/metrics").text
    return {
        sample.name + json.dumps(sample.labels, sort_keys=True): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name.startswith("chat_") and not sample.name.endswith("_created")
    }


@pytest.mark.needs("redis-server")
def test_redis_stopped_mid_chat_then_started(project: Path, redis: Service) -> None:
    chat = start_chat(project, "project service outage", CHAT_REDIS_URL=redis.url)

    async def scenario() -> None:
        clients = [await join(chat, f"user{n}") for n in range(4)]
        confirmed = [await say(clients[0], f"before {n}") for n in range(5)]
        assert (await readiness(chat, 200))["status"] == "ready"

        redis.stop()
        not_ready = await readiness(chat, 503)
        assert not_ready["reason"]
        outcomes = await asyncio.gather(*map(closed, clients))
        for code, reason, _ in outcomes:
            assert code not in (None, 1000, 1006), (code, reason)
            assert reason, f"closed with {code} and no reason"

        redis.start()
        assert (await readiness(chat, 200))["status"] == "ready"
        ada = await join(chat, "ada", since=0)
        replayed = [json.loads(await asyncio.wait_for(ada.recv(), HANG)) for _ in confirmed]
        assert [message["seq"] for message in replayed] == confirmed
        assert await say(ada, "after") == confirmed[-1] + 1  # the same process serves again
        await ada.close()

    try:
        asyncio.run(scenario())
    finally:
        chat.stop()
    assert "Traceback" not in chat.log, chat.log


@pytest.mark.needs("redis-server")
def test_metrics_move_as_messages_flow(project: Path, redis: Service) -> None:
    chat = start_chat(project, "project service metrics", CHAT_REDIS_URL=redis.url)

    async def scenario() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        ada, grace = await join(chat, "ada"), await join(chat, "grace")
        before = metrics(chat)
        for n in range(3):
            await say(ada, f"hello {n}")
        for _ in range(3):
            await asyncio.wait_for(grace.recv(), HANG)
        during = metrics(chat)
        await ada.close()
        await grace.close()
        async with asyncio.timeout(HANG):
            while metrics(chat)["chat_connections{}"] != 0:
                await asyncio.sleep(0.05)
        return before, during, metrics(chat)

    try:
        before, during, after = asyncio.run(scenario())
    finally:
        chat.stop()
    assert before["chat_connections{}"] == 2
    assert before["chat_rooms{}"] == 1
    assert during["chat_messages_in_total{}"] - before["chat_messages_in_total{}"] == 3
    assert during["chat_messages_out_total{}"] - before["chat_messages_out_total{}"] >= 6
    assert during["chat_outbox_depth{}"] >= 0
    assert during["chat_broker_reconnects_total{}"] == 0
    assert after["chat_rooms{}"] == 0


@pytest.mark.slow
def test_sigterm_drains_every_client_within_the_grace_period(project: Path) -> None:
    grace = 6.0
    chat = start_chat(project, "project service drain", CHAT_GRACE=str(grace))

    async def scenario() -> tuple[list[tuple[int | None, str | None, float]], float]:
        clients = [await join(chat, f"user{n}") for n in range(20)]
        began = time.monotonic()
        chat.process.send_signal(signal.SIGTERM)
        assert "reason" in await readiness(chat, 503)
        outcomes = await asyncio.gather(*map(closed, clients))
        await asyncio.to_thread(chat.process.wait, HANG)
        exited_after = time.monotonic() - began
        return [(code, reason, at - began) for code, reason, at in outcomes], exited_after

    try:
        outcomes, exited_after = asyncio.run(scenario())
    finally:
        chat.stop()
    assert {code for code, _, _ in outcomes} == {1001}
    assert len({round(at, 1) for _, _, at in outcomes}) > 1, "all closed at once, not in batches"
    assert chat.process.returncode == 0, chat.log
    assert exited_after < grace, f"exited after {exited_after:.1f} s, grace {grace} s"
    assert "Traceback" not in chat.log, chat.log


class ResumingClient:
    """A client that keeps every ``said`` once, in order: on a close it reconnects with
    ``since`` (through ``proxy``, so maybe to another process); a seq seen already is
    dropped, a seq that skips one means a message was missed: it reconnects to fetch it."""

    def __init__(self, proxy: Service, user: str) -> None:
        self.proxy, self.user = proxy, user
        self.seqs: list[int] = []
        self.since: int | None = None
        self.connections = self.duplicates = self.gaps = 0

    async def run(self, chat: Service, until: asyncio.Future[int]) -> None:
        while not self.caught_up(until):
            query = f"?token={await token(chat, self.user)}"
            query += "" if self.since is None else f"&since={self.since}"
            try:
                async with connect(self.proxy.ws_url(f"/ws/lobby{query}"), open_timeout=HANG) as ws:
                    self.connections += 1
                    await self.read(ws, until)
            except (ConnectionClosed, OSError, TimeoutError):
                await asyncio.sleep(0.05)  # refused while draining, or closed: come back
            except Exception as refused:  # the handshake refused (HTTP 403 or 503)
                if "rejected" not in str(refused):
                    raise
                await asyncio.sleep(0.05)

    def caught_up(self, until: asyncio.Future[int]) -> bool:
        return until.done() and self.since is not None and self.since >= until.result()

    async def read(self, ws: ClientConnection, until: asyncio.Future[int]) -> None:
        while not self.caught_up(until):
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
            except TimeoutError:
                continue  # nothing new: look at ``until`` again
            if message["type"] == "welcome" and self.since is None:
                self.since = message["seq"]
            elif message["type"] == "said":
                if message["seq"] <= self.since:
                    self.duplicates += 1
                elif message["seq"] > self.since + 1:
                    self.gaps += 1
                    return  # reconnect with since: the history fills the gap
                else:
                    self.seqs.append(message["seq"])
                    self.since = message["seq"]


@pytest.mark.needs("redis-server", "nginx")
@pytest.mark.slow
def test_a_rolling_restart_loses_and_repeats_nothing(project: Path, redis: Service) -> None:
    """30 clients behind nginx; one of two processes stops (SIGTERM) while Ada speaks:
    every client resumes on the other process and holds every seq exactly once."""
    from ws_lessons.services import start_nginx

    chats = [
        start_chat(
            project,
            f"project service rolling {n}",
            CHAT_REDIS_URL=redis.url,
            CHAT_GRACE="4",
            CHAT_RATE="100",
            CHAT_BURST="100",
        )  # Ada speaks fast
        for n in (1, 2)
    ]
    try:
        proxy = start_nginx([chat.port for chat in chats], name="project service rolling nginx")
    except ServiceUnavailable:
        for chat in chats:
            chat.stop()
        raise

    async def scenario() -> tuple[list[ResumingClient], list[int]]:
        until: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        clients = [ResumingClient(proxy, f"user{n}") for n in range(30)]
        tasks = [asyncio.create_task(client.run(chats[1], until)) for client in clients]
        async with asyncio.timeout(HANG):
            while any(client.since is None for client in clients):
                await asyncio.sleep(0.05)
        ada = await join(chats[1], "ada")
        sent = [await say(ada, "before the restart")]
        chats[0].process.send_signal(signal.SIGTERM)
        for n in range(40):
            sent.append(await say(ada, f"during the restart {n}"))
            await asyncio.sleep(0.05)
        until.set_result(sent[-1])
        async with asyncio.timeout(HANG * 2):
            await asyncio.gather(*tasks)
        await ada.close()
        return clients, sent

    try:
        clients, sent = asyncio.run(scenario())
        assert chats[0].process.wait(HANG) == 0
    finally:
        proxy.stop()
        for chat in chats:
            chat.stop()
    expected = list(range(sent[0], sent[-1] + 1))
    assert sent == expected
    for client in clients:
        assert client.seqs == expected, (client.user, client.gaps, client.duplicates)
    moved = [client for client in clients if client.connections > 1]
    assert moved, "no client was on the process that restarted"
    assert "Traceback" not in chats[0].log + chats[1].log
