"""What the exercise tests share: the message a check gives a wrong answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ws_lessons.exercises.core import Verdict


def rejected(check: Callable[[Any], Verdict], answer: Any) -> str:
    """What ``check`` says to ``answer``, which it must not pass."""
    verdict = check(answer)
    assert not verdict, f"the wrong answer passed: {verdict.message}"
    return verdict.message
