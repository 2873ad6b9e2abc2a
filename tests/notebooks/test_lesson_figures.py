"""Lessons 01 and 02's long-poll figure, against a direct long poll measured in the same run.

The lessons measure through a byte counter, a loopback proxy. Their conclusion, that long
polling delivers within about a round trip, holds only if that proxy adds no delay of its
own: a proxy that left Nagle's algorithm on once made every long poll 40 ms late.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time

import httpx
import pytest
from test_notebooks import first_run, text_of

from ws_lessons import feeds, serve

pytestmark = pytest.mark.timeout(300)

MARGIN_MS = 10.0  # the proxy's fault added 40 ms; a loaded machine adds a few
SECONDS = 3.0


def shown(stem: str) -> list[tuple[str, str]]:
    """(source, printed and displayed text) of each code cell of the lesson's first run."""
    cells = first_run(stem).cells
    return [(cell.source, text_of(cell)) for cell in cells if cell.cell_type == "code"]


def long_poll_median(table: str) -> float:
    """The latency median (ms) of the long-polling row of a printed ``feeds.Results`` table."""
    row = next(line for line in table.splitlines() if line.startswith("long polling "))
    events, missed, median = row.removeprefix("long polling").split()[:3]
    assert int(events) > 0 and int(missed) == 0, row
    return float(median)


def measured_by(cells: list[tuple[str, str]]) -> str:
    found = [text for source, text in cells if "await feeds.measure_transports(server" in source]
    assert len(found) == 1, f"{len(found)} cells measure"
    return found[0]


async def direct_long_poll_median() -> float:
    """Long poll the packaged feed at 20 events/s, straight to the server: the median, in ms."""
    latencies = []
    with serve(feeds.feed_app(feeds.Ticker(rate=20)), name="direct long poll") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            after = 0
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline:
                answer = await http.get("/long-poll", params={"after": after, "timeout": 1})
                received = time.time()
                for event in answer.json():
                    latencies.append(received - event["ts"])
                    after = max(after, event["id"])
    assert len(latencies) > 10
    return statistics.median(latencies[5:]) * 1000  # the first answers catch up on history


@pytest.mark.parametrize(
    "stem",
    # on the worker that ran the lesson: its first run is read, not run again
    [
        pytest.param(stem, marks=pytest.mark.xdist_group(stem))
        for stem in ("01_http_limits", "02_why_websockets")
    ],
)
@pytest.mark.notebook
@pytest.mark.slow
def test_the_lessons_long_poll_figure_is_a_direct_round_trip(stem: str) -> None:
    lesson = long_poll_median(measured_by(shown(stem)))
    direct = asyncio.run(direct_long_poll_median())
    print(f"{stem}: long polling {lesson:.1f} ms in the lesson, {direct:.1f} ms direct")
    assert lesson < direct + MARGIN_MS, (lesson, direct)


@pytest.mark.notebook
@pytest.mark.xdist_group("01_http_limits")
def test_lesson_01_sets_long_polling_beside_a_direct_round_trip() -> None:
    cells = shown("01_http_limits")
    text = next(text for source, text in cells if "long_polling = results" in source)
    trip = float(re.search(r"direct: median ([\d.]+) ms", text).group(1))
    long_polling = float(re.search(r"received: median ([\d.]+) ms", text).group(1))
    assert long_polling == long_poll_median(measured_by(cells))
    assert long_polling < trip + MARGIN_MS, text
