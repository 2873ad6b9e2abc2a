"""Reference answers to the exercises, for when a hint is not enough: ``show("06.1")``.

Each lesson's answers sit beside its checks in ``ws_lessons.exercises``, as functions
named ``solution_<lesson>_<n>`` that return the answer; the tests pass each one to its check.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

from ws_lessons import exercises


def _collect() -> dict[str, Callable[[], Any]]:
    found = {}
    for module_info in pkgutil.iter_modules(exercises.__path__):
        module = importlib.import_module(f"{exercises.__name__}.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("solution_") and function.__module__ == module.__name__:
                found[name.removeprefix("solution_").replace("_", ".")] = function
    return dict(sorted(found.items()))


SOLUTIONS = _collect()


def show(exercise: str) -> None:
    """Print the reference answer to ``exercise`` (e.g. ``"06.1"``)."""
    if exercise not in SOLUTIONS:
        print(f"No exercise {exercise!r}; there are: {', '.join(SOLUTIONS)}")
        return
    print(inspect.getsource(SOLUTIONS[exercise]))
