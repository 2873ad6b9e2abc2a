"""The instructors' HTML copies: executed, with outputs, linked to each other."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import build_html  # noqa: E402


def test_an_unknown_lesson_is_an_error(tmp_path: Path) -> None:
    assert build_html.main(["99"], site=tmp_path) == 2


@pytest.mark.notebook
def test_html_copy_of_a_chinese_lesson_speaks_chinese(tmp_path: Path) -> None:
    assert build_html.main(["07"], site=tmp_path, folder=ROOT / "notebooks" / "zh") == 0
    page = (tmp_path / "07_fastapi_endpoint.html").read_text(encoding="utf-8")
    assert "练习 07.1" in page  # a check's output, printed in Chinese
    assert 'href="00_start_here.html"' in page


@pytest.mark.notebook
@pytest.mark.slow
def test_html_copy_of_a_lesson_is_executed_linked_and_draws_the_wire(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert build_html.main(["05"], site=tmp_path) == 0
    assert "\r" not in capfd.readouterr().err  # no progress frames when not on a terminal
    page = (tmp_path / "05_frames.html").read_text(encoding="utf-8")
    assert "unmasked" in page  # an output, so the lesson really ran
    assert 'href="04_handshake.html"' in page
    assert '.ipynb"' not in page
    assert page.count("<svg") >= 4  # the sequence diagrams, drawn inline
    assert 'class="arrow"' in page and ">GET /echo</text>" in page
    assert ">client</text>" in page and ">server</text>" in page
