"""Lesson 13's checks: the learner's fixed directives run in a real nginx in front of a real
chat; without nginx the check is skipped, not failed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from exercisekit import rejected

from ws_lessons import checks
from ws_lessons.exercises import lesson13
from ws_lessons.exercises.lesson13 import STARTER_13_1
from ws_lessons.solutions import SOLUTIONS

LESSON = "13_scaling_deployment.ipynb"
NOTEBOOKS = [Path(__file__).parents[2] / "notebooks" / edition / LESSON for edition in ("", "zh")]

pytestmark = pytest.mark.timeout(60)


FIXED = "$connection_upgrade"


@pytest.mark.needs("nginx")
def test_13_1_the_starter_fails_on_its_empty_connection_header() -> None:
    message = rejected(checks.check_13_1, STARTER_13_1)
    assert "the handshake got HTTP 404, not 101" in message
    assert "an empty Connection value tells nginx to send no Connection header" in message


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.parent.name)
def test_13_1_the_notebook_gives_the_starter(path: Path) -> None:
    cell = next(
        "".join(cell["source"])
        for cell in json.loads(path.read_text())["cells"]
        if "check_13_1(" in "".join(cell["source"]) and cell["cell_type"] == "code"
    )
    given = cell.split('"""')[1]
    assert given.split() == STARTER_13_1.split()


@pytest.mark.parametrize(
    ("directives", "hint"),
    [
        (
            STARTER_13_1.replace('""', FIXED),
            "the handshake passes now, but nginx closed the connection after",
        ),
        (
            STARTER_13_1.replace('""', FIXED).replace("2s", "10s"),
            "with proxy_read_timeout 10s, nginx still cuts a quiet client",
        ),
        (STARTER_13_1.replace('""', "close"), "your proxy sends 'Connection: close'"),
        (
            "proxy_http_version 1.1;\nproxy_set_header Upgrade $http_upgrade;",
            "the Connection header is hop-by-hop too",
        ),
        (
            f"proxy_http_version 1.1;\nproxy_set_header Connection {FIXED};",
            "the client's Upgrade header is hop-by-hop",
        ),
        (
            SOLUTIONS["13.1"]().replace("1.1", "1.0"),
            "the handshake's HTTP version MUST be at least 1.1",
        ),
    ],
    ids=[
        "short-timeout",
        "timeout-under-ping",
        "connection-close",
        "no-connection",
        "no-upgrade",
        "http-1.0",
    ],
)
@pytest.mark.needs("nginx")
def test_13_1_hints(directives: str, hint: str) -> None:
    assert hint in rejected(checks.check_13_1, directives)


@pytest.mark.needs("nginx")
def test_13_1_hints_nginx_refusing_the_configuration() -> None:
    message = rejected(checks.check_13_1, "proxy_read_timeout forever;")
    assert "nginx refused the configuration" in message
    assert "proxy_read_timeout" in message


def test_13_1_hints_a_missing_semicolon_without_running_nginx() -> None:
    no_semicolon = "proxy_http_version 1.1\nproxy_set_header Upgrade $http_upgrade;"
    assert "every nginx directive ends with ';'" in rejected(checks.check_13_1, no_semicolon)


@pytest.mark.needs("nginx")
def test_13_1_reads_a_directive_followed_by_a_comment() -> None:
    commented = SOLUTIONS["13.1"]().replace("60s;", "60s;  # longer than a ping")
    assert checks.check_13_1(commented)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("60s", 60), ("60", 60), ("1h30m", 5400), ("500ms", 0.5), ("forever", None), ("1x", None)],
)
def test_13_1_reads_nginx_times(value: str, seconds: float | None) -> None:
    assert lesson13._seconds(value) == seconds


def test_13_1_is_skipped_with_instructions_on_a_machine_without_nginx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    verdict = checks.check_13_1(SOLUTIONS["13.1"]())
    assert verdict and verdict.skipped
    assert "nginx is not installed. Install it with:" in verdict.message


@pytest.mark.parametrize(
    ("letters", "hint"),
    [
        ({"A", "B", "D"}, "think again about B: it is cut"),
        ({"A", "C", "D"}, "think again about C: it is cut; a ping every 20 s comes too late"),
        ({"A"}, "think again about D: it stays connected"),
        ({"D"}, "think again about A: it stays connected; the server pings every 20 s"),
        ({"E"}, "there is no setup E"),
    ],
    ids=["no-pings", "pings-too-rare", "long-timeout", "pings-enough", "unknown"],
)
def test_13_2_hints(letters: object, hint: str) -> None:
    assert hint in rejected(checks.check_13_2, letters)
