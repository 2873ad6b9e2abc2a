"""Committed lessons: no outputs, the fixed skeleton, and navigation that is up to date."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
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


# -- every lesson: small cells, and commands a reader can copy ----------------------------------

MAX_CODE_LINES = 30
SHELL_PROGRAMS = (
    "python", "python3", "pip", "uv", "uvicorn", "fastapi", "jupyter", "redis-server",
    "redis-cli", "nginx", "curl", "websocat", "wscat", "wstest", "docker", "git", "sudo",
    "apt-get", "brew", "conda", "export", "cd",
)  # fmt: skip
SHELL_FENCES = {"bash", "sh", "shell", "console", "zsh", "powershell"}
CODE_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def editions(lesson: navigation.Lesson) -> list[tuple[str, nbformat.NotebookNode]]:
    """The lesson and its Chinese twin, each with its name for messages."""
    twin = lesson.path_in(navigation.CHINESE)
    return [(lesson.path.name, read(lesson)), (f"zh/{twin.name}", nbformat.read(twin, 4))]


def is_a_command(text: str) -> bool:
    return text.split(maxsplit=1)[0] in SHELL_PROGRAMS if text.strip() else False


def broken_commands(cell: nbformat.NotebookNode) -> list[str]:
    """Shell commands in a cell that a reader could not copy as one line."""
    broken = []
    if cell.cell_type == "markdown":
        text = cell.source
        for language, body in FENCE.findall(text):
            if language in SHELL_FENCES:
                broken += [line for line in body.splitlines() if line.rstrip().endswith("\\")]
        for span in CODE_SPAN.findall(FENCE.sub("", text)):
            if "\n" in span and is_a_command(span):
                broken.append(span)
    else:
        lines = cell.source.splitlines()
        shell = lines and lines[0].startswith(("%%bash", "%%sh", "%%script"))
        for line in lines:
            if (shell or line.lstrip().startswith("!")) and line.rstrip().endswith("\\"):
                broken.append(line)
    return broken


@pytest.mark.parametrize("lesson", WRITTEN, ids=[lesson.stem for lesson in WRITTEN])
def test_code_cells_are_small(lesson: navigation.Lesson) -> None:
    """Every step is a small cell with a visible result: no code cell over 30 lines."""
    for name, notebook in editions(lesson):
        long = [
            (index, len(cell.source.splitlines()))
            for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and len(cell.source.splitlines()) > MAX_CODE_LINES
        ]
        assert not long, f"{name}: code cells (index, lines) over {MAX_CODE_LINES} lines: {long}"


@pytest.mark.parametrize("lesson", WRITTEN, ids=[lesson.stem for lesson in WRITTEN])
def test_shell_commands_are_one_line_each(lesson: navigation.Lesson) -> None:
    for name, notebook in editions(lesson):
        broken = {
            index: found
            for index, cell in enumerate(notebook.cells)
            if (found := broken_commands(cell))
        }
        assert not broken, f"{name}: shell commands split over lines, by cell: {broken}"


def test_a_split_command_is_found() -> None:
    cells = [
        nbformat.v4.new_markdown_cell("Run `python -m ws_lessons\ndoctor` first."),
        nbformat.v4.new_markdown_cell("```bash\npip install \\\n  ws-lessons\n```"),
        nbformat.v4.new_code_cell("!pip install \\\n  ws-lessons"),
    ]
    assert all(broken_commands(cell) for cell in cells)
    fine = [
        nbformat.v4.new_markdown_cell("Run `python -m ws_lessons doctor`, then\n`serve(app)`."),
        nbformat.v4.new_markdown_cell("`from ws_lessons import solutions;\nsolutions.reveal()`"),
        nbformat.v4.new_code_cell("x = (1 +\n     2)"),
    ]
    assert not [cell for cell in fine if broken_commands(cell)]
