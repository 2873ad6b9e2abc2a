"""The chat project as lesson 09 leaves it: laid down from the course's answers, it is
ruff-clean and keeps the names lessons 10-14 build on. (That it passes the chat contract,
as every lesson's answers must, is in ``test_project.py``.)"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ws_lessons import project, stop_all

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def lesson_09_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The workspace as a learner who starts at lesson 10 gets it."""
    monkeypatch.setenv("WS_LESSONS_WORKSPACE", str(tmp_path))
    project.open_project("10")
    try:
        yield tmp_path
    finally:
        project._forget_imports()
        sys.path.remove(str(tmp_path))
        stop_all()


def test_the_seams_and_the_broker_protocol_are_there(lesson_09_project: Path) -> None:
    app = importlib.import_module("mychat.app")
    hub = importlib.import_module("mychat.hub").Hub()
    built = app.create_app(hub=hub, guards=())
    assert built.state.hub is hub
    for name in ("publish", "history", "last_seq"):
        assert callable(getattr(hub.broker, name))
    for module, names in {
        "connection": ("TOO_SLOW", "Dropped", "close_quietly", "run_connection"),
        "identity": ("NAME", "user_from_query"),
        "models": ("Say", "Ping", "client_message", "error", "parse"),
        "ratelimit": ("TokenBucket",),
        "receive": ("receive_messages",),
        "settings": ("Settings",),
    }.items():
        loaded = importlib.import_module(f"mychat.{module}")
        assert all(hasattr(loaded, name) for name in names), module


def test_the_project_is_ruff_clean(lesson_09_project: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    config = str(root / "pyproject.toml")
    ruff = [sys.executable, "-m", "ruff"]
    files = sorted(str(path) for path in (lesson_09_project / "mychat").glob("*.py"))
    check = subprocess.run([*ruff, "check", "--no-cache", "--config", config, *files])
    form = subprocess.run([*ruff, "format", "--check", "--no-cache", "--config", config, *files])
    assert check.returncode == 0 and form.returncode == 0
