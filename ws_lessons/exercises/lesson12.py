"""Exercises of lesson 12: tests that catch bugs."""

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
from ws_lessons.exercises.core import (
    Hint,
    chosen_letters,
    exercise,
    judge_letters,
    require_function,
)
from ws_lessons.i18n import N_, _, messages
from ws_lessons.server import RunningServer, serve


class SkippingBroker(MemoryBroker):
    """The planted bug: after the third message of a room, one ``seq`` is skipped."""

    async def publish(self, room: str, user: str, text: str) -> Said:
        if self._seqs[room] == 3:
            self._seqs[room] += 1
        return await super().publish(room, user, text)


def planted_bug_app() -> FastAPI:
    """The chat with the planted bug (lesson 12 tries its tests against it)."""
    return create_app(secret="lesson 12", broker=SkippingBroker())


def _outcome(test: Callable[[RunningServer], Any], app: FastAPI, label: str) -> str | None:
    """Run ``test`` against ``app``; None if it passed, else what failed."""
    with serve(app, name=f"check 12.1 {label}") as server:
        try:
            test(server)
        except AssertionError as failure:
            return f"AssertionError: {failure}" if str(failure) else "AssertionError"
        except Exception as error:
            if label == "correct":
                message = _(
                    "against the correct chat your test raised {error_type}: {error}. "
                    "A test should fail only through an assert."
                )
            else:
                message = _(
                    "against the buggy chat your test raised {error_type}: {error}. "
                    "A test should fail only through an assert."
                )
            raise Hint(message.format(error_type=type(error).__name__, error=error)) from None
    return None


@exercise(
    "12.1",
    nudge="The bug is in how messages are numbered, and the starter test sends only two. "
    "How many messages would a client need to see to notice a gap?",
    hint="Send a handful of messages from one client and collect the seq of each reply. "
    "Do not assert where the numbering starts (the welcome says so); assert that each "
    "seq is exactly one more than the one before.",
)
def check_12_1(test: Any) -> str:
    """A test function ``test(server)`` that passes on the real chat and fails on the buggy one."""
    require_function(test)
    failure = _outcome(test, create_app(secret="lesson 12"), "correct")
    if failure:
        raise Hint(
            _("your test fails against the correct chat ({failure}): fix the test first").format(
                failure=failure
            )
        )
    if _outcome(test, planted_bug_app(), "buggy") is None:
        raise Hint(_("your test passes against the buggy chat too, so it does not catch the bug"))
    return _("your test passes on the correct chat and catches the planted bug")


# 12.2 -------------------------------------------------------------------------------------------

BUGS_12_2 = messages(
    {
        "A": N_("the endpoint sends 'said' to everyone but the sender"),
        "B": N_("uvicorn's ws_max_size is set too high, so a 50 MB message is accepted"),
        "C": N_("a message with an empty text is accepted, although the model forbids it"),
        "D": N_("the server's pings are switched off, so a dead client is never dropped"),
        "E": N_("the Origin guard lets in a handshake from http://evil.example"),
        "F": N_("the server does not negotiate permessage-deflate, so nothing is compressed"),
    }
)
"""Six bugs. Which of them can only a test against a real server catch?"""

ONLY_REAL_12_2 = frozenset({"B", "D", "F"})
_WHY_12_2 = messages(
    {
        "A": N_(
            "who receives a message is the app's own logic: TestClient runs it, with as many "
            "clients as you open"
        ),
        "B": N_(
            "ws_max_size is an option of uvicorn, and TestClient calls the app without uvicorn"
        ),
        "C": N_("validation is done by the app's model, which TestClient runs like any code"),
        "D": N_("pings are sent by uvicorn's protocol code, not by the app"),
        "E": N_(
            "the Origin guard is part of the app, and TestClient can send any header you give it"
        ),
        "F": N_("compression is negotiated and applied by uvicorn, on the bytes of the frames"),
    }
)


@exercise(
    "12.2",
    nudge="Look at lesson 12's first drawing: which boxes does TestClient skip?",
    hint="TestClient calls the FastAPI app directly. Whatever the app's own code does, it "
    "can test; whatever happens in uvicorn, on the socket and in the frames (limits, "
    "pings, compression), it never sees.",
)
def check_12_2(letters: Any) -> str:
    """The set of letters of BUGS_12_2 that only a real-server test can catch."""
    chosen = chosen_letters(letters, BUGS_12_2, _("bug"))
    judge_letters(
        chosen,
        ONLY_REAL_12_2,
        _WHY_12_2,
        yes=_("TestClient cannot see it"),
        no=_("a TestClient test can catch it"),
    )
    return _("the app's logic in-process, and uvicorn's work on the wire only with a real server")


# Reference answers


def solution_12_1() -> Callable[[RunningServer], None]:
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


def solution_12_2() -> set[str]:
    # A, C and E are the app's code; B, D and F are uvicorn's, on the wire.
    return {"B", "D", "F"}
