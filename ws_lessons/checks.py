"""Instant feedback on the exercises: ``check_<lesson>_<n>(answer)`` prints a pass or a hint.

A check never raises on a wrong answer, so a notebook with unsolved exercises still runs
top to bottom; it returns a verdict that is true when the answer passed.
"""

from ws_lessons.exercises.chat_contract import check_chat
from ws_lessons.exercises.lesson00 import check_00_1, check_00_2
from ws_lessons.exercises.lesson01 import check_01_1, check_01_2
from ws_lessons.exercises.lesson02 import check_02_1, check_02_2, check_02_3
from ws_lessons.exercises.lesson03 import check_03_1, check_03_2, check_03_3
from ws_lessons.exercises.lesson04 import check_04_1, check_04_2, check_04_3
from ws_lessons.exercises.lesson05 import check_05_1, check_05_2, check_05_3, check_05_4
from ws_lessons.exercises.lesson06 import check_06_1, check_06_2
from ws_lessons.exercises.lesson07 import check_07_1, check_07_2, check_07_3
from ws_lessons.exercises.lesson08 import check_08_1, check_08_2, check_08_3
from ws_lessons.exercises.lesson09 import check_09_1, check_09_2, check_09_3
from ws_lessons.exercises.lesson10 import check_10_1, check_10_2, check_10_3
from ws_lessons.exercises.lesson11 import check_11_1, check_11_2, check_11_3
from ws_lessons.exercises.lesson12 import check_12_1, check_12_2
from ws_lessons.exercises.lesson13 import check_13_1, check_13_2
from ws_lessons.exercises.lesson14 import check_14_1, check_14_2
from ws_lessons.exercises.lesson15 import check_15_1, check_15_2, check_15_3, check_15_4

__all__ = [
    "check_00_1",
    "check_00_2",
    "check_01_1",
    "check_01_2",
    "check_02_1",
    "check_02_2",
    "check_02_3",
    "check_03_1",
    "check_03_2",
    "check_03_3",
    "check_04_1",
    "check_04_2",
    "check_04_3",
    "check_05_1",
    "check_05_2",
    "check_05_3",
    "check_05_4",
    "check_06_1",
    "check_06_2",
    "check_07_1",
    "check_07_2",
    "check_07_3",
    "check_08_1",
    "check_08_2",
    "check_08_3",
    "check_09_1",
    "check_09_2",
    "check_09_3",
    "check_10_1",
    "check_10_2",
    "check_10_3",
    "check_11_1",
    "check_11_2",
    "check_11_3",
    "check_12_1",
    "check_12_2",
    "check_13_1",
    "check_13_2",
    "check_14_1",
    "check_14_2",
    "check_15_1",
    "check_15_2",
    "check_15_3",
    "check_15_4",
    "check_chat",
]
