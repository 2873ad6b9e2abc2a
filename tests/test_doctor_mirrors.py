"""The doctor's help for a slow package index or an unreachable Docker Hub, with real servers
on loopback: one that never answers, a closed port, one that answers late."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ws_lessons import autobahn, doctor, i18n
from ws_lessons.proxies import LOOPBACK
from ws_lessons.services import free_port

pytestmark = pytest.mark.usefixtures("automatic_language")


class IndexServer(ThreadingHTTPServer):
    delay = 0.0
    asked: list[str]


class Answer(BaseHTTPRequestHandler):
    """A project page of an index, empty, after the server's ``delay``."""

    server: IndexServer

    def do_GET(self) -> None:
        self.server.asked.append(self.path)
        time.sleep(self.server.delay)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def local_index(delay: float = 0.0, handler: type = Answer) -> Iterator[IndexServer]:
    """A package index on loopback that answers each request ``delay`` seconds late."""
    server = IndexServer((LOOPBACK, 0), handler)
    server.delay, server.asked = delay, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def url_of(server: IndexServer) -> str:
    return f"http://{LOOPBACK}:{server.server_address[1]}/simple/"


def gives_the_mirror_advice(finding: doctor.Finding) -> None:
    assert finding.status == doctor.OPTIONAL, finding  # the course runs; installs would crawl
    assert f"PIP_INDEX_URL={doctor.MIRROR}" in finding.fix
    assert "mainland China" in finding.fix


def test_an_index_that_never_answers_gets_the_mirror_advice_in_both_languages() -> None:
    with socket.create_server((LOOPBACK, 0)) as silent:  # takes connections, never answers
        url = f"http://{LOOPBACK}:{silent.getsockname()[1]}/simple/"
        finding = doctor.check_index(url, timeout=0.5)
        gives_the_mirror_advice(finding)
        assert finding.detail.startswith(f"{url} unreachable (ReadTimeout")
        i18n.set_language("zh")
        chinese = doctor.check_index(url, timeout=0.5)
    assert chinese.detail.startswith(f"无法连接 {url}（ReadTimeout")
    assert f"PIP_INDEX_URL={doctor.MIRROR}" in chinese.fix
    assert "中国大陆" in chinese.fix and "镜像" in chinese.fix


def test_an_index_on_a_closed_port_gets_the_mirror_advice() -> None:
    url = f"http://{LOOPBACK}:{free_port()}/simple/"  # nothing listens there
    finding = doctor.check_index(url, timeout=5)
    gives_the_mirror_advice(finding)
    assert "ConnectError" in finding.detail


def test_a_slow_index_gets_the_mirror_advice_and_a_quick_one_does_not() -> None:
    with local_index(delay=0.6) as slow:
        finding = doctor.check_index(url_of(slow), slow=0.3)
    gives_the_mirror_advice(finding)
    assert finding.detail.endswith(" s: slow")
    assert slow.asked == ["/simple/pip/"]  # a project's page, as pip asks for one
    with local_index() as quick:
        finding = doctor.check_index(url_of(quick), slow=60)  # a hang guard, not a speed goal
    assert finding.status == doctor.OK and finding.fix == ""
    assert finding.detail.startswith(f"{url_of(quick)} answered in ")


class NotFound(Answer):
    def do_GET(self) -> None:
        self.send_error(404)


def test_a_page_that_is_no_index_is_named() -> None:
    with local_index(handler=NotFound) as index:
        finding = doctor.check_index(url_of(index), slow=60)
    gives_the_mirror_advice(finding)
    assert finding.detail.endswith("answered HTTP 404: is it a package index?")


def test_the_index_is_the_one_pip_uses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    assert doctor.package_index() == "https://mirror.example/simple"
    monkeypatch.delenv("PIP_INDEX_URL")
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nindex-url = https://global.example/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    assert doctor.package_index() == "https://global.example/simple"
    config.write_text(config.read_text() + "[install]\nindex-url = https://install.example/s\n")
    assert doctor.package_index() == "https://install.example/s"
    assert doctor.check_index("file:///opt/wheels").status == doctor.OK  # nothing to wait for


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_command_line_doctor_prints_the_mirror_advice(language: str) -> None:
    """``python -m ws_lessons doctor`` where the index cannot be reached."""
    environ = {
        **os.environ,
        "PIP_INDEX_URL": f"http://{LOOPBACK}:{free_port()}/simple/",
        "WS_LESSONS_LANG": language,
    }
    run = subprocess.run(
        [sys.executable, "-m", "ws_lessons", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
    )
    assert run.returncode == 0, run.stdout + run.stderr  # optional: the course still runs
    text = " ".join(run.stdout.split())  # the table wraps long cells
    assert f"PIP_INDEX_URL={doctor.MIRROR}" in text.replace(" ", "")
    assert ("unreachable" if language == "en" else "无法连接") in text


def test_autobahn_without_docker_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The Docker image is on Docker Hub; the pip install, or a registry mirror, works without."""
    monkeypatch.setenv("WS_LESSONS_AUTOBAHN", str(tmp_path))  # not installed there
    finding = doctor.check_autobahn()
    assert finding.status == doctor.OPTIONAL
    for words in ("autobahn install", "PIP_INDEX_URL", "mainland China", "registry-mirrors"):
        assert words in finding.fix
    i18n.set_language("zh")
    chinese = doctor.check_autobahn()
    assert "中国大陆" in chinese.fix and "registry-mirrors" in chinese.fix
    assert "Autobahn" in chinese.detail and "未安装" in chinese.detail
    assert f"{autobahn.HOW_TO_GET_IT}" == str(autobahn.HOW_TO_GET_IT) == chinese.fix
    assert autobahn.HOW_TO_GET_IT.startswith("install it with")  # compares as its English
