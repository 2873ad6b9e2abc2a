"""The learner's chat project: the ``%%project`` magic, laying the project down, and the
course's answers, which must pass the chat contract as each of lessons 09-14 leaves them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ws_lessons import project

ROOT = Path(__file__).resolve().parents[2]
LESSONS = [lesson for lesson, files in project.layers().items() if files]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WS_LESSONS_WORKSPACE", str(tmp_path))
    return tmp_path


def run_in_kernel(workspace: Path, *sources: str) -> list[str]:
    """Run ``sources`` as cells of one fresh kernel; return what each printed."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    env = os.environ | {"WS_LESSONS_WORKSPACE": str(workspace)}
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True)
    with client.setup_kernel(env=env):
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
    printed = []
    for cell in notebook.cells:
        parts = []
        for output in cell.outputs:
            if output.output_type == "stream":
                parts.append(output.text)
            elif output.output_type == "error":
                parts.append(f"{output.ename}: {output.evalue}")
        printed.append("".join(parts))
    return printed


def test_the_magic_writes_appends_imports_and_refuses_paths_outside(workspace: Path) -> None:
    opened, written, appended, used, outside, again = run_in_kernel(
        workspace,
        'from ws_lessons.project import open_project\nopen_project("09")',
        "%%project mychat/extra.py\nLIMIT = 3\n\ndef double(x):\n    return 2 * x",
        "%%project -a mychat/extra.py\nfrom math import tau\n\nTWICE = double(LIMIT)",
        "print(double(2), TWICE)",
        "%%project ../escape.py\nx = 1",
        "%%project mychat/extra.py\nLIMIT = 4",
    )
    assert "this lesson writes it" in opened
    assert written.strip() == "mychat/extra.py (4 lines): LIMIT, double"
    assert appended.strip() == "mychat/extra.py (9 lines): LIMIT, double, TWICE"  # not tau
    assert used.strip() == "4 6"
    assert "ProjectError" in outside and "inside the project" in outside
    assert not (workspace.parent / "escape.py").exists()
    assert again.strip() == "mychat/extra.py (1 line): LIMIT"  # a cell run again rewrites
    assert (workspace / ".lesson").read_text() == "09\n"
    assert str(workspace) not in "".join([opened, written, appended])  # no changing path


@pytest.mark.parametrize("lesson", list(project.layers())[1:], ids=lambda n: f"start at {n}")
def test_starting_at_a_lesson_lays_down_the_earlier_ones(workspace: Path, lesson: str) -> None:
    answers = project.layers()
    project.open_project(lesson)
    earlier = [name for name in answers if name < lesson]
    expected: dict[str, str] = {}
    for name in earlier:
        expected |= answers[name]
    for path, text in expected.items():
        assert (workspace / path).read_text(encoding="utf-8") == text.rstrip("\n") + "\n"
    assert (workspace / ".lesson").read_text().strip() == earlier[-1]


def test_a_project_already_there_is_kept(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project.open_project("10")
    (workspace / "mychat" / "hub.py").write_text("# the learner's own edit\n")
    project.open_project("10")
    assert (workspace / "mychat" / "hub.py").read_text() == "# the learner's own edit\n"
    assert "as lesson 09 left it" in capsys.readouterr().out


def test_an_unknown_lesson_says_so(workspace: Path) -> None:
    with pytest.raises(project.ProjectError, match="no lesson 08 writes"):
        project.open_project("08")


CHECK = """
from ws_lessons.checks import check_chat
try:
    from mychat.service import build_app
except ImportError:
    from mychat.app import create_app as build_app
    app = build_app()
else:
    app = build_app(secret="a secret for the test")
raise SystemExit(0 if check_chat(app) else 1)
"""


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: f"as lesson {lesson} leaves it")
@pytest.mark.slow
def test_the_answers_pass_the_chat_contract(workspace: Path, lesson: str) -> None:
    """check_chat passes the learner's project at the end of each of lessons 09-14."""
    later = [name for name in project.layers() if name > lesson]
    project.open_project(later[0] if later else lesson)
    if not later:  # the last lesson: lay down its own files too
        for path, text in project.layers()[lesson].items():
            project._write_file(workspace, path, text)
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "11 of 11 clauses" in done.stdout or "of the chat contract hold" in done.stdout


def test_the_answers_are_the_lessons_cells() -> None:
    done = subprocess.run(
        [sys.executable, "tools/project.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
