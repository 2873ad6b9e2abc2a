"""Instant feedback on the exercises: ``check_<lesson>_<n>(answer)`` prints a pass or a hint.

A check never raises on a wrong answer, so a notebook with unsolved exercises still runs
top to bottom; it returns a verdict that is true when the answer passed. The checks are
found in ``ws_lessons.exercises`` (:func:`~ws_lessons.exercises.discover`), as the answers
``ws_lessons.solutions`` shows are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ws_lessons.exercises import discover
from ws_lessons.exercises.core import Verdict

CHECKS: dict[str, Callable[[Any], Verdict]] = {
    f"check_{number.replace('.', '_')}": check for number, check in discover("check").items()
}
"""``check_07_1`` → the check of exercise 07.1, and ``check_chat`` → the chat's contract."""

__all__ = list(CHECKS)


def __getattr__(name: str) -> Callable[[Any], Verdict]:
    """``checks.check_07_1`` and ``from ws_lessons.checks import check_07_1``."""
    try:
        return CHECKS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *CHECKS])
