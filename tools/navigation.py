"""Write the navigation of both editions of the course, and keep the Chinese twins' code in step.

    python tools/navigation.py              # rewrite the generated cells in place
    python tools/navigation.py --check      # exit 1 if a notebook is out of date (the tests run it)
    python tools/navigation.py --sync-code  # copy each English lesson's code cells into its twin

Generated cells are found by their tag: ``nav-top`` (first cell), ``nav-bottom``
(last cell) and ``lesson-list`` (in 00_start_here). Everything else is left alone.
The English lessons are in ``notebooks/``, their Chinese twins (same file names, same
cells, the prose in Chinese) in ``notebooks/zh/``; each edition links its own lessons.

A twin's code cells are the English ones with the comments in Chinese (``twin_code``
says when two cells are the same code). ``--sync-code`` leaves a twin's cell alone while its
code is the English one, copies the English cell over it when the code changed, and names
each cell copied so that a translator puts its comments back into Chinese. It refuses (naming
the lesson and the cell) when the English lesson gained, lost or moved a cell: that change
needs a translator too.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from twin_code import same_code

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@dataclass(frozen=True)
class Edition:
    """One language of the course: where its lessons are and the words of its navigation."""

    code: str
    folder: Path
    index: str
    previous: str
    following: str
    start: str
    end: str
    table_header: str
    soon: str
    sections: dict[str, str] = field(default_factory=dict)


ENGLISH = Edition(
    code="en",
    folder=NOTEBOOKS,
    index="Index",
    previous="← {number} · {title}",
    following="{number} · {title} →",
    start="← (start)",
    end="(end) →",
    table_header="| # | Lesson | Article | Original title |",
    soon="{title} *(coming soon)*",
)
CHINESE = Edition(
    code="zh",
    folder=NOTEBOOKS / "zh",
    index="目录",
    previous="← 上一课：{number} · {title}",
    following="下一课：{number} · {title} →",
    start="← （开始）",
    end="（结束）→",
    table_header="| # | 课程 | 文章章节 | 文章原标题 |",
    soon="{title} *（即将推出）*",
    sections={"beyond §4": "§4 之后", "series": "系列"},
)
EDITIONS = (ENGLISH, CHINESE)


@dataclass(frozen=True)
class Lesson:
    stem: str
    title: str
    section: str  # where it sits in the reference article
    original: str  # the article's own (Chinese) title, or "" where the article has none
    title_zh: str  # the title of its Chinese twin

    @property
    def number(self) -> str:
        return self.stem[:2]

    @property
    def path(self) -> Path:
        return NOTEBOOKS / f"{self.stem}.ipynb"

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def path_in(self, edition: Edition) -> Path:
        return edition.folder / f"{self.stem}.ipynb"

    def title_in(self, edition: Edition) -> str:
        return self.title_zh if edition is CHINESE else self.title

    def link(self, text: str | None = None) -> str:
        return f"[{text or f'{self.number} · {self.title}'}]({self.stem}.ipynb)"


LESSONS = [
    Lesson("00_start_here", "Start here", "—", "", "从这里开始"),
    Lesson("01_http_limits", "HTTP's limits", "§1.1", "传统HTTP的局限性", "HTTP 的局限"),
    Lesson(
        "02_why_websockets",
        "Why WebSockets",
        "§1.2",
        "WebSocket的优势和适用场景",
        "为什么用 WebSocket",
    ),
    Lesson("03_fastapi_primer", "A FastAPI primer", "§2", "FastAPI简介", "FastAPI 入门"),
    Lesson("04_handshake", "The opening handshake", "§3.1", "WebSocket的工作原理", "开启握手"),
    Lesson("05_frames", "Messages and frames", "§3.2", "关键概念解析", "消息与帧"),
    Lesson(
        "06_own_server",
        "A WebSocket server of your own",
        "§3",
        "WebSocket基础知识",
        "你自己的 WebSocket 服务器",
    ),
    Lesson(
        "07_fastapi_endpoint",
        "Your first WebSocket endpoint",
        "§4.1",
        "FastAPI提供的WebSocket功能",
        "你的第一个 WebSocket 端点",
    ),
    Lesson(
        "08_integration_config",
        "Integration and configuration",
        "§4.2",
        "集成和配置WebSocket",
        "集成与配置",
    ),
    Lesson("09_realtime_chat", "A real-time chat", "beyond §4", "", "实时聊天室"),
    Lesson("10_security", "Security", "series", "安全性最佳实践", "安全"),
    Lesson("11_reliability", "Reliability", "series", "", "可靠性"),
    Lesson("12_testing", "Testing", "series", "测试技术", "测试"),
    Lesson(
        "13_scaling_deployment",
        "Scaling and deployment",
        "series",
        "部署与可扩展的应用程序",
        "扩展与部署",
    ),
    Lesson(
        "14_production",
        "From the notebook to production",
        "series",
        "部署与可扩展的应用程序",
        "从笔记本到生产环境",
    ),
    Lesson("15_beyond_http1", "Beyond HTTP/1.1", "beyond §4", "", "超越 HTTP/1.1"),
]
INDEX = LESSONS[0]


def navigation(lesson: Lesson, edition: Edition = ENGLISH) -> str:
    """The ``previous | index | next`` line of ``lesson``; lessons not written yet are skipped."""
    written = [other for other in LESSONS if other.path_in(edition).exists() or other is lesson]
    position = written.index(lesson)
    previous = written[position - 1] if position > 0 else None
    following = written[position + 1] if position + 1 < len(written) else None

    def words(template: str, other: Lesson) -> str:
        return template.format(number=other.number, title=other.title_in(edition))

    parts = [
        previous.link(words(edition.previous, previous)) if previous else edition.start,
        INDEX.link(edition.index),
        following.link(words(edition.following, following)) if following else edition.end,
    ]
    return " | ".join(parts)


def lesson_list(edition: Edition = ENGLISH) -> str:
    """The table of every lesson shown in 00_start_here."""
    rows = [edition.table_header, "|---|---|---|---|"]
    for lesson in LESSONS[1:]:
        title = lesson.title_in(edition)
        written = lesson.path_in(edition).exists()
        name = lesson.link(title) if written else edition.soon.format(title=title)
        section = edition.sections.get(lesson.section, lesson.section)
        rows.append(f"| {lesson.number} | {name} | {section} | {lesson.original or '—'} |")
    return "\n".join(rows)


def generated_cells(lesson: Lesson, edition: Edition = ENGLISH) -> dict[str, str]:
    """Tag → source of every generated cell of ``lesson`` in ``edition``."""
    nav = f"<small>{navigation(lesson, edition)}</small>"
    cells = {"nav-top": nav, "nav-bottom": nav}
    if lesson is INDEX:
        cells["lesson-list"] = lesson_list(edition)
    return cells


def update(lesson: Lesson, edition: Edition = ENGLISH) -> bool:
    """Rewrite the generated cells of ``lesson``; return whether anything changed."""
    path = lesson.path_in(edition)
    notebook = nbformat.read(path, as_version=4)
    wanted = generated_cells(lesson, edition)
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
        raise SystemExit(f"{display(path)}: no cell tagged {', '.join(sorted(missing))}")
    if changed:
        nbformat.write(notebook, path)
    return changed


def is_current(lesson: Lesson, edition: Edition = ENGLISH) -> bool:
    notebook = nbformat.read(lesson.path_in(edition), as_version=4)
    sources = {tag: cell.source for cell in notebook.cells for tag in cell.metadata.get("tags", [])}
    return all(sources.get(tag) == text for tag, text in generated_cells(lesson, edition).items())


def written(edition: Edition = ENGLISH) -> list[Lesson]:
    """The lessons that exist in ``edition``."""
    return [lesson for lesson in LESSONS if lesson.path_in(edition).exists()]


def display(path: Path) -> str:
    return path.relative_to(NOTEBOOKS).as_posix()


class CellsDiffer(Exception):
    """A twin's cells no longer match its English lesson one for one: a translator's job."""


def sync_code(english: Path, twin: Path) -> list[int]:
    """Bring the code cells of ``twin`` in step with its ``english`` lesson, leaving the
    markdown alone: a cell whose code changed is copied (its comments are English again),
    a cell whose tags changed gets the English tags. Return the indices of the cells copied.
    Raise :class:`CellsDiffer` when the two notebooks do not have the same kinds of cells in
    the same order."""
    ours, theirs = nbformat.read(english, as_version=4), nbformat.read(twin, as_version=4)
    name = f"{twin.parent.name}/{twin.name}"
    for index, (cell, other) in enumerate(zip(ours.cells, theirs.cells, strict=False)):
        if cell.cell_type != other.cell_type:
            raise CellsDiffer(
                f"{name}: cell {index} is {cell.cell_type} in English and {other.cell_type} "
                "in the twin; translate the English change into the twin"
            )
    if len(ours.cells) != len(theirs.cells):
        raise CellsDiffer(
            f"{name}: the English lesson has {len(ours.cells)} cells, the twin "
            f"{len(theirs.cells)}; translate the English change into the twin"
        )
    copied, changed = [], False
    for index, (cell, other) in enumerate(zip(ours.cells, theirs.cells, strict=True)):
        if cell.cell_type != "code":
            continue
        if not same_code(cell.source, other.source):
            other.source = cell.source
            copied.append(index)
            changed = True
        if other.metadata != cell.metadata:
            other.metadata = cell.metadata
            changed = True
    if changed:
        nbformat.write(theirs, twin)
    return copied


def main(argv: list[str]) -> int:
    if "--sync-code" in argv:
        failed = False
        for lesson in written(CHINESE):
            try:
                for index in sync_code(lesson.path, lesson.path_in(CHINESE)):
                    print(
                        f"{display(lesson.path_in(CHINESE))}, cell {index}: copied the changed "
                        "English code; translate its comments"
                    )
            except CellsDiffer as differ:
                print(differ)
                failed = True
        if failed:
            return 1
    check = "--check" in argv
    stale = []
    for edition in EDITIONS:
        for lesson in written(edition):
            if check:
                if not is_current(lesson, edition):
                    stale.append(display(lesson.path_in(edition)))
            elif update(lesson, edition):
                print(f"updated {display(lesson.path_in(edition))}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python tools/navigation.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
