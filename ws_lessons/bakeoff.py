"""The same app on uvicorn, Hypercorn and Granian, measured in one run, as ratios to uvicorn.

:func:`echo_round_trips` times sequential echo round trips against each server in turn,
in interleaved blocks so that a noisy moment hurts every server alike.
:func:`broadcast_rates` serves the course's chat on each server and times a broadcast to
``clients`` connections held by a second process (the machinery of
:mod:`ws_lessons.fanout`). :func:`autobahn_verdicts` runs Autobahn|Testsuite against
each server's echo. ``python -m ws_lessons bench servers`` prints all three.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ws_lessons.i18n import N_
from ws_lessons.server import serve
from ws_lessons.server.background import Background
from ws_lessons.servers import serve_granian, serve_hypercorn
from ws_lessons.stats import percentile
from ws_lessons.table import Table

__all__ = ["SERVERS", "autobahn_verdicts", "bench_servers", "broadcast_rates", "echo_round_trips"]

SERVERS: dict[str, Callable[..., Background]] = {
    "uvicorn": serve,
    "Hypercorn": serve_hypercorn,
    "Granian": serve_granian,
}
BASELINE = "uvicorn"


@contextlib.contextmanager
def _serving(app_factory: Callable[[], Any], **options: Any) -> Iterator[dict[str, Any]]:
    """Serve a fresh app from ``app_factory`` on each server; stop them all at the end."""
    servers: dict[str, Any] = {}
    try:
        for label, start in SERVERS.items():
            extra = options if start is serve else {}
            servers[label] = start(app_factory(), name=f"bake-off {label}", **extra)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@dataclass(frozen=True)
class Result:
    """One figure per server, and which way is better."""

    what: str
    unit: str
    values: dict[str, float]
    higher_is_better: bool
    clients: int = 0

    @property
    def title(self) -> str:
        """What was measured, in the learner's language."""
        from ws_lessons.i18n import _

        return _(self.what).format(clients=self.clients)

    def ratio(self, label: str) -> float:
        base = self.values[BASELINE]
        return self.values[label] / base if base else float("nan")


def echo_round_trips(round_trips: int = 400, blocks: int = 8) -> Result:
    """Median echo round trip (µs) of a 32-byte text message, sequential, per server."""
    from websockets.asyncio.client import connect

    from ws_lessons.apps import echo_app

    samples: dict[str, list[float]] = {label: [] for label in SERVERS}
    with _serving(echo_app) as servers:

        async def time_echoes() -> None:
            async with contextlib.AsyncExitStack() as stack:
                sockets = {
                    label: await stack.enter_async_context(
                        connect(server.ws_url("/"), compression=None, ping_interval=None)
                    )
                    for label, server in servers.items()
                }
                message = "x" * 32
                for ws in sockets.values():  # warm up
                    for _ in range(20):
                        await ws.send(message)
                        await ws.recv()
                per_block = max(1, round_trips // blocks)
                for _ in range(blocks):
                    for label, ws in sockets.items():
                        for _ in range(per_block):
                            started = time.perf_counter()
                            await ws.send(message)
                            await ws.recv()
                            samples[label].append(time.perf_counter() - started)

        # A thread of its own: the caller (a notebook cell) may already run an event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, time_echoes()).result()
    medians = {label: percentile(values, 50) * 1e6 for label, values in samples.items()}
    return Result(N_("echo round trip, median"), "µs", medians, higher_is_better=False)


def broadcast_rates(clients: int = 1000, messages: int = 60) -> Result:
    """Deliveries per second of the course's chat broadcasting to ``clients`` connections.

    The clients live in a second process (:mod:`ws_lessons.fanout`'s), so that the server
    has a CPU of its own; the same process serves every server in turn.
    """
    from ws_lessons.chat.models import is_said, say
    from ws_lessons.fanout import ClientProcess, raise_open_file_limit

    raise_open_file_limit(2 * clients + 256)
    frames = [say(f"message {n}") for n in range(messages)]
    rates: dict[str, float] = {}
    with ClientProcess(clients) as client_process:
        for label, start in SERVERS.items():
            app, path = _broadcasting_chat(clients)
            extra = {"timeout_graceful_shutdown": 1} if start is serve else {}
            server = start(app, name=f"bake-off {label}", **extra)
            try:
                client_process.ask("publisher", label, server.ws_url(path("publisher")), is_said)
                urls = [server.ws_url(path("listener")) for _ in range(2, clients + 1)]
                client_process.ask("connect", label, urls, is_said, False)
                server.run(_all_joined(app, clients))
                delivered, seconds, timed_out, *_ = client_process.ask(
                    "publish", label, frames, 60.0, takes=60.0
                )
            finally:
                client_process.ask("reset")
                server.stop()
            rates[label] = 0.0 if timed_out or not seconds else delivered / seconds
    what = N_("broadcast to {clients} clients")
    return Result(what, N_("deliveries/s"), rates, higher_is_better=True, clients=clients)


def _broadcasting_chat(clients: int) -> tuple[Any, Callable[[str], str]]:
    """The reference chat set up as ``bench broadcast`` sets it up, and each role's path.

    Every listener logs in as one user (many tabs), so that joining broadcasts nothing:
    what is timed is the fan-out of ``said`` messages. The publisher is the only sender.
    """
    from ws_lessons.chat import create_app, tokens
    from ws_lessons.fanout import ROOM

    secret = "bake-off"
    app = create_app(secret=secret, rate=1e9, burst=10**9, max_connections=clients)
    issued = {role: tokens.issue(role, secret) for role in ("publisher", "listener")}
    return app, lambda role: f"/ws/{ROOM}?token={issued[role]}"


async def _all_joined(app: Any, clients: int) -> None:
    """Wait, on the server's loop, until every client has joined the room."""
    from ws_lessons.fanout import ROOM

    async with asyncio.timeout(10):
        while len(app.state.hub.rooms.get(ROOM, ())) < clients:
            await asyncio.sleep(0.01)


def autobahn_verdicts(cases: list[str]) -> dict[str, str] | None:
    """Autobahn|Testsuite's summary per server for ``cases``; None if the suite is missing."""
    from ws_lessons import autobahn
    from ws_lessons.apps import echo_app
    from ws_lessons.i18n import _

    if autobahn.wstest() is None:
        return None
    with _serving(echo_app) as servers:
        report = autobahn.run({label: s.ws_url("/") for label, s in servers.items()}, cases)
    summary = {}
    for label in servers:
        failed = report.failed(label)
        counts = report.counts(label)
        passed = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
        cut = _("; failed: {cases}").format(cases=" ".join(failed[:5]))
        summary[label] = passed + (cut if failed else "")
    return summary


def table(results: list[Result]) -> Table:
    """One row per figure: each server's value and its ratio to uvicorn."""
    from ws_lessons.i18n import _

    header = [N_("measured"), *[label for label in SERVERS], N_("ratios to uvicorn")]
    rows = []
    for result in results:
        what = result.title
        values = [round(result.values[label], 1) for label in SERVERS]
        ratios = "  ".join(f"{label} {result.ratio(label):.2f}x" for label in SERVERS)
        rows.append([f"{what} ({_(result.unit)})", *values, ratios])
    return Table(header, rows)


def bench_servers(clients: int) -> list[str]:
    """The bake-off of ``python -m ws_lessons bench servers``: echo, broadcast, Autobahn."""
    from ws_lessons import autobahn

    results = [echo_round_trips(round_trips=max(200, clients * 2)), broadcast_rates(clients)]
    lines = [
        f"the same app on {', '.join(SERVERS)}: ratios against {BASELINE} in the same run "
        "(echo: lower is better; broadcast: higher is better)",
        *str(table(results)).splitlines(),
    ]
    cases = list(autobahn.ALL_CASES) if clients >= 1000 else ["1.*", "2.*", "5.*", "7.1.*"]
    verdicts = autobahn_verdicts(cases)
    if verdicts is None:
        lines.append(f"Autobahn|Testsuite: skipped, {autobahn.HOW_TO_GET_IT}")
    else:
        lines.append(f"Autobahn|Testsuite {' '.join(cases)}:")
        lines += [f"  {label:<10} {summary}" for label, summary in verdicts.items()]
    return lines
