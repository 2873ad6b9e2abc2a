"""Benchmarks, reported as ratios against a baseline measured in the same run.

``python -m ws_lessons bench`` runs them all; ``python -m ws_lessons bench server`` one.
Machines are noisy: compare the ratios, not the raw numbers, between machines.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from collections.abc import Callable

from fastapi import FastAPI
from tqdm import tqdm

from ws_lessons.server import serve

Suite = Callable[[int], list[str]]


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1


def _bare_asyncio_cycle() -> tuple[float, float]:
    """Baseline: a thread running its own loop with a plain asyncio server, started and stopped."""
    started = time.perf_counter()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    listen = asyncio.start_server(lambda reader, writer: writer.close(), "127.0.0.1", 0)
    server = asyncio.run_coroutine_threadsafe(listen, loop).result()
    start = time.perf_counter() - started

    async def close() -> None:
        server.close()
        await server.wait_closed()

    started = time.perf_counter()
    asyncio.run_coroutine_threadsafe(close(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()
    return start, time.perf_counter() - started


def bench_server(cycles: int) -> list[str]:
    """Start-to-accepting and stop times of ``serve()``, against a bare asyncio server."""
    app = FastAPI()
    ours: tuple[list[float], list[float]] = ([], [])
    bare: tuple[list[float], list[float]] = ([], [])
    progress = tqdm(range(cycles), desc="server start/stop", unit="cycle", leave=False)
    threads, descriptors = threading.active_count(), _open_descriptors()  # after tqdm's own thread
    for _ in progress:
        started = time.perf_counter()
        server = serve(app, name="bench")
        ours[0].append(time.perf_counter() - started)
        started = time.perf_counter()
        server.stop()
        ours[1].append(time.perf_counter() - started)
        start, stop = _bare_asyncio_cycle()
        bare[0].append(start)
        bare[1].append(stop)
    leaked_threads = threading.active_count() - threads
    leaked_fds = _open_descriptors() - descriptors
    lines = [f"server start/stop, {cycles} cycles (median)"]
    for label, index, target in (("start", 0, 50), ("stop", 1, 100)):
        mine, base = _median_ms(ours[index]), _median_ms(bare[index])
        verdict = "meets" if mine < target else "MISSES"
        lines.append(
            f"  {label:<5} serve(): {mine:7.2f} ms   bare asyncio: {base:6.2f} ms   "
            f"ratio {mine / base:5.1f}x   target < {target} ms: {verdict}"
        )
    lines.append(f"  left behind: {leaked_threads} threads, {leaked_fds} file descriptors")
    return lines


SUITES: dict[str, Suite] = {"server": bench_server}
CYCLES = {"server": 100}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(SUITES)}")
        return 2
    for name in names or list(SUITES):
        print("\n".join(SUITES[name](CYCLES[name])))
    return 0
