"""Lesson 14's checks: the reference answers pass, and each typical mistake gets its own hint."""

from __future__ import annotations

from typing import Any

import pytest

from ws_lessons import checks
from ws_lessons.exercises.lesson14 import socket_url_13_2


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ({"A", "B", "C", "D", "E", "F"}, "think again about B"),
        ({"A", "D", "E", "F"}, "think again about C"),
        ({"A", "C", "D", "E"}, "think again about F"),
        ({"A", "C", "D", "E", "F", "G"}, "there is no line G"),
        ("ACDEF", "a set of letters"),
    ],
    ids=["all of them", "Linus left out", "reconnect left out", "unknown letter", "a string"],
)
def test_14_1_names_the_mistake(answer: Any, hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not checks.check_14_1(answer)
    assert hint in capsys.readouterr().out


def scheme_only(page: str, path: str) -> str:
    """Right scheme, but from the host's root."""
    scheme = "wss" if page.startswith("https:") else "ws"
    return f"{scheme}://{page.split('://', 1)[1].split('/', 1)[0]}/{path}"


def appended(page: str, path: str) -> str:
    """Right scheme, but the page's file name and query kept."""
    return "ws" + page.removeprefix("http") + path


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (socket_url_13_2, "mixed"),
        (scheme_only, "lost the page's path prefix"),
        (appended, "keeps the page's file name or query"),
        (lambda page, path: page + path, "is an HTTP address"),
        (lambda page: page, "takes two arguments"),
        ("ws://x/ws/lobby", "pass your function itself"),
    ],
    ids=["the lesson's version", "host root", "appended", "http", "one argument", "a value"],
)
def test_14_2_names_the_mistake(answer: Any, hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not checks.check_14_2(answer)
    assert hint in capsys.readouterr().out
