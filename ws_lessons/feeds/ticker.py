"""The event source: numbered, timestamped events at a set rate, with a bounded history.

Every event is JSON like ``{"id": 7, "ts": 1767225600.123456, "price": 100.25}``; ``ts`` is
the server's ``time.time()`` when the event was made. Server and clients of the lessons
share a process and so a clock, which is what makes latency figures exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

__all__ = ["Event", "Ticker"]


@dataclass(frozen=True)
class Event:
    """One event of the feed."""

    id: int
    ts: float  # time.time() when the server created it
    price: float

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ts": self.ts, "price": self.price}


class Ticker:
    """Numbered, timestamped events, ``rate`` per second on average, with a bounded history.

    Give the app ``lifespan=ticker.lifespan`` so the ticker runs while the server does.
    ``rate=None`` makes a quiet ticker that only produces events when you call
    :meth:`publish`; you can change ``ticker.rate`` at any time, from any thread.
    ``count`` stops it after that many events. ``keep`` is how many past events the
    server remembers: a client that asks for older ones gets a gap.

    The async methods run on the server's event loop; :meth:`publish` and the
    read-only properties may be used from any thread (a notebook cell, a test).

    ``on_publish``, when set, is called with each new event on the server's event loop
    (whichever thread published it): the hook a long poll uses to wake up.
    :meth:`wait_after` is the course's own long-poll wait, built on the same idea.
    """

    def __init__(
        self,
        rate: float | None = 20.0,
        *,
        count: int | None = None,
        keep: int = 1000,
        seed: int = 0,
    ) -> None:
        self._rate = rate
        self.count = count
        self._history: deque[Event] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._last_id = 0
        self._random = random.Random(seed)  # prices
        self._gaps = random.Random(seed + 1)  # time between events
        self._price = 100.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()  # set (and replaced) on every new event
        self._rate_changed = asyncio.Event()
        self.on_publish: Callable[[Event], object] | None = None

    def __repr__(self) -> str:
        rate = "quiet" if not self._rate else f"{self._rate:g}/s"
        return f"<Ticker {rate}, last id {self.last_id}, {len(self._history)} kept>"

    # -- reading ------------------------------------------------------------------------------

    @property
    def last_id(self) -> int:
        """The id of the newest event (0 before the first one)."""
        return self._last_id

    @property
    def history(self) -> list[Event]:
        """The events the ticker still remembers, oldest first."""
        with self._lock:
            return list(self._history)

    def after(self, after: int) -> list[Event]:
        """The remembered events whose id is greater than ``after``, oldest first."""
        with self._lock:
            if not self._history:
                return []
            skip = max(0, after + 1 - self._history[0].id)
            return list(islice(self._history, skip, None))

    async def wait_after(self, after: int, timeout: float) -> list[Event]:
        """Like :meth:`after`, but wait up to ``timeout`` seconds for an event if none is there."""
        self._bind()
        changed = self._changed  # taken before looking, so no event slips between the two
        events = self.after(after)
        if events:
            return events
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)
        return self.after(after)

    async def follow(self, after: int | None = None) -> AsyncIterator[Event]:
        """Every event after ``after`` (default: from now on), as they come, forever."""
        self._bind()
        if after is None:
            after = self.last_id
        while True:
            changed = self._changed
            events = self.after(after)
            for event in events:
                yield event
            if events:
                after = events[-1].id
            else:
                await changed.wait()

    # -- producing ----------------------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """Events per second; ``None`` or 0 pauses the ticker. Settable from any thread."""
        return self._rate

    @rate.setter
    def rate(self, value: float | None) -> None:
        self._rate = value
        self._call_on_loop(self._rate_changed.set)

    def publish(self) -> Event:
        """Make the next event now. Callable from any thread."""
        with self._lock:
            self._last_id += 1
            self._price = round(max(1.0, self._price + self._random.uniform(-0.5, 0.5)), 2)
            event = Event(self._last_id, round(time.time(), 6), self._price)
            self._history.append(event)
        self._call_on_loop(lambda: self._notify(event))
        return event

    async def run(self) -> None:
        """Tick until cancelled, or until ``count`` events exist. The lifespan runs this.

        The gaps between events are random (exponentially distributed, a Poisson process)
        with ``rate`` events per second on average, the way independent real events arrive.
        A perfectly regular ticker would lock in step with a client polling at the same
        period, and every poll would see the same delay.
        """
        self._bind()
        while self.count is None or self.last_id < self.count:
            rate = self._rate
            if not rate:  # paused: wait until someone sets a rate
                await self._rate_changed.wait()
                self._rate_changed.clear()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rate_changed.wait(), self._gaps.expovariate(rate))
            if self._rate_changed.is_set():  # a new rate: draw a new gap with it
                self._rate_changed.clear()
                continue
            self.publish()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """A FastAPI lifespan: the ticker runs while the server does."""
        self._bind(force=True)
        task = asyncio.create_task(self.run(), name="ticker")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- plumbing -----------------------------------------------------------------------------

    def _bind(self, force: bool = False) -> None:
        """Attach to the running loop (the server's); a new server gets fresh primitives."""
        loop = asyncio.get_running_loop()
        if force or loop is not self._loop:
            self._loop = loop
            self._changed = asyncio.Event()
            self._rate_changed = asyncio.Event()

    def _notify(self, event: Event) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        if self.on_publish is not None:
            try:
                self.on_publish(event)
            except Exception:  # a faulty hook must not stop the ticker; it shows in the logs
                logging.getLogger("uvicorn.error").exception("ticker.on_publish raised")

    def _call_on_loop(self, callback: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            callback()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                loop.call_soon_threadsafe(callback)


# -- the app --------------------------------------------------------------------------------
