"""Execute every lesson and write an HTML copy of each to site/, for sharing or projecting.

    python3 course.py html            # all lessons
    python3 course.py html 06 08      # only the lessons whose names start with these
    python3 course.py html --lang zh  # the Chinese edition, to site/zh/

Links between lessons point at the HTML copies; site/index.html is the start page.
Mermaid diagrams are drawn by the browser with mermaid.js, which the page loads from a CDN.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from tqdm import tqdm

from ws_lessons.stats import progress

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SITE = ROOT / "site"
LESSON_LINK = re.compile(r'href="(\d\d_\w+)\.ipynb"')


def build(path: Path, exporter: HTMLExporter, site: Path) -> Path:
    """Execute ``path`` in a fresh kernel and write its HTML copy to ``site``; return the copy."""
    notebook = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}  # in notebooks/zh, it speaks Chinese
    client = NotebookClient(notebook, timeout=180, kernel_name="python3", resources=resources)
    # Cell errors arrive as messages; the kernel's own stderr only warns about loopback TCP.
    client.execute(stderr=subprocess.DEVNULL)
    html, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": path.stem}})
    target = site / f"{path.stem}.html"
    target.write_text(LESSON_LINK.sub(r'href="\1.html"', html), encoding="utf-8")
    return target


def main(prefixes: list[str], site: Path = SITE, folder: Path = NOTEBOOKS) -> int:
    lessons = sorted(folder.glob("[0-9]*.ipynb"))
    if prefixes:
        lessons = [path for path in lessons if path.name.startswith(tuple(prefixes))]
    if not lessons:
        print(f"no lesson matches {' '.join(prefixes)}")
        return 2
    site.mkdir(exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    failed = []
    for path in progress(lessons, desc="executing lessons", unit="lesson"):
        try:
            target = build(path, exporter, site)
        except CellExecutionError as error:
            failed.append(path.name)
            tqdm.write(f"{path.name} failed:\n{error}")
            continue
        if path.stem.startswith("00_"):
            (site / "index.html").write_text(target.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"wrote {len(lessons) - len(failed)} lesson(s) to {site}")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Execute lessons and write their HTML copies.")
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="the edition")
    parser.add_argument("lessons", nargs="*", help="lesson numbers, e.g. 07 (every lesson if none)")
    options = parser.parse_args()
    folder = {"en": NOTEBOOKS, "zh": NOTEBOOKS / "zh"}[options.lang]
    site = {"en": SITE, "zh": SITE / "zh"}[options.lang]
    sys.exit(main(options.lessons, site=site, folder=folder))
