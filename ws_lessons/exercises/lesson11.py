"""Exercises of lesson 11: tests that catch bugs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from websockets.sync.client import connect

from ws_lessons.chat import create_app
from ws_lessons.chat.broker import MemoryBroker
from ws_lessons.chat.models import Said
from ws_lessons.exercises.core import Hint, exercise, require_function
from ws_lessons.server import RunningServer, serve


class SkippingBroker(MemoryBroker):
    """The planted bug: after the third message of a room, one ``seq`` is skipped."""

    async def publish(self, room: str, user: str, text: str) -> Said:
        if self._seqs[room] == 3:
            self._seqs[room] += 1
        return await super().publish(room, user, text)


def planted_bug_app() -> FastAPI:
    """The chat with the planted bug (lesson 11 tries its tests against it)."""
    return create_app(secret="lesson 11", broker=SkippingBroker())


def _outcome(test: Callable[[RunningServer], Any], app: FastAPI, label: str) -> str | None:
    """Run ``test`` against ``app``; None if it passed, else what failed."""
    with serve(app, name=f"check 11.1 {label}") as server:
        try:
            test(server)
        except AssertionError as failure:
            return f"AssertionError: {failure}" if str(failure) else "AssertionError"
        except Exception as error:
            raise Hint(
                f"against the {label} chat your test raised {type(error).__name__}: {error}. "
                "A test should fail only through an assert."
            ) from None
    return None


@exercise(
    "11.1",
    hint="Send several messages from one client and assert that the seq values you get back "
    "go up by exactly one each time.",
)
def check_11_1(test: Any) -> str:
    """A test function ``test(server)`` that passes on the real chat and fails on the buggy one."""
    require_function(test)
    failure = _outcome(test, create_app(secret="lesson 11"), "correct")
    if failure:
        raise Hint(f"your test fails against the correct chat ({failure}): fix the test first")
    if _outcome(test, planted_bug_app(), "buggy") is None:
        raise Hint("your test passes against the buggy chat too, so it does not catch the bug")
    return "your test passes on the correct chat and catches the planted bug"


# Reference answers


def solution_11_1() -> Callable[[RunningServer], None]:
    def test_seq_goes_up_by_one(server: RunningServer) -> None:
        token = httpx.post(f"{server.url}/token", json={"user": "ada"}).json()["token"]
        with connect(server.ws_url(f"/ws/lobby?token={token}")) as ws:
            welcome = json.loads(ws.recv(timeout=5))
            seqs = []
            for text in ["one", "two", "three", "four", "five"]:
                ws.send(json.dumps({"type": "say", "text": text}))
                seqs.append(json.loads(ws.recv(timeout=5))["seq"])
        first = welcome["seq"] + 1
        assert seqs == list(range(first, first + 5)), seqs

    return test_seq_goes_up_by_one
