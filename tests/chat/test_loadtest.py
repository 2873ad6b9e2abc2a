"""The fan-out measurement counts every delivery, and every one that never came."""

from __future__ import annotations

import pytest

from ws_lessons import serve
from ws_lessons.chat import create_app
from ws_lessons.loadtest import CROSS, SAME, measure_load

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def fast_chat():
    return create_app(secret="load", rate=10_000, burst=10_000, max_connections=100)


async def test_every_member_gets_every_message() -> None:
    with serve(fast_chat(), name="load") as server:
        result = await measure_load([server.url], clients=10, messages=5, progress=False)
    assert (result.deliveries, result.missing) == (50, 0)
    assert set(result.latencies) == {SAME}
    assert all(latency > 0 for latency in result.latencies[SAME])
    assert "50 deliveries" in str(result)


async def test_servers_that_share_nothing_miss_the_cross_process_deliveries() -> None:
    with serve(fast_chat(), name="load a") as a, serve(fast_chat(), name="load b") as b:
        # The cross-process deliveries never come: the run waits out its timeout, which must
        # leave a busy machine time for the deliveries that do come.
        result = await measure_load(
            [a.url, b.url], clients=6, messages=3, timeout=3, progress=False
        )
    assert len(result.latencies[SAME]) == 3 * 3  # the three clients on the sender's server
    assert CROSS not in result.latencies
    assert result.missing == 3 * 3
