"""Lesson 15's checks: each typical mistake gets its own hint, from a real Hypercorn."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from exercisekit import rejected

from ws_lessons import checks
from ws_lessons.exercises.lesson15 import connect_headers_15_2, solution_15_2, solution_15_4


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ({"A", "B", "D"}, "think again about A"),
        ({"B"}, "think again about D"),
        ({"B", "D", "F"}, "think again about F"),
        ({"B", "G"}, "there is no claim G"),
    ],
    ids=["101", "streams left out", "the client's setting", "unknown letter"],
)
def test_15_1_names_the_mistake(answer: Any, hint: str) -> None:
    assert hint in rejected(checks.check_15_1, answer)


def without(name: str) -> Any:
    """The reference headers with one of them left out."""

    def headers(authority: str, path: str) -> list[tuple[str, str]]:
        return [pair for pair in solution_15_2()(authority, path) if pair[0] != name]

    return headers


def pseudo_last(authority: str, path: str) -> list[tuple[str, str]]:
    pairs = solution_15_2()(authority, path)
    return [pairs[-1], *pairs[:-1]]


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (connect_headers_15_2, "forbids headers about the connection"),
        (without(":protocol"), "in :protocol"),
        (without(":path"), ":path missing"),
        (without("sec-websocket-version"), ":status 400"),
        (pseudo_last, "pseudo-headers come before"),
    ],
    ids=["HTTP/1.1 habits", "no :protocol", "no :path", "no version", "pseudo-headers last"],
)
def test_15_2_names_the_mistake(answer: Any, hint: str) -> None:
    assert hint in rejected(checks.check_15_2, answer)


def two_connections(host: str, port: int) -> list[str]:
    """Two sockets, but each on a connection of its own (the lesson's code, twice)."""
    from ws_lessons.exercises.lesson15 import h2_websocket_echo

    echoes = [h2_websocket_echo(host, port, solution_15_2(), text) for text in ("one", "two")]
    return [reply or "" for _status, reply in echoes]


def test_15_3_counts_the_connections() -> None:
    assert "2 TCP connections" in rejected(checks.check_15_3, two_connections)


def test_15_3_wants_two_echoes() -> None:
    def nothing(host: str, port: int) -> list[str]:
        socket.create_connection((host, port)).close()
        return []

    assert "two echoes" in rejected(checks.check_15_3, nothing)


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"A": "sse"}, "think again about case A"),
        ({"C": "ws-h2"}, "think again about case C"),
        ({"E": "ws"}, "think again about case E"),
        ({"B": "mqtt"}, "choose one of"),
    ],
    ids=["stream through a buffering proxy", "h2 end to end", "a game on TCP", "unknown"],
)
def test_15_4_names_the_mistake(change: dict[str, str], hint: str) -> None:
    assert hint in rejected(checks.check_15_4, {**solution_15_4(), **change})
