"""Every check accepts its reference answer; checks print their verdict and never raise."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from ws_lessons import checks, solutions, stop_all

pytestmark = pytest.mark.timeout(60)
EXERCISES = [name.removeprefix("check_").replace("_", ".") for name in checks.__all__]


def test_every_check_has_a_reference_answer() -> None:
    assert set(EXERCISES) == set(solutions.SOLUTIONS)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_reference_answer_passes(exercise: str) -> None:
    check = getattr(checks, f"check_{exercise.replace('.', '_')}")
    try:
        assert check(solutions.SOLUTIONS[exercise]())
    finally:
        stop_all()


@pytest.mark.parametrize("exercise", EXERCISES)
def test_a_check_never_raises(exercise: str, capsys: pytest.CaptureFixture[str]) -> None:
    check = getattr(checks, f"check_{exercise.replace('.', '_')}")
    for nonsense in (None, 42, "an app", FastAPI()):
        verdict = check(nonsense)
        assert not verdict
        assert f"Exercise {exercise} ❌ not yet" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", EXERCISES)
def test_reveal_gives_help_then_the_answer(exercise: str) -> None:
    revealed = solutions.reveal(exercise)
    assert revealed.hints, f"give @exercise({exercise!r}, nudge=..., hint=...) its help"
    page = revealed._repr_html_()
    assert page.index("nudge") < page.index("The answer")
    assert page.count("<details>") == len(revealed.hints) + 1
    assert "def solution_" in page


def test_show_prints_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    solutions.show("06.1")
    assert "text.upper()" in capsys.readouterr().out
    solutions.show("99.9")
    assert "No exercise" in capsys.readouterr().out
