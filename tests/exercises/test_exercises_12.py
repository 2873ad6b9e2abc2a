"""Lesson 12's checks: 12.1 runs the learner's test file with pytest on a copy of the
project and on a copy with a planted bug; 12.2 says which bugs need a real server."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from exercisekit import rejected

from ws_lessons import checks
from ws_lessons.exercises.lesson12 import solution_12_1
from ws_lessons.project import layers

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace: the check takes the course's answers for the project."""
    monkeypatch.setenv("WS_LESSONS_WORKSPACE", str(tmp_path))
    return tmp_path


def seqs_test(body: str) -> str:
    """A test file whose test sends five messages and asserts ``body`` about their seqs."""
    return textwrap.dedent(
        """
        def test_seqs(client):
            with client.websocket_connect("/ws/lobby?user=ada") as ws:
                welcome = ws.receive_json()
                seqs = []
                for text in ["a", "b", "c", "d", "e"]:
                    ws.send_json({"type": "say", "text": text})
                    seqs.append(ws.receive_json()["seq"])
        """
    ) + textwrap.indent(body, "    ")


@pytest.mark.slow
def test_the_reference_answer_passes_and_names_the_failure_it_caught() -> None:
    verdict = checks.check_12_1(solution_12_1())
    assert verdict, verdict.message
    assert "1 failed" in verdict.message


@pytest.mark.slow
def test_a_test_that_asserts_too_little_is_rejected() -> None:
    message = rejected(checks.check_12_1, seqs_test("assert seqs[:2] == [1, 2]"))
    assert "passes on the copy with the bug too" in message


def test_a_test_that_fails_on_the_correct_chat_is_rejected() -> None:
    message = rejected(checks.check_12_1, seqs_test("assert seqs == [0, 1, 2, 3, 4]"))
    assert "your test fails on your own chat (1 failed" in message


def test_a_test_that_cannot_import_is_reported_with_pytests_line() -> None:
    message = rejected(checks.check_12_1, "import nothing_here\n\n\ndef test_x():\n    pass\n")
    assert "your test fails on your own chat" in message
    assert "error" in message


@pytest.mark.slow
def test_the_learners_file_and_project_are_used(project: Path) -> None:
    for lesson, files in layers().items():
        for path, text in files.items():
            if lesson <= "12":
                (project / path).parent.mkdir(parents=True, exist_ok=True)
                (project / path).write_text(text)
    (project / "tests" / "test_seq.py").write_text(solution_12_1())
    assert checks.check_12_1("tests/test_seq.py")
    # a learner's chat that numbers from 100 breaks the test written for seq 1
    broker = project / "mychat" / "broker.py"
    broker.write_text(broker.read_text().replace("self.seqs.get(room, 0) + 1", "100"))
    assert "your test fails on your own chat" in rejected(checks.check_12_1, "tests/test_seq.py")


def test_a_missing_file_is_named() -> None:
    message = rejected(checks.check_12_1, "tests/test_seq.py")
    assert "tests/test_seq.py is not in your project yet" in message


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
