"""Lesson 09's stall harness: what it measures, measured against a loop we block on purpose."""

from __future__ import annotations

import asyncio
import time

from ws_lessons.stall import longest_shared_pause, loop_lateness


def test_the_longest_shared_pause_is_the_widest_gap_between_any_arrivals() -> None:
    arrivals = {"alice": [0.1, 0.2, 0.9], "bob": [0.15, 0.5]}
    assert abs(longest_shared_pause(arrivals) - 0.4) < 1e-9  # 0.5 -> 0.9: nobody got anything
    assert longest_shared_pause({"alice": [], "bob": []}) == 0.0


def test_loop_lateness_sees_a_loop_that_did_not_run() -> None:
    async def block_the_loop() -> list[float]:
        async with loop_lateness(every=0.005) as late:
            await asyncio.sleep(0.02)  # let the ticker start
            time.sleep(0.2)  # nothing on this loop runs meanwhile
            await asyncio.sleep(0.02)
        return late

    late = asyncio.run(block_the_loop())
    assert max(late) >= 0.15
