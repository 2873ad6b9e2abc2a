"""Redis stopped in the middle of a chat, then started again: real Redis, real chat process."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from chatkit import scrape
from test_scaling import SECRET, read
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from ws_lessons.chat import tokens
from ws_lessons.services import Service, start_chat_worker, start_redis

pytestmark = pytest.mark.timeout(120)


def open_chat(worker: Service, user: str, query: str = "") -> ClientConnection:
    url = worker.ws_url(f"/ws/lobby?token={tokens.issue(user, SECRET)}{query}")
    return connect(url, open_timeout=5)


def close_frame(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; the code and reason of its close frame."""
    with pytest.raises(ConnectionClosedError) as closed:
        for _ in range(100):
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None, "the connection was cut without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def healthz(worker: Service, path: str = "/healthz") -> httpx.Response:
    return httpx.get(f"{worker.url}{path}", timeout=5)


@pytest.mark.needs("redis-server")
def test_redis_stopped_mid_chat_and_started_again() -> None:
    with (
        start_redis(persistent=True) as redis_server,
        start_chat_worker(secret=SECRET, redis=redis_server.url) as worker,
    ):
        pid = worker.process.pid
        reconnects = scrape(worker.url)["chat_broker_reconnects_total"]
        with open_chat(worker, "ada") as ada, open_chat(worker, "cy") as cy:
            read(ada, "welcome")
            read(cy, "welcome")
            for n in range(5):
                ada.send(json.dumps({"type": "say", "text": f"confirmed {n} before the outage"}))
            confirmed = [read(ada, "said") for _ in range(5)]  # echoed with a seq: kept
            redis_server.stop()
            closes = [close_frame(ada), close_frame(cy)]
        for code, reason in closes:
            assert code == 1013  # Try Again Later
            assert "Redis" in reason

        for path in ("/readyz", "/healthz"):  # /healthz: the old name
            down = healthz(worker, path)
            assert down.status_code == 503
            assert "Redis" in down.json()["reason"]
        # Alive all the same: a liveness probe failing on Redis would restart every process.
        assert healthz(worker, "/livez").status_code == 200
        with open_chat(worker, "bob") as bob:
            assert close_frame(bob)[0] == 1013

        redis_server.start()  # same port, same data folder
        for _ in range(100):
            if healthz(worker, "/readyz").status_code == 200:
                break
            time.sleep(0.1)
        assert healthz(worker, "/readyz").json() == {"status": "ok"}
        assert worker.process.pid == pid and worker.process.poll() is None  # no restart
        assert scrape(worker.url)["chat_broker_reconnects_total"] == reconnects + 1

        with open_chat(worker, "ada", "&since=0") as ada:
            # ada and cy left while Redis was away: their leaves were counted on its return.
            assert read(ada, "welcome")["members"] == ["ada"]
            assert [read(ada, "said") for _ in range(5)] == confirmed  # kept through the outage
            with open_chat(worker, "bob") as bob:
                assert read(bob, "welcome")["members"] == ["ada", "bob"]
                bob.send(json.dumps({"type": "say", "text": "back"}))
                assert read(ada, "said")["text"] == "back"
                assert read(bob, "said")["seq"] == confirmed[-1]["seq"] + 1
    assert worker.process.returncode is not None
    assert "Traceback" not in worker.log, worker.log
    assert "ERROR" not in worker.log, worker.log


@pytest.mark.needs("redis-server")
def test_a_worker_stopped_while_redis_is_down_exits_cleanly() -> None:
    with start_redis() as redis_server:
        worker = start_chat_worker(secret=SECRET, redis=redis_server.url)
        with open_chat(worker, "ada") as ada:
            read(ada, "welcome")
            redis_server.stop()
            assert close_frame(ada)[0] == 1013
        worker.stop()
    assert worker.process.returncode is not None
    assert "Traceback" not in worker.log, worker.log
    assert "Redis is unreachable" in worker.log  # the cause, in one line
