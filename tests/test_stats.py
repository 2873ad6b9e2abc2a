"""The shared measurement tools: one percentile, targets as data, progress bars."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys

import pytest

from ws_lessons.stats import Target, percentile


@pytest.mark.parametrize("values", [[3.0, 1.0], [4.0, 1.0, 3.0, 2.0], [5.0, 1.0, 2.0]])
def test_the_50th_percentile_is_the_median_for_any_count(values: list[float]) -> None:
    assert percentile(values, 50) == statistics.median(values)


def test_percentiles_interpolate_between_the_nearest_samples() -> None:
    values = [float(n) for n in range(1, 11)]  # 1 .. 10
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 99) == pytest.approx(9.91)
    assert percentile(reversed(values), 1) == pytest.approx(1.09)


def test_too_few_samples() -> None:
    assert math.isnan(percentile([], 50))
    assert percentile([0.25], 99) == 0.25


def test_a_target_says_whether_it_is_met_and_how_close() -> None:
    fast = Target("serve() start", 12.5, 50, "ms")
    assert fast.met
    assert str(fast) == "target: serve() start <= 50 ms: 12.5 ms, 0.25 of the goal: meets"
    slow = Target("hub deliveries", 15_000, 20_000, "/s", higher_is_better=True)
    assert not slow.met
    assert str(slow) == "target: hub deliveries >= 20,000/s: 15,000/s, 0.75 of the goal: MISSES"
    assert Target("ratio", 1.5, 1.5, "x").met  # the goal itself meets it
    assert ", 126 of the goal: MISSES" in str(Target("p50", 252, 2, "ms"))


def test_no_progress_frames_in_a_log() -> None:
    """Written to a pipe, a benchmark prints its figures and no progress bar."""
    run = subprocess.run(
        [sys.executable, "-m", "ws_lessons", "bench", "server"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "target: serve() start <= 50 ms" in run.stdout
    assert "\r" not in run.stdout + run.stderr
    assert "cycle" not in run.stderr  # the bar's unit: no bar at all
