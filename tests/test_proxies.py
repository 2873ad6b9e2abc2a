"""With proxy variables pointing at a dead proxy, the lessons still reach their own servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from test_notebooks import LESSONS as NOTEBOOKS

from ws_lessons import proxies

# Nothing listens on port 9 (discard) here: a request sent through these proxies fails.
DEAD = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "all_proxy": "socks5://127.0.0.1:9",
}
LESSONS = ["00_start_here", "01_http_limits", "07_fastapi_endpoint", "09_realtime_chat"]


@pytest.fixture
def dead_proxies(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("no_proxy", "NO_PROXY", *(name.upper() for name in DEAD)):
        monkeypatch.delenv(name, raising=False)
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


@pytest.mark.parametrize("stem", LESSONS)
@pytest.mark.notebook
@pytest.mark.slow
def test_lesson_runs_behind_a_dead_proxy(stem: str, dead_proxies: dict[str, str]) -> None:
    """Once, fresh: ``test_notebooks.py`` runs every lesson twice already."""
    path = Path(NOTEBOOKS[0]).parent / f"{stem}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    probe = nbformat.v4.new_code_cell(
        "import os; print(os.environ['all_proxy'], os.environ['no_proxy'])"
    )
    lesson_cells = list(notebook.cells)
    notebook.cells.append(probe)  # run after the lesson: what the kernel saw
    with client.setup_kernel():  # the kernel inherits this process's proxy variables
        for index, cell in enumerate(lesson_cells):
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as error:
                pytest.fail(f"{path.name}, cell {index} failed:\n{error}")
        client.execute_cell(probe, len(lesson_cells))
    assert probe.outputs[0]["text"].split() == [DEAD["all_proxy"], "127.0.0.1,localhost,::1"]
