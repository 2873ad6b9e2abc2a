"""Lesson 09's stall test: Alice sends big messages, Bob reads, one client never reads.

Machinery, not the lesson's idea: the lesson runs the test on the naive connection
manager and on the learner's hub, and plots when each message reached Alice and Bob.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["BIG", "longest_shared_pause", "loop_lateness", "record_arrivals", "stall_test"]

BIG = "x" * (64 * 1024)
"""What Alice sends: large, so that buffers fill within a second, not after an hour of chat."""

Arrivals = dict[str, list[float]]


async def record_arrivals(
    ws: ClientConnection, times: list[float], started: float, keep: Callable[[str], bool]
) -> None:
    """Note when each message ``keep`` accepts reaches ``ws``, until the connection closes."""
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            if keep(message):  # type: ignore[arg-type]
                times.append(time.perf_counter() - started)


async def stall_test(
    url: Callable[[str], str],
    frame: Callable[[str], str] = lambda text: text,
    keep: Callable[[str], bool] = lambda message: True,
    messages: int = 300,
    watch: float = 1.0,
    ahead: int | None = None,
) -> tuple[Arrivals, float, dict[str, ClientConnection]]:
    """Alice sends ``messages`` big messages; Bob reads; ``stalled`` never reads.

    ``url(name)`` is the URL each client connects to, ``frame(text)`` what Alice sends.
    ``stalled`` connects with ``max_queue=1`` (its library stops reading the socket once a
    message waits) and no compression (every message costs its full size in the buffers).
    With ``ahead``, Alice waits before each message until Alice and Bob both have all but
    ``ahead`` of hers, as people in a chat do, so that a busy machine cannot make them fall
    behind. Watching (and Alice's waiting) stops once ``watch`` seconds pass with no arrival.
    Returns the arrival times at Alice and Bob, how long we watched, and the three clients.
    """
    clients = {"stalled": await connect(url("stalled"), compression=None, max_queue=1)}
    clients["alice"] = await connect(url("alice"))
    clients["bob"] = await connect(url("bob"))
    started = time.perf_counter()
    arrivals: Arrivals = {"alice": [], "bob": []}
    readers = [
        asyncio.create_task(record_arrivals(clients[name], arrivals[name], started, keep))
        for name in arrivals
    ]
    for sent in range(messages):
        if ahead is not None and not await _caught_up(arrivals, sent - ahead, watch):
            ahead = None  # no progress: the room is stuck, send the rest at once
        await clients["alice"].send(frame(BIG))
        await asyncio.sleep(0)  # let the readers note arrivals while Alice keeps sending
    await _caught_up(arrivals, messages, watch)
    for reader in readers:
        reader.cancel()
    return arrivals, time.perf_counter() - started, clients


async def _caught_up(arrivals: Arrivals, count: int, watch: float) -> bool:
    """Wait until every reader has ``count`` messages: True, or False once ``watch``
    seconds went by with no arrival at all (the room is stuck)."""

    def arrived() -> int:
        return sum(len(times) for times in arrivals.values())

    while min(len(times) for times in arrivals.values()) < count:
        before = arrived()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(watch):
                while arrived() == before:
                    await asyncio.sleep(0.005)
        if arrived() == before:
            return False
    return True


@contextlib.asynccontextmanager
async def loop_lateness(every: float = 0.005) -> AsyncIterator[list[float]]:
    """How late this event loop's timers fire while the block runs, in seconds.

    A timer due every ``every`` seconds that fires 0.2 s late means this loop did not run
    for 0.2 s (the machine busy, or another thread of the process holding the GIL):
    whatever it timestamps meanwhile, such as arrivals, waits with it.
    """
    late: list[float] = []

    async def tick() -> None:
        while True:
            due = time.perf_counter() + every
            await asyncio.sleep(every)
            late.append(time.perf_counter() - due)

    ticker = asyncio.create_task(tick())
    try:
        yield late
    finally:
        ticker.cancel()


def longest_shared_pause(arrivals: Arrivals) -> float:
    """The longest time during which no reader noted an arrival, in seconds."""
    times = sorted(t for series in arrivals.values() for t in series)
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)
