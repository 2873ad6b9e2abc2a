"""Lesson 13's checks: the learner's directives run in a real nginx; without nginx the
check is skipped, not failed."""

from __future__ import annotations

import shutil

import pytest
from exercisekit import rejected
from test_scaling import need

from ws_lessons import checks
from ws_lessons.solutions import SOLUTIONS

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("directives", "hint"),
    [
        ("proxy_http_version 1.1;", "the client's Upgrade header is hop-by-hop"),
        (
            "proxy_http_version 1.1;\nproxy_set_header Upgrade $http_upgrade;",
            "the Connection header is hop-by-hop too",
        ),
    ],
    ids=["no-headers", "no-connection-header"],
)
def test_13_1_hints(directives: str, hint: str) -> None:
    need("nginx")
    message = rejected(checks.check_13_1, directives)
    assert "got HTTP 404, not 101" in message
    assert hint in message


def test_13_1_hints_a_missing_semicolon_without_running_nginx() -> None:
    no_semicolon = "proxy_http_version 1.1\nproxy_set_header Upgrade $http_upgrade;"
    assert "every nginx directive ends with ';'" in rejected(checks.check_13_1, no_semicolon)


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
