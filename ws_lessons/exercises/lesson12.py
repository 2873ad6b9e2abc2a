"""Exercises of lesson 12: tests that catch bugs, in the learner's own project."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from ws_lessons.exercises.core import Hint, chosen_letters, exercise, judge_letters
from ws_lessons.i18n import N_, _, messages
from ws_lessons.project import PACKAGE, layers, workspace

__all__ = [
    "BUGS_12_2",
    "ONLY_REAL_12_2",
    "PLANTED_BUG",
    "SUPPORT",
    "check_12_1",
    "check_12_2",
    "solution_12_1",
    "solution_12_2",
]

PLANTED_BUG = """

# The bug that check 12.1 plants in a copy of your project: one seq is skipped.
_say_without_the_bug = Hub.say


async def _say_with_a_gap(self, room, user, text):
    if await self.broker.last_seq(room) == 2:
        await self.broker.publish(room, user, text)  # the third seq: nobody receives it
    return await _say_without_the_bug(self, room, user, text)


Hub.say = _say_with_a_gap
"""
"""Appended to ``mychat/hub.py`` of the copy: the third message of a room gets seq 4."""

SUPPORT = ("tests/conftest.py", "pytest.ini")
"""The project files a test file needs besides the chat: its fixtures and pytest's options."""


def _test_file(answer: Any) -> tuple[str, str]:
    """The learner's test file: (its name, its text), from its path in the project or its text."""
    if not isinstance(answer, str):
        raise Hint(
            _('pass the path of your test file in your project, such as "tests/test_seq.py"')
        )
    if "\n" not in answer and answer.endswith(".py"):
        path = workspace().joinpath(*PurePosixPath(answer).parts)
        if not path.is_file():
            raise Hint(
                _("{path} is not in your project yet: run its %%project cell first").format(
                    path=answer
                )
            )
        return PurePosixPath(answer).name, path.read_text(encoding="utf-8")
    if not re.search(r"^(async )?def test_", answer, re.MULTILINE):
        raise Hint(_("no test in it: pytest runs the functions whose names start with test_"))
    return "test_exercise_12_1.py", answer


def _copy_project(target: Path, name: str, text: str) -> None:
    """Your chat and its test support (else the course's answers), and the test file to try."""
    files: dict[str, str] = {}
    for lesson, written in layers().items():
        if lesson <= "12":
            files.update({path: body for path, body in written.items() if path.endswith(SUPPORT)})
            files.update({p: body for p, body in written.items() if p.startswith(PACKAGE + "/")})
    root = workspace()
    if (root / PACKAGE).is_dir():  # your chat, not the course's
        files = {path: body for path, body in files.items() if not path.startswith(PACKAGE + "/")}
        for module in sorted((root / PACKAGE).rglob("*.py")):
            files[module.relative_to(root).as_posix()] = module.read_text(encoding="utf-8")
    for support in SUPPORT:
        if (root / support).is_file():
            files[support] = (root / support).read_text(encoding="utf-8")
    files[f"tests/{name}"] = text
    for path, body in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(body, encoding="utf-8")


def _pytest(project: Path, name: str) -> tuple[int, str]:
    """Run pytest on one test file of ``project``: its exit code and its summary line."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--color=no",
            "-p",
            "no:cacheprovider",
            f"tests/{name}",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = result.stdout.strip().splitlines() or [result.stderr.strip() or "?"]
    failures = [line for line in lines if line.startswith("E ")][:1]
    summary = re.sub(r" in [0-9.]+s.*", "", lines[-1].strip("= "))
    return result.returncode, "; ".join([summary, *[line[1:].strip() for line in failures]])


@exercise(
    "12.1",
    nudge="The bug is in how messages are numbered, and the starter test sends only two. "
    "How many messages would a client need to see to notice a gap?",
    hint="Send a handful of messages from one client and collect the seq of each reply. "
    "Do not assert where the numbering starts (the welcome says so); assert that each "
    "seq is exactly one more than the one before.",
)
def check_12_1(test: Any) -> str:
    """A test file that passes on your project and fails on a copy with a planted bug."""
    name, text = _test_file(test)
    with tempfile.TemporaryDirectory(prefix="check-12-1-") as folder:
        good, buggy = Path(folder, "project"), Path(folder, "planted")
        for copy in (good, buggy):
            _copy_project(copy, name, text)
        with (buggy / PACKAGE / "hub.py").open("a", encoding="utf-8") as hub:
            hub.write(PLANTED_BUG)
        code, summary = _pytest(good, name)
        if code != 0:
            raise Hint(
                _("your test fails on your own chat ({summary}): fix the test first").format(
                    summary=summary
                )
            )
        code, summary = _pytest(buggy, name)
    if code == 0:
        raise Hint(_("your test passes on the copy with the bug too, so it does not catch it"))
    if code != 1:
        raise Hint(
            _("pytest could not run your test on the copy with the bug: {summary}").format(
                summary=summary
            )
        )
    return _(
        "your test passes on your chat and catches the bug planted in a copy ({summary})"
    ).format(summary=summary)


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


def solution_12_1() -> str:
    return """
def test_seq_goes_up_by_one(client):
    with client.websocket_connect("/ws/lobby?user=ada") as ws:
        first = ws.receive_json()["seq"] + 1  # the welcome says where the room is
        seqs = []
        for text in ["one", "two", "three", "four", "five"]:
            ws.send_json({"type": "say", "text": text})
            seqs.append(ws.receive_json()["seq"])
    assert seqs == list(range(first, first + 5)), seqs
"""


def solution_12_2() -> set[str]:
    # A, C and E are the app's code; B, D and F are uvicorn's, on the wire.
    return {"B", "D", "F"}
