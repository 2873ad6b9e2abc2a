"""Help with the exercises: ``reveal("07.1")`` shows a nudge, a closer hint, then the answer,
each behind its own click in a notebook; ``show("07.1")`` prints the answer straight away.

Each lesson's answers sit beside its checks in ``ws_lessons.exercises``, as functions
named ``solution_<lesson>_<n>`` that return the answer; the tests pass each one to its check.
The help is shown in the learner's language; the answer is code, shown as it is.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from typing import Any

from ws_lessons.classroom.reporter import note_help
from ws_lessons.exercises import discover
from ws_lessons.exercises.core import HELP
from ws_lessons.i18n import N_, _

__all__ = ["SOLUTIONS", "STEPS", "Reveal", "reveal", "show"]

SOLUTIONS: dict[str, Callable[[], Any]] = discover("solution")
"""Exercise number (``"07.1"``) → the function that returns its reference answer."""


def show(exercise: str) -> None:
    """Print the reference answer to ``exercise`` (e.g. ``"07.1"``)."""
    if exercise not in SOLUTIONS:
        print(_no_such(exercise))
        return
    note_help(exercise, "answer")
    print(inspect.getsource(SOLUTIONS[exercise]))


def _no_such(exercise: str) -> str:
    return _("No exercise {exercise}; there are: {known}").format(
        exercise=repr(exercise), known=", ".join(SOLUTIONS)
    )


STEPS = (N_("💡 A nudge for {exercise}"), N_("🔍 A closer hint for {exercise}"))


class Reveal:
    """Graduated help, then the answer, each folded away until clicked (in a notebook)."""

    def __init__(self, exercise: str, hints: tuple[str, ...], answer: str) -> None:
        self.exercise, self.hints, self.answer = exercise, hints, answer

    def _steps(self) -> list[tuple[str, str]]:
        """(title, text) of each step of help, in the current language."""
        return [
            (_(title).format(exercise=self.exercise), _(text))
            for title, text in zip(STEPS, self.hints, strict=False)
        ]

    def __repr__(self) -> str:
        steps = [f"{title}: {text}" for title, text in self._steps()]
        answer = _("Answer:")
        return "\n\n".join([*steps, f"{answer}\n{self.answer}"])

    def _repr_html_(self) -> str:
        steps = "".join(
            f"<details><summary>{title}</summary><p>{html.escape(text)}</p></details>"
            for title, text in self._steps()
        )
        title = _("🔑 The answer to {exercise}").format(exercise=self.exercise)
        return (
            steps + f"<details><summary>{title}</summary>"
            f"<pre>{html.escape(self.answer)}</pre></details>"
        )


def reveal(exercise: str) -> Reveal | None:
    """A nudge, a closer hint, then the answer to ``exercise``, each opened with a click."""
    if exercise not in SOLUTIONS:
        print(_no_such(exercise))
        return None
    note_help(exercise, "hints")
    return Reveal(exercise, HELP.get(exercise, ()), inspect.getsource(SOLUTIONS[exercise]))
