"""The learner's chat project: a folder of their own that lessons 09 to 14 write and import.

Lesson 09 writes the chat into the package ``mychat/``, one file per cell, with the
``%%project`` cell magic; lessons 10 to 14 add to the same folder. The folder lives in
the course's ``workspace/`` (git ignores it), or where ``WS_LESSONS_WORKSPACE`` points.

:func:`open_project` is each lesson's first step: it registers the magic, puts the
workspace on ``sys.path``, and, when the previous lessons have not been run here, lays
the project down as the previous lesson leaves it, from the course's answers (the
``%%project`` cells of the English lessons, gathered by ``tools/project.py``).
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import sys
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any

from ws_lessons.exceptions import WsLessonsError
from ws_lessons.i18n import _

__all__ = ["PACKAGE", "ProjectError", "layers", "open_project", "workspace", "write"]

PACKAGE = "mychat"
"""The Python package the learner writes."""
MARKER = ".lesson"
"""A file in the workspace: the last lesson that wrote the project."""
LAYERS = "project_layers.json"
"""The course's answers: for each lesson, the files its ``%%project`` cells write."""

_lesson: str | None = None  # the lesson that opened the project in this kernel


class ProjectError(WsLessonsError, ValueError):
    """A ``%%project`` cell names a file the project cannot hold, or no lesson opened it."""


def workspace() -> Path:
    """Where the project lives: ``WS_LESSONS_WORKSPACE``, else the course's ``workspace/``."""
    if configured := os.environ.get("WS_LESSONS_WORKSPACE"):
        return Path(configured).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "course.py").is_file() and (folder / "notebooks").is_dir():
            return folder / "workspace"
    return here / "workspace"


def layers() -> dict[str, dict[str, str]]:
    """The course's answers: ``{lesson: {path: text}}``, lessons in order."""
    text = (files("ws_lessons") / "data" / LAYERS).read_text(encoding="utf-8")
    return json.loads(text)


def _last_lesson(root: Path) -> str | None:
    marker = root / MARKER
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None


def _describe(root: Path) -> list[str]:
    lines = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        hidden = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
        if not path.is_file() or hidden:
            continue
        try:
            count = len(path.read_text(encoding="utf-8").splitlines())
        except UnicodeDecodeError:
            continue  # data, not code: a history file, say
        lines.append(f"  {relative.as_posix():28} {_count_lines(count):>10}")
    return lines


def _count_lines(count: int) -> str:
    return _("1 line") if count == 1 else _("{count} lines").format(count=count)


def open_project(lesson: str) -> None:
    """Make the project ready for ``lesson`` ("09" to "14"); print what it holds.

    When the workspace holds the project as an earlier lesson left it, nothing is
    written. Otherwise the lessons before ``lesson`` are laid down from the course's
    answers, so a learner may start at any of lessons 10 to 14.
    """
    global _lesson
    answers = layers()
    if lesson not in answers:
        raise ProjectError(_("no lesson {lesson} writes the chat project").format(lesson=lesson))
    _lesson = lesson
    root = workspace()
    root.mkdir(parents=True, exist_ok=True)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    _forget_imports()
    _register_magic()
    earlier = [name for name in answers if name < lesson]
    done = _last_lesson(root)
    if earlier and (done is None or done < earlier[-1]):
        for name in earlier:
            for path, text in answers[name].items():
                _write_file(root, path, text)
        (root / MARKER).write_text(earlier[-1] + "\n", encoding="utf-8")
        print(
            _("Laid your project down as lesson {lesson} leaves it (the course's answers):").format(
                lesson=earlier[-1]
            )
        )
    elif done is None:
        print(_("Your project is empty: this lesson writes it, one file at a time."))
    else:
        print(_("Your project, as lesson {lesson} left it:").format(lesson=done))
    print(*_describe(root), sep="\n")


def write(path: str, text: str, *, append: bool = False) -> list[str]:
    """Write (or ``append``) ``text`` to ``path`` in the project; import it if it is a
    module of the chat. Returns the public names the module defines (none for other files).
    """
    if _lesson is None:
        raise ProjectError(_("run the lesson's open_project(...) cell first"))
    root = workspace()
    _write_file(root, path, text, append=append)
    if (_last_lesson(root) or "") < _lesson:
        (root / MARKER).write_text(_lesson + "\n", encoding="utf-8")
    relative = PurePosixPath(path)
    if relative.suffix != ".py" or relative.parts[0] != PACKAGE:
        return []
    _forget_imports()
    importlib.import_module(".".join(relative.with_suffix("").parts))
    return _defined(root.joinpath(*relative.parts).read_text(encoding="utf-8"))


def _defined(source: str) -> list[str]:
    """The public names a module's own top-level statements define (not its imports)."""
    names = []
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(statement.name)
        elif isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names += [target.id for target in targets if isinstance(target, ast.Name)]
    return [name for name in dict.fromkeys(names) if not name.startswith("_")]


def _write_file(root: Path, path: str, text: str, *, append: bool = False) -> None:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ProjectError(
            _("{path!r}: name a file inside the project, such as mychat/hub.py").format(path=path)
        )
    target = root.joinpath(*relative.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = text.rstrip("\n") + "\n"
    if append:
        if not target.is_file():
            raise ProjectError(_("{path}: nothing to append to yet").format(path=path))
        text = target.read_text(encoding="utf-8") + "\n\n" + text
    target.write_text(text, encoding="utf-8")


def _forget_imports() -> None:
    """Drop the chat's modules from ``sys.modules``: the next import reads the files again."""
    for name in list(sys.modules):
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            del sys.modules[name]
    importlib.invalidate_caches()


def _register_magic() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: call write() instead
        return
    shell = get_ipython()
    if shell is None:
        return

    def project(line: str, cell: str) -> None:
        """%%project [-a] mychat/hub.py: write (-a: append) this cell to the project file,
        import it, and show the names it defines."""
        append, path = _arguments(line)
        names = write(path, cell, append=append)
        text = workspace().joinpath(*PurePosixPath(path).parts).read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if names:
            module = sys.modules[".".join(PurePosixPath(path).with_suffix("").parts)]
            shell.user_ns.update({name: getattr(module, name) for name in names})
        shown = f": {', '.join(names)}" if names else ""
        print(f"{path} ({_count_lines(lines)}){shown}")

    shell.register_magic_function(project, magic_kind="cell", magic_name="project")


def _arguments(line: str) -> tuple[bool, str]:
    """``-a mychat/x.py`` -> (True, "mychat/x.py"), as ``%%writefile -a`` takes them."""
    words = line.split()
    append = "-a" in words
    paths = [word for word in words if word != "-a"]
    if len(paths) != 1:
        raise ProjectError(_("write %%project PATH, or %%project -a PATH to append"))
    return append, paths[0]


def run_cells(notebook: Any) -> dict[str, str]:
    """The files a notebook's ``%%project`` cells write, in order (a later write wins)."""
    written: dict[str, str] = {}
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and source.startswith("%%project "):
            first, _newline, body = source.partition("\n")
            append, path = _arguments(first.removeprefix("%%project "))
            body = body.rstrip("\n") + "\n"
            written[path] = written[path] + "\n\n" + body if append else body
    return written
