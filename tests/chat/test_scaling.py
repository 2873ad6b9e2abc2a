"""Several chat processes behind a real nginx, and a real Redis: all as child processes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ws_lessons.chat import tokens
from ws_lessons.services import (
    Service,
    ServiceUnavailable,
    free_port,
    start_chat_worker,
    start_nginx,
    start_redis,
)

pytestmark = pytest.mark.timeout(120)
SECRET = "scaling"


@contextmanager
def join(service: Service, user: str, room: str = "lobby") -> Iterator[ClientConnection]:
    url = service.ws_url(f"/ws/{room}?token={tokens.issue(user, SECRET)}")
    with connect(url, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
        yield ws


def accepted(worker: Service) -> int:
    return worker.log.count('"WebSocket /ws/lobby')


@pytest.fixture
def workers() -> Iterator[list[Service]]:
    started = [start_chat_worker(secret=SECRET) for _ in range(2)]
    yield started
    for worker in started:
        worker.stop()


@pytest.mark.needs("nginx")
def test_nginx_passes_websockets_to_both_workers(workers: list[Service]) -> None:
    with start_nginx([worker.port for worker in workers]) as proxy:
        assert httpx.get(f"{proxy.url}/healthz").json() == {"status": "ok"}
        for user in ["ada", "bob", "cy", "dee"]:
            with join(proxy, user) as ws:
                ws.send(json.dumps({"type": "say", "text": f"hi from {user}"}))
                assert json.loads(ws.recv(timeout=5))["text"] == f"hi from {user}"
    assert [accepted(worker) for worker in workers] == [2, 2]  # nginx's round robin


@pytest.mark.needs("nginx")
def test_without_the_upgrade_headers_the_handshake_fails(workers: list[Service]) -> None:
    with (
        start_nginx([workers[0].port], websocket="") as proxy,
        pytest.raises(InvalidStatus) as refused,
        join(proxy, "ada"),
    ):
        pass
    # The worker got a plain GET: no WebSocket route answers it.
    assert refused.value.response.status_code == 404
    assert accepted(workers[0]) == 0


def test_without_a_shared_broker_two_processes_are_two_chats(workers: list[Service]) -> None:
    first, second = workers
    with join(first, "ada") as ada, join(second, "bob") as bob:
        ada.send(json.dumps({"type": "say", "text": "anyone?"}))
        assert read(ada, "said")["seq"] == 1
        bob.send(json.dumps({"type": "say", "text": "me!"}))
        # bob's process never heard of ada's message: his own is the first, numbered 1 again.
        said = read(bob, "said")
        assert (said["text"], said["seq"]) == ("me!", 1)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with start_redis() as server:
        yield server.url


@contextmanager
def chat_processes(redis_url: str, count: int = 2) -> Iterator[list[Service]]:
    started = [start_chat_worker(secret=SECRET, redis=redis_url) for _ in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


def read(ws: ClientConnection, kind: str) -> dict:
    """The next message of type ``kind``, skipping others."""
    while True:
        message = json.loads(ws.recv(timeout=5))
        if message["type"] == kind:
            return message


@pytest.mark.needs("redis-server")
@pytest.mark.slow
def test_with_redis_two_processes_share_one_room(redis_url: str) -> None:
    with (
        chat_processes(redis_url) as (first, second),
        join(first, "ada") as ada,
        join(second, "bob") as bob,
    ):
        assert read(ada, "joined")["user"] == "bob"  # presence crosses processes
        ada.send(json.dumps({"type": "say", "text": "hi bob"}))
        bob.send(json.dumps({"type": "say", "text": "hi ada"}))
        seen_by_ada = [read(ada, "said") for _ in range(2)]
        seen_by_bob = [read(bob, "said") for _ in range(2)]
        assert seen_by_ada == seen_by_bob  # same messages, same order, same seq
        assert [said["seq"] for said in seen_by_ada] == [1, 2]
        assert {said["text"] for said in seen_by_ada} == {"hi bob", "hi ada"}
    # A process started later continues the same numbering.
    with chat_processes(redis_url, 1) as (third,), join(third, "cy") as cy:
        cy.send(json.dumps({"type": "say", "text": "late"}))
        assert read(cy, "said")["seq"] == 3


@pytest.mark.needs("redis-server")
@pytest.mark.slow
def test_with_redis_a_client_resumes_on_another_process(redis_url: str) -> None:
    with chat_processes(redis_url) as (first, second):
        token = tokens.issue("dee", SECRET)
        with connect(first.ws_url(f"/ws/resume?token={token}")) as ws:
            last = read(ws, "welcome")["seq"]
            for text in ["one", "two"]:
                ws.send(json.dumps({"type": "say", "text": text}))
                read(ws, "said")
        with connect(second.ws_url(f"/ws/resume?token={token}&since={last}")) as ws:
            assert read(ws, "welcome")["members"] == ["dee"]
            assert [read(ws, "said")["text"] for _ in range(2)] == ["one", "two"]


@pytest.mark.needs("redis-server")
def test_with_redis_a_second_tab_on_another_process_is_no_news(redis_url: str) -> None:
    """Presence counts a user's connections in all processes: a second tab opening or
    closing elsewhere is neither a join nor a leave."""
    members = redis.Redis.from_url(redis_url, decode_responses=True)
    with chat_processes(redis_url) as (first, second), join(first, "eve", "tabs") as eve:
        with join(first, "fay", "tabs") as fay:
            assert read(eve, "joined")["user"] == "fay"
            with join(second, "fay", "tabs") as fay_again:
                assert members.hget("chat:tabs:members", "fay") == "2"
                fay_again.send(json.dumps({"type": "say", "text": "from the second tab"}))
                news = json.loads(eve.recv(timeout=5))  # a second "joined" would come first
                assert (news["type"], news["text"]) == ("said", "from the second tab")
            for _ in range(100):  # until the second process has counted the tab out
                if members.hget("chat:tabs:members", "fay") == "1":
                    break
                time.sleep(0.05)
            assert members.hget("chat:tabs:members", "fay") == "1"
            fay.send(json.dumps({"type": "say", "text": "still here"}))
            news = json.loads(eve.recv(timeout=5))  # a "left" would come first
            assert (news["type"], news["text"]) == ("said", "still here")
        assert read(eve, "left")["user"] == "fay"  # her last tab
    members.close()


def test_with_redis_down_the_worker_does_not_start() -> None:
    with pytest.raises(ServiceUnavailable, match=r"(?i)connect"):
        start_chat_worker(secret=SECRET, redis=f"redis://127.0.0.1:{free_port()}")


@pytest.mark.needs("nginx", "redis-server")
@pytest.mark.slow
def test_nginx_and_redis_make_one_chat_of_two_workers(redis_url: str) -> None:
    with (
        chat_processes(redis_url) as workers,
        start_nginx([worker.port for worker in workers]) as proxy,
        join(proxy, "eve") as eve,
        join(proxy, "fay") as fay,
    ):
        eve.send(json.dumps({"type": "say", "text": "through the proxy"}))
        assert read(fay, "said")["text"] == "through the proxy"
    assert [accepted(worker) for worker in workers] == [1, 1]


@pytest.mark.needs("redis-server")
def test_redis_starts_on_a_free_port_and_answers() -> None:
    import redis

    with start_redis() as server:
        client = redis.Redis(port=server.port)
        assert client.ping()
        client.close()
    assert server.process.returncode is not None


def test_a_missing_program_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda *args, **kwargs: None)  # a machine without it
    with pytest.raises(ServiceUnavailable, match="apt-get install nginx"):
        start_nginx([8000])
    with pytest.raises(ServiceUnavailable, match="conda-forge redis-server"):
        start_redis()
