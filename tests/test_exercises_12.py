"""Lesson 12's check rejects tests that do not catch the planted bug, or fail on good code."""

from __future__ import annotations

import json

import httpx
import pytest
from exercisekit import rejected
from websockets.sync.client import connect

from ws_lessons import RunningServer, checks

pytestmark = pytest.mark.timeout(60)


def say(server: RunningServer, texts: list[str]) -> list[dict]:
    token = httpx.post(f"{server.url}/token", json={"user": "ada"}).json()["token"]
    with connect(server.ws_url(f"/ws/lobby?token={token}")) as ws:
        ws.recv(timeout=5)
        replies = []
        for text in texts:
            ws.send(json.dumps({"type": "say", "text": text}))
            replies.append(json.loads(ws.recv(timeout=5)))
    return replies


def test_a_test_that_asserts_too_little_is_rejected() -> None:
    def only_two_messages(server: RunningServer) -> None:
        seqs = [reply["seq"] for reply in say(server, ["one", "two"])]
        assert seqs == [1, 2]

    message = rejected(checks.check_12_1, only_two_messages)
    assert "your test passes against the buggy chat too" in message


def test_a_test_that_fails_on_the_correct_chat_is_rejected() -> None:
    def expects_seq_from_zero(server: RunningServer) -> None:
        assert [reply["seq"] for reply in say(server, ["a", "b", "c", "d"])] == [0, 1, 2, 3]

    message = rejected(checks.check_12_1, expects_seq_from_zero)
    assert "your test fails against the correct chat" in message


def test_a_test_that_crashes_is_rejected() -> None:
    def crashes(server: RunningServer) -> None:
        raise KeyError("seq")

    assert "A test should fail only through an assert" in rejected(checks.check_12_1, crashes)


@pytest.mark.parametrize(
    ("letters", "hint"),
    [
        ({"A", "B", "D", "F"}, "about A: a TestClient test can catch it; who receives"),
        ({"B", "D", "E", "F"}, "about E: a TestClient test can catch it; the Origin guard"),
        ({"B", "D"}, "about F: TestClient cannot see it; compression is negotiated"),
        ({"D", "F"}, "about B: TestClient cannot see it; ws_max_size is an option"),
        ("BDF", "answer with a set of letters"),
    ],
    ids=["who-receives", "origin", "compression", "size-limit", "str"],
)
def test_12_2_hints(letters: object, hint: str) -> None:
    assert hint in rejected(checks.check_12_2, letters)
