"""With proxy variables pointing at a dead proxy, the lessons still reach their own servers.

Every Chinese twin runs behind these proxies (``tests/notebooks/test_notebooks.py``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import httpx
import pytest
from test_notebooks import DEAD_PROXIES as DEAD
from test_notebooks import behind_dead_proxies

from ws_lessons import proxies


@pytest.fixture
def dead_proxies(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    behind = behind_dead_proxies(dict(os.environ))
    for name in os.environ.keys() - behind.keys():
        monkeypatch.delenv(name)
    for name, value in DEAD.items():
        monkeypatch.setenv(name, value)
    return DEAD


def test_bypass_adds_loopback_to_no_proxy_once(dead_proxies: dict[str, str]) -> None:
    os.environ["no_proxy"] = "example.com"
    assert proxies.proxies_set() == dead_proxies
    assert proxies.bypass_for_loopback() == ["127.0.0.1", "localhost", "::1"]
    assert os.environ["no_proxy"] == "example.com,127.0.0.1,localhost,::1"
    assert os.environ["NO_PROXY"] == "127.0.0.1,localhost,::1"
    assert proxies.bypass_for_loopback() == []  # a cell run twice adds nothing


def test_importing_the_course_says_so_and_clients_reach_loopback(
    dead_proxies: dict[str, str],
) -> None:
    script = textwrap.dedent(
        """
        import httpx
        from fastapi import FastAPI, WebSocket
        from websockets.sync.client import connect
        from ws_lessons import serve

        app = FastAPI()

        @app.get("/")
        def root():
            return {"reached": "loopback"}

        @app.websocket("/ws")
        async def hello(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_text("no proxy in between")
            await websocket.close()

        with serve(app) as server:
            print(httpx.get(server.url, timeout=5).json())
            with connect(server.ws_url("/ws"), open_timeout=5) as ws:
                print(ws.recv(timeout=5))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ws_lessons: a proxy is set")
    assert lines[1:] == ["{'reached': 'loopback'}", "no proxy in between"]


def test_without_the_bypass_a_client_would_go_to_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The variables are not for show: without no_proxy, httpx does dial the proxy."""
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
            monkeypatch.delenv(name, raising=False)
        proxy.settimeout(5)
        with httpx.Client(timeout=0.5) as client:
            with pytest.raises(httpx.HTTPError):
                client.get("http://127.0.0.1:1/")
            connection, _ = proxy.accept()  # the request went to the proxy
            connection.close()
