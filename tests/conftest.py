"""Shared test setup."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ws_lessons import browser

ROOT = Path(__file__).resolve().parent.parent

# Notebook kernels start "python" from PATH: make it this interpreter, the one with the course.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Chromium's path; in CI a missing browser fails the test, elsewhere it skips it."""
    found = browser.chromium()
    if found is None:
        reason = "Chromium is not installed (apt-get install chromium, or set CHROMIUM=path)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must install it: {reason}")
        pytest.skip(reason)
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, a run that executed no notebook is a failed run, whatever else passed."""
    executed = getattr(session.config, "notebooks_executed", 0)
    if os.environ.get("CI") and exitstatus == 0 and executed == 0:
        print("\nCI: no notebook was executed; failing the run.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
