"""Measure chat fan-out: many clients spread over server processes, one room, real sockets.

:func:`measure_load` connects ``clients`` chat clients to the given servers (round robin), has
a client of the first server say ``messages`` things, and records when each member
receives each message. Latency is receipt time minus send time on this machine's clock,
grouped by whether the receiver sits on the sender's server ("same process") or on
another one ("cross process").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from websockets.asyncio.client import ClientConnection, connect

from ws_lessons.chat.models import Said, Welcome, decode, say
from ws_lessons.i18n import N_
from ws_lessons.stats import percentile
from ws_lessons.stats import progress as progress_bar
from ws_lessons.table import Table

__all__ = ["LoadResult", "measure_load"]
if TYPE_CHECKING:
    from matplotlib.axes import Axes

SAME, CROSS = "same process", "cross process"


@dataclass
class LoadResult:
    clients: int
    messages: int
    elapsed: float
    """Seconds from the first message sent to the last delivery."""
    latencies: dict[str, list[float]] = field(default_factory=dict)
    """Group → delivery latencies in seconds."""
    missing: int = 0
    """Deliveries that never arrived (clients x messages - delivered)."""

    @property
    def deliveries(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    @property
    def rate(self) -> float:
        """Deliveries per second."""
        return self.deliveries / self.elapsed if self.elapsed else 0.0

    def ms(self, group: str, percent: int) -> float:
        """The ``percent``-th percentile of the group's latencies, in milliseconds."""
        return percentile(self.latencies.get(group, []), percent) * 1e3

    @property
    def table(self) -> Table:
        rows = [
            (group, len(values), self.ms(group, 50), self.ms(group, 99))
            for group, values in self.latencies.items()
        ]
        summary = (
            f"{self.clients} clients, {self.messages} messages: {self.deliveries:,} deliveries "
            f"in {self.elapsed:.2f} s = {self.rate:,.0f}/s, {self.missing} missing"
        )
        return Table(
            [N_("receiver"), N_("deliveries"), N_("p50 ms"), N_("p99 ms")], rows, note=summary
        )

    def __str__(self) -> str:
        return str(self.table)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.table._repr_html_()

    def plot(self, ax: Axes | None = None, label: str = "") -> Axes:
        """Latency distribution per group (matplotlib), on ``ax`` if given; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        for group, values in self.latencies.items():
            name = (
                group if not label else label if len(self.latencies) == 1 else f"{label}, {group}"
            )
            ax.hist([value * 1e3 for value in values], bins=40, alpha=0.5, label=name)
        ax.set_xlabel("delivery latency (ms)")
        ax.set_ylabel("deliveries")
        ax.legend()
        return ax


async def _token(http: httpx.AsyncClient, base: str, user: str) -> str:
    response = await http.post(f"{base}/token", json={"user": user})
    response.raise_for_status()
    return response.json()["token"]


async def _join(ws_base: str, room: str, token: str) -> ClientConnection:
    ws = await connect(f"{ws_base}/ws/{room}?token={token}", max_queue=None)
    while not isinstance(decode(await ws.recv()), Welcome):
        pass
    return ws


async def measure_load(
    servers: Sequence[str],
    *,
    clients: int = 100,
    messages: int = 50,
    room: str = "load",
    interval: float = 0.0,
    timeout: float = 30.0,
    progress: bool = True,
) -> LoadResult:
    """Fan ``messages`` out to ``clients`` connected over ``servers`` (their http:// URLs).

    The servers must share a secret, and a broker for cross-process delivery. Every
    client is the same user, so that joining sends no "joined" to the others: the servers
    must allow that many connections per user (``serve chat --max-connections``). The
    sender is client 0, on ``servers[0]``; it sends a message every ``interval`` seconds
    (0: as fast as it can), so the rate limit must allow that too (``--rate``, ``--burst``).
    """
    ws_bases = [server.replace("http://", "ws://", 1) for server in servers]
    sockets: list[ClientConnection] = []
    try:
        bar = progress_bar(total=clients, desc="connecting", unit="client", disable=not progress)
        async with httpx.AsyncClient(timeout=timeout) as http:
            token = await _token(http, servers[0], "loadtest")
        for index in range(clients):
            sockets.append(await _join(ws_bases[index % len(ws_bases)], room, token))
            bar.update()
        bar.close()
        group = [SAME if index % len(ws_bases) == 0 else CROSS for index in range(clients)]
        sent: dict[str, float] = {}
        latencies: dict[str, list[float]] = {SAME: [], CROSS: []}
        wanted = clients * messages
        bar = progress_bar(total=wanted, desc="deliveries", unit="msg", disable=not progress)

        async def receive(index: int) -> None:
            ws = sockets[index]
            for _ in range(messages):
                while not isinstance(message := decode(await ws.recv()), Said):
                    pass
                latencies[group[index]].append(time.perf_counter() - sent[message.text])
                bar.update()

        readers = [asyncio.create_task(receive(index)) for index in range(clients)]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                for number in range(messages):
                    text = f"m{number}"
                    sent[text] = time.perf_counter()
                    await sockets[0].send(say(text))
                    await asyncio.sleep(interval)
                await asyncio.gather(*readers)
        except TimeoutError:
            pass
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            bar.close()
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    result = LoadResult(clients, messages, elapsed, {k: v for k, v in latencies.items() if v})
    result.missing = wanted - result.deliveries
    return result
