"""Every lesson runs top to bottom in a fresh kernel, then a second time in the same kernel.

The Chinese twins (``notebooks/zh/``) run the same way. Each kernel starts in its notebook's
folder, as Jupyter starts it, so in ``notebooks/zh`` the package prints its messages in Chinese.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

FOLDER = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("[0-9]*.ipynb")) + sorted((FOLDER / "zh").glob("[0-9]*.ipynb"))
RUNS = ("in a fresh kernel", "again in the same kernel")


def test_there_are_lessons() -> None:
    assert len(NOTEBOOKS) >= 2, "the course has no lessons to execute"


@pytest.mark.parametrize(
    "path",
    NOTEBOOKS,
    ids=[path.relative_to(FOLDER).with_suffix("").as_posix() for path in NOTEBOOKS],
)
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
                    pytest.fail(
                        f"{path.relative_to(FOLDER)}, run {run}, cell {index} failed:\n{error}"
                    )
    if path.parent.name == "zh":  # the package spoke Chinese: the kernel ran in notebooks/zh
        printed = "".join(
            output.get("text", "")
            for cell in notebook.cells
            if cell.cell_type == "code"
            for output in cell.outputs
        )
        assert "练习 " in printed, f"{path.name}: no check printed in Chinese"
        english = [line for line in printed.splitlines() if line.startswith("Exercise ")]
        assert not english, f"{path.name}: checks printed in English: {english}"
    request.config.notebooks_executed = getattr(request.config, "notebooks_executed", 0) + 1
