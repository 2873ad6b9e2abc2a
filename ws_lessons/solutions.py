"""Help with the exercises: ``reveal("06.1")`` shows a hint, then the answer, each behind a
click in a notebook; ``show("06.1")`` prints the answer straight away.

Each lesson's answers sit beside its checks in ``ws_lessons.exercises``, as functions
named ``solution_<lesson>_<n>`` that return the answer; the tests pass each one to its check.
"""

from __future__ import annotations

import html
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

from ws_lessons import exercises
from ws_lessons.exercises.core import HINTS


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


class Reveal:
    """A hint and an answer, each folded away until clicked (in a notebook)."""

    def __init__(self, exercise: str, hint: str, answer: str) -> None:
        self.exercise, self.hint, self.answer = exercise, hint, answer

    def __repr__(self) -> str:
        return f"Hint for {self.exercise}: {self.hint}\n\nAnswer:\n{self.answer}"

    def _repr_html_(self) -> str:
        return (
            f"<details><summary>💡 Hint for {self.exercise}</summary>"
            f"<p>{html.escape(self.hint)}</p></details>"
            f"<details><summary>🔑 Answer to {self.exercise}</summary>"
            f"<pre>{html.escape(self.answer)}</pre></details>"
        )


def reveal(exercise: str) -> Reveal | None:
    """A hint, then the answer to ``exercise``; in a notebook each opens with a click."""
    if exercise not in SOLUTIONS:
        print(f"No exercise {exercise!r}; there are: {', '.join(SOLUTIONS)}")
        return None
    return Reveal(exercise, HINTS.get(exercise, ""), inspect.getsource(SOLUTIONS[exercise]))
