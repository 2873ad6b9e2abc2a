"""mypy finds no error in ws_lessons/ (its settings: [tool.mypy] in pyproject.toml)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(600)  # a first run, with no cache, reads every dependency


def test_the_package_ships_its_type_information() -> None:
    assert (ROOT / "ws_lessons" / "py.typed").is_file()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in package_data["package-data"]["ws_lessons"]


def test_mypy_finds_no_error_in_the_package() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stdout.splitlines() if re.match(r"[^:]+:\d+(:\d+)?: ", line)]
    assert result.returncode == 0 and errors == [], result.stdout + result.stderr
