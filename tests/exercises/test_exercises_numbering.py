"""Exercise numbers that hold together: every check a notebook calls exists, every exercise
has a check and an answer, and no comment or text in a lesson's exercises names another
lesson's number (what a renumbering of the lessons leaves behind)."""

from __future__ import annotations

import json
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

from ws_lessons import checks, solutions
from ws_lessons.exercises.core import HELP

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "notebooks" / "zh").glob("*.ipynb")
)
MODULES = sorted((ROOT / "ws_lessons" / "exercises").glob("lesson[0-9][0-9].py"))
CALL = re.compile(r"\b(check_\w+)\(")
HELP_CALL = re.compile(r"\b(?:reveal|show)\(\s*[\"']([^\"']+)[\"']")
EXERCISE_NUMBER = re.compile(r"(?<![\d.])(\d\d)\.(\d+)(?![\d.])")
LESSON = re.compile(r"\blesson (\d\d)\b", re.IGNORECASE)
LESSONS_THING = re.compile(r"\blesson (\d\d)'s (`[^`]+`|/\S+)", re.IGNORECASE)


def _code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


def _text(lesson: str) -> str:
    """Every cell of lesson ``lesson``'s English notebook."""
    (path,) = (ROOT / "notebooks").glob(f"{lesson}_*.ipynb")
    return "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_check_a_notebook_calls_exists(notebook: Path) -> None:
    code = _code(notebook)
    called = {name for name in CALL.findall(code) if re.fullmatch(r"check_\d\d_\d+", name)}
    missing = sorted(name for name in called if not hasattr(checks, name))
    assert not missing, f"{notebook.name} calls checks that do not exist: {missing}"
    unknown = sorted(set(HELP_CALL.findall(code)) - set(solutions.SOLUTIONS))
    assert not unknown, f"{notebook.name} asks for help with exercises that do not exist: {unknown}"


def test_every_exercise_has_a_check_and_an_answer() -> None:
    numbers = {name.removeprefix("check_").replace("_", ".") for name in checks.__all__}
    assert numbers == set(solutions.SOLUTIONS) == set(HELP)


def test_every_check_is_called_by_a_notebook() -> None:
    code = "\n".join(_code(path) for path in NOTEBOOKS)
    uncalled = [name for name in checks.__all__ if not re.search(rf"\b{name}\(", code)]
    assert not uncalled, f"no notebook calls {uncalled}"


def _prose(path: Path) -> Iterator[tuple[int, str]]:
    """The comments and string literals (docstrings, hints) of a module, with their lines."""
    with path.open() as source:
        for token in tokenize.generate_tokens(source.readline):
            if token.type in (tokenize.COMMENT, tokenize.STRING):
                yield token.start[0], token.string


def stale_numbers(path: Path) -> list[str]:
    """Where ``path`` (``lessonNN.py``) names an exercise of another lesson, a lesson still to
    come, or a thing of another lesson that lesson does not show."""
    own = path.stem.removeprefix("lesson")
    found = []
    for line, text in _prose(path):
        found += [
            f"{path.name}:{line}: exercise {number.group(0)}"
            for number in EXERCISE_NUMBER.finditer(text)
            if number.group(1) != own
        ]
        found += [
            f"{path.name}:{line}: {lesson.group(0)!r}, a lesson still to come"
            for lesson in LESSON.finditer(text)
            if lesson.group(1) > own
        ]
        found += [
            f"{path.name}:{line}: {thing.group(0)!r}, which lesson {thing.group(1)} does not show"
            for thing in LESSONS_THING.finditer(text)
            if thing.group(2).strip("`").rstrip(".,;:)") not in _text(thing.group(1))
        ]
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_a_lessons_exercises_name_their_own_numbers(module: Path) -> None:
    assert not stale_numbers(module)


def test_a_number_left_by_a_renumbering_is_found(tmp_path: Path) -> None:
    module = tmp_path / "lesson07.py"
    module.write_text(
        '"""Exercises of lesson 07, as lesson 08 extends them."""\n'
        "# 06.1 ----\n"
        "NUDGE = \"Lesson 03's `no_such_thing` and lesson 03's `current_user`; 07.2 is ours\"\n"
    )
    assert stale_numbers(module) == [
        "lesson07.py:1: 'lesson 08', a lesson still to come",
        "lesson07.py:2: exercise 06.1",
        'lesson07.py:3: "Lesson 03\'s `no_such_thing`", which lesson 03 does not show',
    ]
