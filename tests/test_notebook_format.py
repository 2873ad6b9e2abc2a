"""Committed lessons: no outputs, the fixed skeleton, and navigation that is up to date."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import navigation  # noqa: E402

WRITTEN = [lesson for lesson in navigation.LESSONS if lesson.exists]


def read(lesson: navigation.Lesson) -> nbformat.NotebookNode:
    return nbformat.read(lesson.path, as_version=4)


def test_every_notebook_is_in_the_catalog() -> None:
    known = {lesson.path for lesson in navigation.LESSONS}
    assert set((ROOT / "notebooks").glob("*.ipynb")) <= known


def test_navigation_is_generated_and_current() -> None:
    assert navigation.main(["--check"]) == 0


@pytest.mark.parametrize("lesson", WRITTEN, ids=[lesson.stem for lesson in WRITTEN])
def test_no_outputs_committed(lesson: navigation.Lesson) -> None:
    for index, cell in enumerate(read(lesson).cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"cell {index} has outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"


@pytest.mark.parametrize("lesson", WRITTEN, ids=[lesson.stem for lesson in WRITTEN])
def test_lesson_skeleton(lesson: navigation.Lesson) -> None:
    cells = read(lesson).cells
    assert "nav-top" in cells[0].metadata.get("tags", [])
    assert "nav-bottom" in cells[-1].metadata.get("tags", [])
    header = cells[1].source
    assert header.startswith(f"# {lesson.number} · {lesson.title}\n")
    if lesson.original:
        assert f"Article {lesson.section} · {lesson.original}" in header
    assert "**You will learn**" in header
    assert "**You need**" in header
    text = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    assert "## Summary" in text


def test_start_here_lists_every_lesson() -> None:
    cells = read(navigation.INDEX).cells
    listing = next(cell.source for cell in cells if "lesson-list" in cell.metadata.get("tags", []))
    for lesson in navigation.LESSONS[1:]:
        assert lesson.title in listing
        if lesson.exists:
            assert f"({lesson.stem}.ipynb)" in listing
