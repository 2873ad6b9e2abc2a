"""The exercises, one module a lesson: checks named ``check_<lesson>_<n>`` made with
:func:`~ws_lessons.exercises.core.exercise`, and their answers named ``solution_<lesson>_<n>``.

:func:`discover` finds both; ``ws_lessons.checks`` and ``ws_lessons.solutions`` show them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from typing import Any

__all__ = ["discover"]

NUMBER = re.compile(r"(\d\d)_(\d+)|[a-z]+")
"""What follows ``check_`` or ``solution_`` in an exercise's name: ``07_1`` or a word (``chat``)."""


def discover(kind: str) -> dict[str, Callable[..., Any]]:
    """Exercise number (``"07.1"``, ``"chat"``) → the function named ``<kind>_<number>`` in the
    exercise modules, ``kind`` being ``"check"`` or ``"solution"``; in order of number."""
    found: dict[str, Callable[..., Any]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            number = name.removeprefix(f"{kind}_")
            own = function.__module__ == module.__name__  # not one imported from elsewhere
            if own and number != name and NUMBER.fullmatch(number):
                found[number.replace("_", ".")] = function
    return dict(sorted(found.items()))
