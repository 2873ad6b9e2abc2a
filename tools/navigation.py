"""Write the navigation links of every lesson and the lesson list of 00_start_here.

    python tools/navigation.py          # rewrite the generated cells in place
    python tools/navigation.py --check  # exit 1 if a notebook is out of date (used by the tests)

Generated cells are found by their tag: ``nav-top`` (first cell), ``nav-bottom``
(last cell) and ``lesson-list`` (in 00_start_here). Everything else is left alone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@dataclass(frozen=True)
class Lesson:
    stem: str
    title: str
    section: str  # where it sits in the reference article
    original: str  # the article's own (Chinese) title, or "" where the article has none

    @property
    def number(self) -> str:
        return self.stem[:2]

    @property
    def path(self) -> Path:
        return NOTEBOOKS / f"{self.stem}.ipynb"

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def link(self, text: str | None = None) -> str:
        return f"[{text or f'{self.number} · {self.title}'}]({self.stem}.ipynb)"


LESSONS = [
    Lesson("00_start_here", "Start here", "—", ""),
    Lesson("01_http_limits", "HTTP's limits", "§1.1", "传统HTTP的局限性"),
    Lesson("02_why_websockets", "Why WebSockets", "§1.2", "WebSocket的优势和适用场景"),
    Lesson("03_fastapi_primer", "A FastAPI primer", "§2", "FastAPI简介"),
    Lesson("04_handshake", "The opening handshake", "§3.1", "WebSocket的工作原理"),
    Lesson("05_frames", "Messages and frames", "§3.2", "关键概念解析"),
    Lesson("06_own_server", "A WebSocket server of your own", "§3", "WebSocket基础知识"),
    Lesson(
        "07_fastapi_endpoint", "Your first WebSocket endpoint", "§4.1", "FastAPI提供的WebSocket功能"
    ),
    Lesson("08_integration_config", "Integration and configuration", "§4.2", "集成和配置WebSocket"),
    Lesson("09_realtime_chat", "A real-time chat", "beyond §4", ""),
    Lesson("10_security", "Security", "series", "安全性最佳实践"),
    Lesson("11_reliability", "Reliability", "series", ""),
    Lesson("12_testing", "Testing", "series", "测试技术"),
    Lesson("13_scaling_deployment", "Scaling and deployment", "series", "部署与可扩展的应用程序"),
    Lesson("14_production", "From the notebook to production", "series", "部署与可扩展的应用程序"),
]
INDEX = LESSONS[0]


def navigation(lesson: Lesson) -> str:
    """The ``previous | index | next`` line of ``lesson``; lessons not written yet are skipped."""
    written = [other for other in LESSONS if other.exists or other is lesson]
    position = written.index(lesson)
    previous = written[position - 1] if position > 0 else None
    following = written[position + 1] if position + 1 < len(written) else None
    parts = [
        previous.link(f"← {previous.number} · {previous.title}") if previous else "← (start)",
        INDEX.link("Index"),
        following.link(f"{following.number} · {following.title} →") if following else "(end) →",
    ]
    return " | ".join(parts)


def lesson_list() -> str:
    """The table of every lesson shown in 00_start_here."""
    rows = [
        "| # | Lesson | Article | Original title |",
        "|---|---|---|---|",
    ]
    for lesson in LESSONS[1:]:
        name = lesson.link(lesson.title) if lesson.exists else f"{lesson.title} *(coming soon)*"
        rows.append(f"| {lesson.number} | {name} | {lesson.section} | {lesson.original or '—'} |")
    return "\n".join(rows)


def generated_cells(lesson: Lesson) -> dict[str, str]:
    """Tag → source of every generated cell of ``lesson``."""
    nav = f"<small>{navigation(lesson)}</small>"
    cells = {"nav-top": nav, "nav-bottom": nav}
    if lesson is INDEX:
        cells["lesson-list"] = lesson_list()
    return cells


def update(lesson: Lesson) -> bool:
    """Rewrite the generated cells of ``lesson``; return whether anything changed."""
    notebook = nbformat.read(lesson.path, as_version=4)
    wanted = generated_cells(lesson)
    changed = False
    for cell in notebook.cells:
        for tag in cell.metadata.get("tags", []):
            if tag in wanted and cell.source != wanted[tag]:
                cell.source = wanted[tag]
                changed = True
    missing = set(wanted) - {
        tag for cell in notebook.cells for tag in cell.metadata.get("tags", [])
    }
    if missing:
        raise SystemExit(f"{lesson.path.name}: no cell tagged {', '.join(sorted(missing))}")
    if changed:
        nbformat.write(notebook, lesson.path)
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for lesson in LESSONS:
        if not lesson.exists:
            continue
        if check:
            notebook = nbformat.read(lesson.path, as_version=4)
            sources = {
                tag: cell.source for cell in notebook.cells for tag in cell.metadata.get("tags", [])
            }
            if any(sources.get(tag) != text for tag, text in generated_cells(lesson).items()):
                stale.append(lesson.path.name)
        elif update(lesson):
            print(f"updated {lesson.path.name}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python tools/navigation.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
