"""Measure the feed: a real client of each transport, for a few seconds, bytes counted on the wire.

:func:`measure_transports` runs the clients one after another and returns :class:`Results`,
a table of :class:`TransportRun`: latency from an event's creation to its arrival,
requests, bytes per event in each direction, events missed. :func:`sweep` runs short
polling at several intervals side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from ws_lessons.feeds.app import LONG_POLL_HOLD, PATHS, TRANSPORTS
from ws_lessons.feeds.counter import ByteCounter, address
from ws_lessons.i18n import N_, _
from ws_lessons.server import RunningServer
from ws_lessons.stats import percentile
from ws_lessons.stats import progress as progress_bar
from ws_lessons.table import Table

__all__ = ["Results", "TransportRun", "measure_transports", "sweep"]

CLIENT_TIMEOUT = 10.0  # seconds any single client operation may take


@dataclass
class TransportRun:
    """What one client of one transport saw during one measurement."""

    transport: str  # a key of TRANSPORTS
    seconds: float  # how long the client ran
    ids: list[int] = field(default_factory=list)  # event ids, in the order they arrived
    latencies: list[float] = field(default_factory=list)  # seconds, same order as ids
    requests: int = 0  # HTTP requests made (a WebSocket's handshake is one)
    empty: int = 0  # responses that carried no event
    bytes_up: int = 0  # client → server, counted on the wire
    bytes_down: int = 0  # server → client, counted on the wire
    connections: int = 0  # TCP connections opened
    first_expected: int | None = None  # the first id the client should get, when known
    interval: float | None = None  # short polling: seconds between polls
    compression: str | None = "deflate"  # WebSocket: the client's offer (None: none)

    @property
    def name(self) -> str:
        name = TRANSPORTS.get(self.transport, self.transport)
        if self.interval is not None:
            name += f" every {self.interval * 1000:g} ms"
        if self.transport == "ws" and self.compression is None:
            name += ", uncompressed"
        return name

    @property
    def events(self) -> int:
        """Distinct events received."""
        return len(set(self.ids))

    @property
    def missed(self) -> int:
        """Events lost for good: never received although a later one was."""
        if not self.ids:
            return 0
        first = self.first_expected if self.first_expected is not None else min(self.ids)
        return len(set(range(first, max(self.ids) + 1)) - set(self.ids))

    @property
    def duplicates(self) -> int:
        return len(self.ids) - self.events

    @property
    def out_of_order(self) -> int:
        """Arrivals whose id was not greater than the one before."""
        return sum(1 for before, now in zip(self.ids, self.ids[1:], strict=False) if now <= before)

    @property
    def median_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies, 95) * 1000

    def _per_event(self, count: int) -> float:
        return count / self.events if self.events else math.nan

    @property
    def up_per_event(self) -> float:
        return self._per_event(self.bytes_up)

    @property
    def down_per_event(self) -> float:
        return self._per_event(self.bytes_down)

    @property
    def bytes_per_event(self) -> float:
        return self._per_event(self.bytes_up + self.bytes_down)

    def row(self) -> dict[str, Any]:
        return {
            N_("transport"): self.name,
            N_("events"): self.events,
            N_("missed"): self.missed,
            N_("latency median (ms)"): round(self.median_ms, 1),
            N_("latency p95 (ms)"): round(self.p95_ms, 1),
            N_("requests"): self.requests,
            N_("empty replies"): self.empty,
            N_("bytes/event up"): _whole(self.up_per_event),
            N_("bytes/event down"): _whole(self.down_per_event),
        }


def _whole(value: float) -> float | int:
    return round(value) if math.isfinite(value) else value


class Results(list[TransportRun]):
    """A list of :class:`TransportRun`, shown as a table. ``results["ws"]`` finds a run by
    transport."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for run in self:
                if key in (run.transport, run.name):
                    return run
            raise KeyError(key)
        return super().__getitem__(key)

    @property
    def table(self) -> Table:
        rows = [run.row() for run in self]
        if not rows:
            return Table([N_("transport")], [], note=_("(no runs)"))
        return Table(list(rows[0]), [list(row.values()) for row in rows])

    def __str__(self) -> str:
        return str(self.table)

    __repr__ = __str__  # the plain-text view of a notebook shows the table too

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


class _Client:
    """What every client needs: where to go, when to stop, and where to write down events."""

    def __init__(
        self, run: TransportRun, counter: ByteCounter, deadline: float, last_id: int | None
    ):
        self.run, self.counter, self.deadline, self.last_id = run, counter, deadline, last_id
        # The id to ask "after" next: the newest one received, or the one before the start.
        self.cursor = (run.first_expected or 1) - 1

    def got(self, payload: dict[str, Any]) -> None:
        self.run.latencies.append(time.time() - payload["ts"])
        self.run.ids.append(payload["id"])
        self.cursor = max(self.cursor, payload["id"])

    @property
    def complete(self) -> bool:
        """The run's last event has arrived."""
        return self.last_id is not None and self.cursor >= self.last_id

    @property
    def done(self) -> bool:
        return self.complete or time.monotonic() >= self.deadline


async def _short_poll(client: _Client, http: httpx.AsyncClient, interval: float) -> None:
    """Poll every ``interval``, the first time one interval after the start: one poll per interval.

    Every poll then covers one whole interval, so an event waits half of one on average;
    a last poll cut short by the end of the run would make the figures look better.
    """
    polls = max(1, round(client.run.seconds / interval))  # the run's length, in intervals
    next_at = time.monotonic()
    for _poll in range(polls):
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))  # the polling interval
        client.run.requests += 1
        response = await http.get(PATHS["poll"], params={"after": client.cursor})
        response.raise_for_status()
        events = response.json()
        client.run.empty += not events
        for payload in events:
            client.got(payload)
        if client.complete:
            return


async def _long_poll(client: _Client, http: httpx.AsyncClient, interval: float) -> None:
    while not client.done:
        # Ask the server to hold the request no longer than the run has left.
        hold = round(min(LONG_POLL_HOLD, max(client.deadline - time.monotonic(), 0.01)), 3)
        client.run.requests += 1
        response = await http.get(
            PATHS["long-poll"], params={"after": client.cursor, "timeout": hold}
        )
        response.raise_for_status()
        events = response.json()
        client.run.empty += not events
        for payload in events:
            client.got(payload)


async def _sse(client: _Client, http: httpx.AsyncClient, interval: float) -> None:
    headers = {}
    if client.run.first_expected is not None:
        headers["Last-Event-ID"] = str(client.run.first_expected - 1)
    client.run.requests += 1
    async with aconnect_sse(http, "GET", PATHS["sse"], headers=headers) as source:
        source.response.raise_for_status()
        async for message in source.aiter_sse():
            client.got(json.loads(message.data))
            if client.done:
                break


async def _ws(client: _Client, http: httpx.AsyncClient, interval: float) -> None:
    path = PATHS["ws"]
    if client.run.first_expected is not None:
        path += f"?after={client.run.first_expected - 1}"
    client.run.requests += 1
    async with ws_connect(
        client.counter.ws_url(path),
        compression=client.run.compression,
        open_timeout=CLIENT_TIMEOUT,
        close_timeout=CLIENT_TIMEOUT,
    ) as websocket:
        async for message in websocket:
            client.got(json.loads(message))
            if client.done:
                break


_CLIENTS = {"poll": _short_poll, "long-poll": _long_poll, "sse": _sse, "ws": _ws}


async def _cursor(base_url: str, transport: str) -> int | None:
    """Where "now" is in the feed, for the polling clients (not counted)."""
    if transport not in ("poll", "long-poll"):
        return None  # a stream starts from now on its own
    params: dict[str, Any] = {"after": 0}
    if transport == "long-poll":
        params["timeout"] = 0.05  # answer at once even if the feed has no event yet
    async with httpx.AsyncClient(base_url=base_url, timeout=CLIENT_TIMEOUT) as http:
        response = await http.get(PATHS[transport], params=params)
    if response.status_code != 200:
        raise RuntimeError(
            f"GET {PATHS[transport]} answered {response.status_code}: "
            "does the server have that route?"
        )
    return max((payload["id"] for payload in response.json()), default=0)


async def _measure_one(
    target: Any,
    transport: str,
    seconds: float,
    *,
    interval: float = 0.25,
    after: int | None = None,
    last_id: int | None = None,
    compression: str | None = "deflate",
) -> TransportRun:
    if transport not in _CLIENTS:
        raise ValueError(f"unknown transport {transport!r}; choose from {list(TRANSPORTS)}")
    host, port = address(target)
    base_url = f"http://{host}:{port}"
    run = TransportRun(
        transport,
        seconds,
        interval=interval if transport == "poll" else None,
        compression=compression if transport == "ws" else None,
    )
    start = after if after is not None else await _cursor(base_url, transport)
    run.first_expected = None if start is None else start + 1
    counter = ByteCounter((host, port))
    try:
        started = time.monotonic()
        client = _Client(run, counter, started + seconds, last_id)
        async with httpx.AsyncClient(base_url=counter.url, timeout=CLIENT_TIMEOUT) as http:
            with contextlib.suppress(TimeoutError):
                # A stream waits for its next event: stop it when the time is up. The
                # extra second lets a poll in flight at the deadline come back.
                grace = 0 if transport in ("sse", "ws") else 1.0
                async with asyncio.timeout(seconds + grace):
                    try:
                        await _CLIENTS[transport](client, http, interval)
                    except (httpx.HTTPStatusError, InvalidStatus) as exc:
                        status = getattr(exc, "response", None)
                        code = getattr(status, "status_code", "an error")
                        raise RuntimeError(
                            f"the {TRANSPORTS[transport]} client got HTTP {code} at "
                            f"{PATHS[transport]}: does the server have that route?"
                        ) from None
        run.seconds = time.monotonic() - started
    finally:
        await asyncio.to_thread(counter.stop)  # waits for the connections to finish
    run.bytes_up, run.bytes_down, run.connections = counter.up, counter.down, counter.connections
    return run


@contextlib.asynccontextmanager
async def _progress(bar: Any, offset: float, seconds: float) -> AsyncIterator[None]:
    """Move ``bar`` from ``offset`` to ``offset + seconds`` as the time of one run passes."""

    async def tick() -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(0.1)
            bar.n = round(offset + min(time.monotonic() - started, seconds), 1)
            bar.refresh()

    ticking = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking
        bar.n = round(offset + seconds, 1)
        bar.refresh()


async def measure_transports(
    server: RunningServer | str,
    transports: Iterable[str] = tuple(TRANSPORTS),
    *,
    seconds: float = 2.0,
    interval: float = 0.25,
    after: int | None = None,
    last_id: int | None = None,
    compression: str | None = "deflate",
    progress: bool = True,
) -> Results:
    """Run a real client of each transport against ``server`` for ``seconds``, one after another.

    ``server`` must serve the paths of :func:`~ws_lessons.feeds.feed_app` for the
    transports asked for. Each client goes through its own :class:`ByteCounter`. Short
    polling asks every ``interval`` seconds. By default the clients start from the feed's
    newest event; ``after=0`` asks for everything the server remembers instead, and
    ``last_id`` ends a run as soon as that event has arrived. The WebSocket client offers
    permessage-deflate, as browsers do; ``compression=None`` makes it offer nothing.
    """
    chosen = list(transports)
    runs = Results()
    total = round(seconds * len(chosen), 1)
    with progress_bar(total=total, unit="s", leave=False, disable=not progress) as bar:
        for index, transport in enumerate(chosen):
            bar.set_description(TRANSPORTS.get(transport, transport))
            async with _progress(bar, index * seconds, seconds):
                runs.append(
                    await _measure_one(
                        server,
                        transport,
                        seconds,
                        interval=interval,
                        after=after,
                        last_id=last_id,
                        compression=compression,
                    )
                )
    return runs


async def sweep(
    server: RunningServer | str,
    intervals: Iterable[float] = (0.05, 0.1, 0.25, 0.5, 1.0),
    *,
    polls: int = 10,
    progress: bool = True,
) -> Results:
    """Short polling at each of ``intervals`` (seconds), all at the same time and for as long.

    The clients run side by side, each through its own :class:`ByteCounter`, for ``polls``
    times the longest interval: the longest gets ``polls`` polls, a shorter one more. Each
    point then rests on many events, and no short interval is judged on its first few
    polls alone, which pay for opening a connection.
    """
    chosen = list(intervals)
    if polls < 1:
        raise ValueError(f"polls must be at least 1, not {polls}")
    longest = polls * max(chosen)
    with progress_bar(total=round(longest, 1), unit="s", leave=False, disable=not progress) as bar:
        bar.set_description(f"short polling at {len(chosen)} intervals")
        async with _progress(bar, 0, longest):
            runs = await asyncio.gather(
                *(_measure_one(server, "poll", longest, interval=every) for every in chosen)
            )
    return Results(sorted(runs, key=lambda run: run.interval or 0))
