"""Every check accepts its reference answer and never raises; its help teaches, step by step,
without giving away a line of the answer."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from ws_lessons import checks, solutions, stop_all
from ws_lessons.exercises import core
from ws_lessons.exercises.core import HELP, Hint, Skip, exercise

pytestmark = pytest.mark.timeout(60)
EXERCISES = [name.removeprefix("check_").replace("_", ".") for name in checks.__all__]
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SHORTEST_LINE = 12
"""Answer lines shorter than this (``return app``, ``while True:``) give nothing away."""
MARKS = {"12.1": pytest.mark.slow, "13.1": pytest.mark.needs("nginx")}
"""The checks that take long (a pytest run of their own) or run a program."""


@pytest.mark.parametrize(
    "exercise", [pytest.param(e, marks=MARKS[e]) if e in MARKS else e for e in EXERCISES]
)
def test_the_reference_answer_passes(exercise: str) -> None:
    check = getattr(checks, f"check_{exercise.replace('.', '_')}")
    try:
        verdict = check(solutions.SOLUTIONS[exercise]())
    finally:
        stop_all()
    assert verdict
    if verdict.skipped:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install it: {verdict.message}")
        pytest.skip(verdict.message)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_a_check_never_raises(exercise: str, capsys: pytest.CaptureFixture[str]) -> None:
    check = getattr(checks, f"check_{exercise.replace('.', '_')}")
    for nonsense in (None, 42, "an app", FastAPI()):
        verdict = check(nonsense)
        assert not verdict
        assert f"Exercise {exercise} ❌ not yet" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_exercise_has_a_nudge_and_a_hint(exercise: str) -> None:
    assert len(HELP.get(exercise, ())) == 2, (
        f"give @exercise({exercise!r}, nudge=..., hint=...) both steps of help"
    )
    nudge, hint = HELP[exercise]
    assert nudge != hint


@pytest.mark.parametrize("exercise", EXERCISES)
def test_reveal_gives_help_then_the_answer(exercise: str) -> None:
    revealed = solutions.reveal(exercise)
    assert revealed.hints, f"give @exercise({exercise!r}, nudge=..., hint=...) its help"
    page = revealed._repr_html_()
    assert page.index("nudge") < page.index("The answer")
    assert page.count("<details>") == len(revealed.hints) + 1
    assert "def solution_" in page


def test_show_prints_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    solutions.show("07.2")
    assert "send_json" in capsys.readouterr().out
    solutions.show("99.9")
    assert "No exercise" in capsys.readouterr().out


def test_a_check_that_needs_a_missing_program_is_skipped_not_failed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @exercise("99.1", nudge="n", hint="h")
    def check(answer: object) -> str:
        if answer is None:
            raise Hint("no answer")
        raise Skip("this check runs a real thing. Install it with: apt install thing")

    try:
        verdict = check("an answer")
        assert verdict and verdict.skipped
        assert "Exercise 99.1 ⏭️ skipped: this check runs a real thing" in capsys.readouterr().out
        assert not check(None) and not check(None).skipped
    finally:
        del HELP["99.1"]


# No help gives the answer away ------------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.split())


def _given_lines(exercise: str) -> set[str]:
    """The lines of the notebook cell that calls the check: the learner has those already."""
    call = re.compile(rf"\bcheck_{exercise.replace('.', '_')}\(")
    lines: set[str] = set()
    for path in NOTEBOOKS.glob(f"{exercise[:2]}_*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and call.search(source):
                lines |= {_normal(line) for line in source.splitlines()}
    return lines


def answer_lines(exercise: str) -> Iterator[str]:
    """The lines of the reference answer that the learner has to find, as text."""
    source = textwrap.dedent(inspect.getsource(solutions.SOLUTIONS[exercise]))
    given = _given_lines(exercise)
    for line in source.splitlines()[1:]:  # not the `def solution_...` line
        full = _normal(line.split("  # ")[0])
        if full.startswith("#") or full in given:
            continue
        code = full.removeprefix("return ")
        try:
            value = ast.literal_eval(code)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, str):
            code = _normal(value)
        if len(code) >= SHORTEST_LINE:
            yield code


def _literal(node: ast.AST) -> str | None:
    """The text of a string literal, f-string (values as {}) or sum of them, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def help_texts(module_name: str) -> list[str]:
    """Every string a check of the module can show: its help and the specific hints its
    checks raise (the module's string literals, and core's), without the reference answers,
    docstrings and ``__all__``."""
    texts = []
    for name in (module_name, core.__name__):
        tree = ast.parse(inspect.getsource(sys.modules[name]))
        skipped: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("solution_"):
                skipped |= {id(inner) for inner in ast.walk(node)}
            exports = isinstance(node, ast.Assign) and "__all__" in {
                target.id for target in node.targets if isinstance(target, ast.Name)
            }
            if exports:  # names, not anything a learner is shown
                skipped |= {id(inner) for inner in ast.walk(node)}
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    skipped.add(id(first.value))
        texts += [
            _normal(text)
            for node in ast.walk(tree)
            if id(node) not in skipped and (text := _literal(node))
        ]
    return texts


@pytest.mark.parametrize("exercise", EXERCISES)
def test_no_help_contains_a_line_of_the_answer(exercise: str) -> None:
    check = getattr(checks, f"check_{exercise.replace('.', '_')}")
    texts = [_normal(step) for step in HELP[exercise]]
    texts += help_texts(check.__wrapped__.__module__)
    for line in answer_lines(exercise):
        leaks = [text for text in texts if line in text]
        assert not leaks, f"{exercise}: help gives away {line!r}: {leaks[0]!r}"


def test_answer_lines_are_what_the_learner_must_find() -> None:
    """The leak test above compares the right lines: code and text answers, not the starter's."""
    assert "Sec-WebSocket-Version: 13" in answer_lines("04.2")
    assert any("send_json" in line for line in answer_lines("07.2"))
    assert "await websocket.accept()" in _given_lines("02.2")
    assert "await websocket.accept()" not in answer_lines("02.2")
