"""What every measurement of the course shares: one percentile, targets, progress bars.

The feeds of lessons 01 and 02, the fan-out of lesson 13 and ``python -m ws_lessons
bench`` all compute their percentiles, state their goals and show their progress here.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Target", "percentile", "progress"]


def percentile(values: Iterable[float], percent: int) -> float:
    """The ``percent``-th percentile of ``values`` (1 to 99); ``nan`` when there are none.

    ``statistics.quantiles(method="inclusive")`` interpolates between the two nearest
    samples, so ``percentile(values, 50)`` is ``statistics.median(values)``, also for an
    even count.
    """
    values = list(values)
    if len(values) < 2:  # quantiles() needs two samples before Python 3.13
        return values[0] if values else math.nan
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


@dataclass(frozen=True)
class Target:
    """A goal for one figure: ``measured`` should be at most (or at least) ``goal``."""

    name: str
    measured: float
    goal: float
    unit: str = ""
    higher_is_better: bool = False

    @property
    def met(self) -> bool:
        if self.higher_is_better:
            return self.measured >= self.goal
        return self.measured <= self.goal

    def __str__(self) -> str:
        bound = ">=" if self.higher_is_better else "<="
        ratio = self.measured / self.goal if self.goal else math.nan
        times = f"{ratio:.2g}" if ratio < 10 else f"{ratio:,.0f}"
        return (
            f"target: {self.name} {bound} {self._show(self.goal)}: {self._show(self.measured)}, "
            f"{times} of the goal: {'meets' if self.met else 'MISSES'}"
        )

    def _show(self, value: float) -> str:
        number = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
        space = "" if self.unit in ("", "x", "%") or self.unit.startswith("/") else " "
        return f"{number}{space}{self.unit}"


def progress(*args: Any, **kwargs: Any) -> Any:
    """A ``tqdm`` progress bar in a notebook or on a terminal, and none anywhere else.

    Written to a file or a pipe, a bar is a stream of carriage-return frames that makes
    a log hard to read, so there it is disabled. Arguments are ``tqdm``'s.
    """
    from tqdm.auto import tqdm

    in_notebook = type(sys.stderr).__module__.startswith("ipykernel")
    on_terminal = sys.stderr is not None and sys.stderr.isatty()
    kwargs["disable"] = kwargs.get("disable", False) or not (in_notebook or on_terminal)
    return tqdm(*args, **kwargs)
