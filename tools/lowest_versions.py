"""Print pip constraints that pin every dependency of the course at its declared minimum.

    python tools/lowest_versions.py > lowest.txt
    pip install -c lowest.txt -e ".[test]"

A run of the tests on that install shows the minimums in ``pyproject.toml`` are true.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def lowest() -> list[str]:
    """``name==minimum`` for each dependency declared with ``>=``."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    pins = []
    for line in project["dependencies"]:
        requirement = Requirement(line)
        minimums = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if minimums:
            pins.append(f"{requirement.name}=={minimums[0]}")
    return pins


if __name__ == "__main__":
    print("\n".join(lowest()))
