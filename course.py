#!/usr/bin/env python3
"""Set up the course and open it, or run every test. Needs only Python 3.11+.

    python3 course.py lab            # make .venv, install the course, open JupyterLab at lesson 00
    python3 course.py lab --lang zh  # the same, in the Chinese edition (简体中文版)
    python3 course.py setup          # make .venv and install the course, nothing else
    python3 course.py test           # make .venv, install the course and its test tools, run pytest
                                     # on parallel workers (pytest-xdist); `-n 0` runs them in one
    python3 course.py html           # make .venv, execute every lesson, write HTML copies to site/
    python3 course.py html --lang zh # the same for the Chinese edition, to site/zh/

`--lang zh` opens notebooks/zh/00_start_here.ipynb and makes the package speak Chinese in
the lab's kernels (WS_LESSONS_LANG=zh); `--lang en` (the default) opens the English one.
Extra arguments go to JupyterLab or pytest: `python3 course.py test -k server`.
The virtual environment is reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed"
FIRST_LESSON = {"en": "notebooks/00_start_here.ipynb", "zh": "notebooks/zh/00_start_here.ipynb"}
LAB_SETTINGS = VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "ws-lessons.json"
"""JupyterLab's defaults for this course's lab only (its .venv): a user's own settings win."""
QUIET_LAB = {
    # No "Would you like to get notified about official Jupyter news?" prompt: a room of
    # 30 laptops would get 30 of them. Learners may turn news on in Settings.
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}
}


def say(message: str) -> None:
    print(f"course: {message}", flush=True)


def ensure_environment(extras: str = "") -> None:
    """Create .venv and install the course (with ``extras``) unless already up to date."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before any install
        sys.exit(f"course: Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV.name}/")
        try:
            venv.create(VENV, with_pip=True)
        except subprocess.CalledProcessError:  # Debian and Ubuntu ship ensurepip separately
            shutil.rmtree(VENV, ignore_errors=True)
            sys.exit(
                "course: this Python cannot create virtual environments with pip; on Debian "
                "or Ubuntu install it with: sudo apt-get install python3-venv"
            )
    wanted = (
        f"{extras or 'course'}:{hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()}"
    )
    quiet_lab()
    if STAMP.exists() and wanted in STAMP.read_text().split():
        return
    say(
        "installing the course"
        + (f" with its {extras} tools" if extras else "")
        + " (the first time takes a few minutes)"
    )
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "--editable", f"{ROOT}[{extras}]" if extras else str(ROOT)], check=True)
    known = STAMP.read_text().split() if STAMP.exists() else []
    STAMP.write_text("\n".join([*known, wanted]) + "\n")


def quiet_lab(path: Path = LAB_SETTINGS) -> None:
    """Write the course's JupyterLab defaults (``overrides.d``, read by jupyterlab_server)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(QUIET_LAB, indent=2) + "\n", encoding="utf-8")


def language(arguments: list[str]) -> tuple[str, list[str]]:
    """The edition chosen with ``--lang en|zh`` (English if none), and the other arguments."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--lang", default="en")
    known, rest = parser.parse_known_args(arguments)  # the rest goes to JupyterLab
    chosen = known.lang
    if chosen not in FIRST_LESSON:
        sys.exit(
            f"course: no edition in language {chosen!r}; choose --lang "
            + " or --lang ".join(FIRST_LESSON)
        )
    if not (ROOT / FIRST_LESSON[chosen]).exists():
        sys.exit(f"course: {FIRST_LESSON[chosen]} is missing from this copy of the course")
    return chosen, rest


def run(command: list[str], **variables: str) -> int:
    """Run ``command`` with the virtual environment first on PATH (kernels find its python)
    and ``variables`` added to the environment."""
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env.update(variables)
    try:
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    except KeyboardInterrupt:
        return 130


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"lab", "setup", "test", "html"}:
        print(__doc__)
        return 2
    what, extra = argv[0], argv[1:]
    if what == "lab":
        chosen, extra = language(extra)
        ensure_environment()
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        lab = [str(PYTHON), "-m", "jupyter", "lab", FIRST_LESSON[chosen], *as_root, *extra]
        return run(lab, WS_LESSONS_LANG=chosen) if chosen != "en" else run(lab)
    if what == "setup":
        ensure_environment()
        say(f"ready: {PYTHON} -m jupyter lab, or python3 course.py lab")
        return 0
    if what == "html":
        ensure_environment()
        return run([str(PYTHON), "tools/build_html.py", *extra])
    ensure_environment("test")
    return run([str(PYTHON), "-m", "pytest", *in_parallel(extra)])


def in_parallel(extra: list[str]) -> list[str]:
    """pytest's arguments, with two xdist workers more than the machine has cores (at most
    4), unless they choose otherwise.

    Many tests wait: on sockets, on child processes, on a timeout they prove. With one
    worker more than the cores, a 2-core machine stayed idle 15% of the time; with two more
    it took 22% less time. ``--dist loadgroup`` keeps a module's shared fixture (a browser,
    a Redis) on one worker, which starts it once.
    """
    chosen = any(arg.startswith(("-n", "--numprocesses", "--dist")) for arg in extra)
    if chosen or "no:xdist" in extra:
        return extra
    workers = min(4, (os.cpu_count() or 1) + 2)
    return ["-n", str(workers), "--dist", "loadgroup", *extra]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
