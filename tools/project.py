"""Gather the ``%%project`` cells of lessons 09-14 into the course's answers.

``python tools/project.py`` rewrites ``ws_lessons/data/project_layers.json`` from the
English lessons; ``--check`` fails if that file is out of date. A learner who starts at
lesson 11 gets the project laid down from it (``ws_lessons.project.open_project``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat

from ws_lessons.project import LAYERS, run_cells

ROOT = Path(__file__).resolve().parent.parent
LESSONS = {
    "09": "09_realtime_chat",
    "10": "10_security",
    "11": "11_reliability",
    "12": "12_testing",
    "13": "13_scaling_deployment",
    "14": "14_production",
}
TARGET = ROOT / "ws_lessons" / "data" / LAYERS


def gather() -> str:
    answers = {}
    for lesson, stem in LESSONS.items():
        notebook = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        answers[lesson] = run_cells(notebook)
    return json.dumps(answers, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the answers are stale")
    args = parser.parse_args()
    text = gather()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run python tools/project.py")
            return 1
        print("the project's answers match lessons 09-14")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
