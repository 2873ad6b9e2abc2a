"""Instant feedback on the exercises: ``check_<lesson>_<n>(answer)`` prints a pass or a hint.

A check never raises on a wrong answer, so a notebook with unsolved exercises still runs
top to bottom; it returns a verdict that is true when the answer passed.
"""

from ws_lessons.exercises.lesson00 import check_00_1
from ws_lessons.exercises.lesson04 import check_04_1, check_04_2, check_04_3
from ws_lessons.exercises.lesson05 import check_05_1, check_05_2, check_05_3
from ws_lessons.exercises.lesson06 import check_06_1, check_06_2, check_06_3
from ws_lessons.exercises.lesson11 import check_11_1

__all__ = [
    "check_00_1",
    "check_04_1",
    "check_04_2",
    "check_04_3",
    "check_05_1",
    "check_05_2",
    "check_05_3",
    "check_06_1",
    "check_06_2",
    "check_06_3",
    "check_11_1",
]
