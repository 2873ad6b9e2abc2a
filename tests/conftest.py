"""Shared test setup."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chatkit import SECRET
from fastapi import FastAPI

from ws_lessons import autobahn, browser, services
from ws_lessons.chat import create_app
from ws_lessons.i18n import set_language
from ws_lessons.server import RunningServer, serve

ROOT = Path(__file__).resolve().parent.parent

# Notebook kernels start "python" from PATH: make it this interpreter, the one with the course.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
# The tests choose the language themselves: English, or Chinese in notebooks/zh.
os.environ.pop("WS_LESSONS_LANG", None)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def automatic_language(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The package chooses its language by itself, with no $WS_LESSONS_LANG, as on a fresh
    machine."""
    monkeypatch.delenv("WS_LESSONS_LANG", raising=False)
    set_language(None)
    yield
    set_language(None)


@pytest.fixture
def chinese() -> Iterator[None]:
    """The package speaks Chinese during the test, as in the Chinese edition."""
    set_language("zh")
    yield
    set_language(None)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Chromium's path, for tests marked ``browser`` (which need Chromium)."""
    found = browser.chromium()
    assert found is not None, "mark the test @pytest.mark.browser: it needs Chromium"
    return found


@pytest.fixture
def start(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[..., RunningServer]]:
    """Start the chat on loopback; on teardown stop it and check its logs hold no error.

    ``start(**settings)`` serves ``create_app(secret=SECRET, **settings)``; ``start(app)``
    serves an app built by the test. ``uvicorn_options`` go to ``serve()``; clients hear
    1001 when the server stops. ``check_logs=False``: the test checks the logs itself.
    """
    servers: list[tuple[RunningServer, bool]] = []

    def start(
        app: FastAPI | None = None,
        *,
        check_logs: bool = True,
        uvicorn_options: dict[str, Any] | None = None,
        **settings: Any,
    ) -> RunningServer:
        app = app or create_app(secret=SECRET, **settings)
        server = serve(app, before_stop=app.state.hub.close_all, **(uvicorn_options or {}))
        servers.append((server, check_logs))
        return server

    yield start
    for server, check_logs in servers:
        server.stop()
        if check_logs:
            assert not [line for line in server.logs if "Traceback" in line or "ERROR" in line]
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in a kernel (Python's default), even where the
    test run inherited SIGINT ignored (a shell starts background jobs that way)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


# -- markers (registered in pyproject.toml) ---------------------------------------------------

FOLDER_MARKS = {"browser": [pytest.mark.browser]}
"""Markers every test of a folder carries."""


@functools.cache
def missing(program: str) -> str | None:
    """Why ``program`` cannot run here ("<program> is not installed …"), or None if it can."""
    if program == "Chromium":
        if browser.chromium() is None:
            return "Chromium is not installed (apt-get install chromium, or set CHROMIUM=path)"
        return None
    if program == "Autobahn|Testsuite":
        if autobahn.wstest() is None:
            return f"Autobahn|Testsuite is not installed: {autobahn.HOW_TO_GET_IT}"
        return None
    if program not in services.INSTALL:
        raise pytest.UsageError(f"needs({program!r}): a program this hook does not know")
    try:
        services.program(program)  # says how to install it
    except services.ServiceUnavailable as error:
        return str(error)
    return None


def needed(item: pytest.Item) -> list[str]:
    """The programs ``item`` needs: the arguments of its ``needs`` markers."""
    return [program for mark in item.iter_markers("needs") for program in mark.args]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests (before ``-m`` selects), skip what needs a missing program, order them.

    Lessons run first: ``test_lesson_facts.py`` then reads their outputs, not new runs, and
    with ``-n 2`` the longest tests start first.

    With ``-n 2 --dist loadgroup``, the tests of a module that shares a module-scoped fixture
    (a browser, a Redis, a JupyterLab) run on one worker, which starts it once.
    """
    for item in items:
        for mark in FOLDER_MARKS.get(item.path.parent.name, []):
            item.add_marker(mark)
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.needs("Chromium"))
        reasons = [reason for program in needed(item) if (reason := missing(program))]
        if reasons and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason=reasons[0]))
    items.sort(key=lambda item: item.path.name != "test_notebooks.py")
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        shared = info and any(
            definitions[-1].scope == "module" for definitions in info.name2fixturedefs.values()
        )
        if shared and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """In CI, a test that needs a missing program fails: CI must install it."""
    if os.environ.get("CI"):
        for program in needed(item):
            if reason := missing(program):
                pytest.fail(f"CI must install it: {reason}")


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count the notebooks executed; with ``-n 2`` the workers' reports arrive here too."""
    if report.when == "call" and report.passed and "notebook" in report.keywords:
        _counts["notebooks"] += 1


_counts = {"notebooks": 0}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, a run that executed no notebook is a failed run, whatever else passed."""
    if hasattr(session.config, "workerinput"):  # a worker: the controller decides
        return
    if os.environ.get("CI") and exitstatus == 0 and _counts["notebooks"] == 0:
        print("\nCI: no notebook was executed; failing the run.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
