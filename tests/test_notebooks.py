"""Every lesson runs top to bottom in a fresh kernel, then a second time in the same kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9]*.ipynb"))
RUNS = ("in a fresh kernel", "again in the same kernel")


def test_there_are_lessons() -> None:
    assert len(NOTEBOOKS) >= 2, "the course has no lessons to execute"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_twice(path: Path, request: pytest.FixtureRequest) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    with client.setup_kernel():
        for run in RUNS:
            for index, cell in enumerate(notebook.cells):
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as error:
                    pytest.fail(f"{path.name}, run {run}, cell {index} failed:\n{error}")
    request.config.notebooks_executed = getattr(request.config, "notebooks_executed", 0) + 1
