"""Run a learner's code with a budget, so that a check never hangs or kills the kernel.

A check that feeds hostile input to the learner's code must survive that code looping
forever. :func:`run_bounded` runs it on a thread of its own and counts the lines it
executes (``sys.settrace``); past the budget it raises :exc:`OutOfSteps` inside that
code. Code that swallows even that keeps its thread, but the check returns once the
deadline has passed, and says so. The package's own code is not counted.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from ws_lessons.exceptions import WsLessonsError

__all__ = ["OutOfSteps", "StillRunning", "run_bounded"]

T = TypeVar("T")

STEPS = 20_000_000
"""Lines of the learner's code a check may run: far more than any honest answer needs."""
DEADLINE = 30.0
"""Seconds after which a check stops waiting: only a guard, the budget of steps stops first."""


class OutOfSteps(BaseException):
    """Raised inside the learner's code once it has run its budget of lines.

    A ``BaseException``, so that ``except Exception`` in the learner's code lets it through.
    """


class StillRunning(WsLessonsError):
    """The learner's code was still running at the deadline (it caught :exc:`OutOfSteps`)."""


def run_bounded(function: Callable[[], T], *, steps: int = STEPS, deadline: float = DEADLINE) -> T:
    """Return ``function()``, run on a thread of its own with at most ``steps`` lines of
    code outside this package; raise what it raised, :exc:`OutOfSteps`, or :exc:`StillRunning`.
    """
    outcome: dict[str, Any] = {}
    count = 0

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if event == "line":
            count += 1
            if count > steps:
                raise OutOfSteps(f"still running after {steps:,} lines of code")
        return local

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        if str(frame.f_globals.get("__name__", "")).startswith("ws_lessons"):
            return None  # the package's own code is not the learner's: not counted
        return local(frame, event, arg)

    def target() -> None:
        sys.settrace(trace)
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            sys.settrace(None)

    worker = threading.Thread(target=target, name="bounded check", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        waited = time.monotonic() - started
        raise StillRunning(
            f"still running after {waited:.0f} s, in the background: restart the kernel to stop it"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
