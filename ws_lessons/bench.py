"""Benchmarks, reported as ratios against a baseline measured in the same run.

``python -m ws_lessons bench`` runs them all; ``python -m ws_lessons bench server`` one.
Machines are noisy: compare the ratios, not the raw numbers, between machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, WebSocket
from websockets.exceptions import ConnectionClosed

from ws_lessons.measure import Target, percentile, progress
from ws_lessons.proxies import LOOPBACK
from ws_lessons.server import serve

Suite = Callable[[int], list[str]]
LABELS = {
    "tcp": "raw asyncio TCP echo",
    "websockets": "bare websockets server",
    "fastapi": "FastAPI endpoint, serve()",
    "scratch": "from-scratch server",
}


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1


def _bare_asyncio_cycle() -> tuple[float, float]:
    """Baseline: a thread running its own loop with a plain asyncio server, started and stopped."""
    started = time.perf_counter()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    listen = asyncio.start_server(lambda reader, writer: writer.close(), LOOPBACK, 0)
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
    bar = progress(range(cycles), desc="server start/stop", unit="cycle", leave=False)
    threads, descriptors = threading.active_count(), _open_descriptors()  # after tqdm's own thread
    for _ in bar:
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
    targets = []
    for label, index, goal in (("start", 0, 50), ("stop", 1, 100)):
        mine, base = percentile(ours[index], 50) * 1e3, percentile(bare[index], 50) * 1e3
        lines.append(
            f"  {label:<5} serve(): {mine:7.2f} ms   bare asyncio: {base:6.2f} ms   "
            f"ratio {mine / base:5.1f}x"
        )
        targets.append(Target(f"serve() {label}", mine, goal, "ms"))
    lines.append(f"  left behind: {leaked_threads} threads, {leaked_fds} file descriptors")
    return lines + [f"  {target}" for target in targets]


def bench_echo(round_trips: int) -> list[str]:
    """Echo round trips of a FastAPI WebSocket endpoint and of the from-scratch server,
    against a bare websockets server and a raw asyncio TCP echo, all served in this process
    on loopback, one client style."""

    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve as websockets_serve

    from ws_lessons import scratch

    async def tcp_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    # All three servers share one event loop, the one serve() started in its background
    # thread, so they get the same thread scheduling and differ only in their code.
    fastapi_server = serve(echo_app(), name="bench echo")

    async def start() -> tuple[Any, asyncio.Server, asyncio.Server]:
        return (
            await websockets_serve(websockets_echo, LOOPBACK, 0),
            await asyncio.start_server(tcp_echo, LOOPBACK, 0),
            await asyncio.start_server(scratch.handle, LOOPBACK, 0),
        )

    try:
        bare, tcp, from_scratch = fastapi_server.run(start())
    except BaseException:
        fastapi_server.stop()
        raise
    bare_port = bare.sockets[0].getsockname()[1]
    tcp_port = tcp.sockets[0].getsockname()[1]
    scratch_port = from_scratch.sockets[0].getsockname()[1]
    message = "x" * 32
    blocks = 40  # the three alternate in short blocks, so a slow moment hits them all alike
    samples: dict[str, list[float]] = {"tcp": [], "websockets": [], "fastapi": [], "scratch": []}

    async def measure() -> None:
        reader, writer = await asyncio.open_connection(LOOPBACK, tcp_port)

        async def tcp_round_trip() -> None:
            writer.write(message.encode())
            await reader.readexactly(len(message))

        async with (
            connect(f"ws://{LOOPBACK}:{bare_port}/") as bare_ws,
            connect(fastapi_server.ws_url("/")) as fastapi_ws,
            connect(f"ws://{LOOPBACK}:{scratch_port}/") as scratch_ws,
        ):

            def ws_round_trip(ws):  # type: ignore[no-untyped-def]
                async def round_trip() -> None:
                    await ws.send(message)
                    await ws.recv()

                return round_trip

            trips = {
                "tcp": tcp_round_trip,
                "websockets": ws_round_trip(bare_ws),
                "fastapi": ws_round_trip(fastapi_ws),
                "scratch": ws_round_trip(scratch_ws),
            }
            for trip in trips.values():  # warm up
                for _ in range(50):
                    await trip()
            per_block = max(1, round_trips // blocks)
            bar = progress(total=per_block * blocks * 4, desc="echo", unit="trip", leave=False)
            for _ in range(blocks):
                for name, trip in trips.items():
                    for _ in range(per_block):
                        started = time.perf_counter()
                        await trip()
                        samples[name].append(time.perf_counter() - started)
                    bar.update(per_block)
            bar.close()
        writer.close()
        await writer.wait_closed()

    async def close() -> None:
        for server in (bare, tcp, from_scratch):
            server.close()
            await server.wait_closed()

    try:
        asyncio.run(measure())
    finally:
        fastapi_server.run(close())
        fastapi_server.stop()

    medians = {name: percentile(values, 50) for name, values in samples.items()}
    base = medians["websockets"]
    lines = [f"echo round trip, {len(samples['fastapi'])} sequential 32-byte messages each (µs)"]
    for name, median in medians.items():
        p95 = percentile(samples[name], 95)
        lines.append(
            f"  {LABELS[name]:<26} median {median * 1e6:7.1f}   p95 {p95 * 1e6:7.1f}"
            f"   ratio to websockets {median / base:5.2f}x"
        )
    targets = [
        Target("FastAPI / bare websockets", medians["fastapi"] / base, 1.5, "x"),
        Target("from scratch / bare websockets", medians["scratch"] / base, 2, "x"),
    ]
    return lines + [f"  {target}" for target in targets]


def echo_app(path: str = "/") -> FastAPI:
    """Lesson 07's echo at ``path``, for text and binary messages alike."""
    app = FastAPI()

    @app.websocket(path)
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while (message := await websocket.receive())["type"] == "websocket.receive":
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])

    return app


async def websockets_echo(websocket: Any) -> None:
    """The same echo for a bare ``websockets`` server: the baseline of the benchmarks."""
    with contextlib.suppress(ConnectionClosed):
        async for message in websocket:
            await websocket.send(message)


def bench_autobahn(_: int) -> list[str]:
    """Autobahn|Testsuite's 9.* cases (large and fragmented messages, many small ones):
    the time each server takes, the bare websockets server as the baseline."""

    from websockets.asyncio.server import serve as websockets_serve

    from ws_lessons import autobahn, scratch

    if autobahn.wstest() is None:
        return [f"autobahn 9.*: skipped, {autobahn.HOW_TO_GET_IT}"]
    fastapi_server = serve(echo_app(), name="bench autobahn")

    async def start() -> tuple[asyncio.Server, asyncio.Server]:
        return (
            await websockets_serve(websockets_echo, LOOPBACK, 0, max_size=2**25, compression=None),
            await asyncio.start_server(scratch.handle, LOOPBACK, 0),
        )

    bare, from_scratch = fastapi_server.run(start())
    servers = {
        "websockets": f"ws://{LOOPBACK}:{bare.sockets[0].getsockname()[1]}/",
        "scratch": f"ws://{LOOPBACK}:{from_scratch.sockets[0].getsockname()[1]}/",
        "fastapi": fastapi_server.ws_url("/"),
    }
    try:
        report = autobahn.run(servers, ["9.*"])
    finally:

        async def close() -> None:
            for server in (bare, from_scratch):
                server.close()
                await server.wait_closed()

        fastapi_server.run(close())
        fastapi_server.stop()
    # A failed case can end early (a 1009 close, say): time only the cases all passed.
    failed = {case for agent in servers for case in report.failed(agent)}
    seconds = {
        agent: sum(
            float(entry["duration"])  # type: ignore[arg-type]
            for case, entry in cases.items()
            if case not in failed
        )
        / 1000
        for agent, cases in report.results.items()
    }
    base = seconds["websockets"]
    timed = len(report.results["scratch"]) - len(failed)
    lines = [f"Autobahn|Testsuite 9.*: {timed} cases every server passed (seconds, summed)"]
    for agent in servers:
        lines.append(
            f"  {LABELS[agent]:<26} {seconds[agent]:6.2f} s   ratio to websockets "
            f"{seconds[agent] / base:5.2f}x   failed: {', '.join(report.failed(agent)) or 'none'}"
        )
    target = Target("from scratch / bare websockets", seconds["scratch"] / base, 2, "x")
    return [*lines, f"  {target}"]


STRETCH_RATE = 100_000
"""Deliveries per second the hub should reach one day (one process, one core for it)."""
SAFETY = "safety costs nothing: without a stall the hub delivers at least as fast as the naive "
SAFETY += "loop in the same run, hub / naive"


def bench_broadcast(clients: int) -> list[str]:
    """Broadcast fan-out to ``clients`` connections: the chat's hub against the naive
    connection manager, each without and with one client that stopped reading."""
    from ws_lessons.fanout import measure_broadcast

    bar = progress(total=4, desc="broadcast", unit="run", leave=False)
    report = measure_broadcast(clients, progress=bar)
    bar.close()
    hub, hub_stalled = report.run("hub", False), report.run("hub", True)
    naive, naive_stalled = report.run("naive", False), report.run("naive", True)
    size = round(hub.message_bytes)
    lines = [
        f"broadcast fan-out to {clients} clients: {report.messages} messages of ~{size} bytes, "
        "permessage-deflate on (deliveries/s; clients in a second process)"
    ]
    labels = {"hub": "hub (an outbox per client)", "naive": "naive (a loop of sends)"}
    for base, stalled in ((hub, hub_stalled), (naive, naive_stalled)):
        ratio = stalled.rate / base.rate if base.rate else 0.0
        fate = "dropped" if stalled.dropped else "still held"
        lines.append(
            f"  {labels[base.system]:<27} no stall {base.rate:9,.0f}   one stalled client "
            f"{stalled.rate:9,.0f}   ratio {ratio:4.2f}   "
            f"({stalled.delivered:,} of {stalled.expected:,} delivered in {stalled.seconds:.1f} s; "
            f"stalled client {fate})"
        )
    hub_ratio = hub_stalled.rate / hub.rate if hub.rate else 0.0
    naive_ratio = naive_stalled.rate / naive.rate if naive.rate else 0.0
    safety = hub.rate / naive.rate if naive.rate else 0.0
    targets = [
        Target(f"hub deliveries to {clients} clients", hub.rate, 20_000, "/s", True),
        Target(SAFETY, safety, 1, "x", True),
        Target("hub with a stalled client, share of its rate", 100 * hub_ratio, 90, "%", True),
        Target("naive with a stalled client, share of its rate", 100 * naive_ratio, 10, "%"),
    ]
    lines += [f"  {target}" for target in targets]
    lines.append(
        f"  stretch goal: {STRETCH_RATE:,} deliveries/s to {clients} clients, one day: "
        f"{hub.rate:,.0f}/s, ratio {hub.rate / STRETCH_RATE:.2f}"
    )
    lines.append("  memory per idle connection (tracemalloc: Python heap, not kernel buffers)")
    for memory in report.memory:
        lines.append(
            f"    {memory.system:<6} server {memory.server_per_connection / 1024:5.1f} KiB "
            f"(deflate {memory.server_deflate_bytes / memory.connections / 1024:4.1f})   "
            f"client {memory.client_per_connection / 1024:5.1f} KiB "
            f"(deflate {memory.client_deflate_bytes / memory.connections / 1024:4.1f})"
        )
    return lines


def bench_redis(clients: int) -> list[str]:
    """Chat fan-out to ``clients`` spread over two processes that share Redis, beside one
    process with the in-memory broker, in the same run.

    Throughput: a burst of messages, deliveries per second. Latency: messages 20 ms
    apart, p50 and p99 from send to receipt, for receivers on the sender's process and
    on the other one. The clients all run in this process, so their own work is counted.
    """
    from ws_lessons.loadtest import CROSS, SAME, measure
    from ws_lessons.services import ServiceUnavailable, start_chat_worker, start_redis

    try:
        redis_server = start_redis(name="bench redis")
    except ServiceUnavailable as missing:
        return [f"redis fan-out: skipped, {missing}"]
    loose = ["--rate", "1e6", "--burst", "1000000", "--max-connections", str(clients + 1)]
    secret = "bench"
    with (
        redis_server,
        start_chat_worker(secret=secret, options=loose, name="bench single") as single,
        start_chat_worker(secret=secret, options=loose, redis=redis_server.url, name="a") as a,
        start_chat_worker(secret=secret, options=loose, redis=redis_server.url, name="b") as b,
    ):
        runs = {}
        for label, servers in (("one process", [single.url]), ("two + Redis", [a.url, b.url])):
            burst = asyncio.run(measure(servers, clients=clients, messages=40, room="burst"))
            paced = asyncio.run(
                measure(servers, clients=clients, messages=30, interval=0.02, room="paced")
            )
            runs[label] = (burst, paced)
        # The path alone: one client on each process, so client work does not queue up.
        path = asyncio.run(
            measure([a.url, b.url], clients=2, messages=100, interval=0.01, room="path")
        )
    base_rate = runs["one process"][0].rate
    lines = [f"chat fan-out, {clients} clients (deliveries/s in a burst; latency when paced)"]
    for label, (burst, paced) in runs.items():
        groups = [(SAME, "same"), (CROSS, "cross")]
        latency = "  ".join(
            f"{name} p50 {paced.ms(group, 50):5.2f} ms p99 {paced.ms(group, 99):5.2f} ms"
            for group, name in groups
            if group in paced.latencies
        )
        lines.append(
            f"  {label:<12} {burst.rate:9,.0f}/s (ratio {burst.rate / base_rate:4.2f}x, "
            f"{burst.missing + paced.missing} missing)  {latency}"
        )
    shared_burst, shared_paced = runs["two + Redis"]
    lines.append(
        f"  2 clients     same p50 {path.ms(SAME, 50):5.2f} ms  cross p50 "
        f"{path.ms(CROSS, 50):5.2f} ms: the Redis hop without {clients} clients queued behind"
    )
    targets = [
        Target(f"cross-process p50 with {clients} clients", shared_paced.ms(CROSS, 50), 2, "ms"),
        Target("cross-process p50 with 2 clients", path.ms(CROSS, 50), 2, "ms"),
        Target("deliveries over two processes", shared_burst.rate, 10_000, "/s", True),
    ]
    lines += [f"  {target}" for target in targets]
    alone = runs["one process"][1].ms(SAME, 50)
    lines.append(
        f"  (one process with the same {clients} clients: p50 {alone:.2f} ms; the clients "
        f"share this process and the machine's {os.cpu_count()} cores)"
    )
    return lines


def bench_classroom(learners: int, seconds: float = 20.0) -> list[str]:
    """``learners`` kernels report to a class server in its own process, a dashboard watches.

    Each simulated learner is the real reporter (``ws_lessons.classroom.reporter``), checking
    every 2 to 8 seconds: a busy moment of a workshop. Reports the time from a check to the
    dashboard, the server's memory, and that every verdict arrived once.
    """
    import random
    import subprocess
    import sys
    import tempfile

    from websockets.asyncio.client import connect

    from ws_lessons.classroom.models import Verdict
    from ws_lessons.classroom.reporter import Reporter

    folder = tempfile.TemporaryDirectory(prefix="classroom-bench-")
    command = [sys.executable, "-m", "ws_lessons", "classroom", "--port", "0"]
    command += ["--db", str(Path(folder.name) / "class.sqlite3")]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=folder.name
    )
    assert server.stdout is not None
    printed = dict(server.stdout.readline().split(": ", 1) for _ in range(3))
    code = printed["class code"].strip()
    http = printed["dashboard"].strip()
    url = "ws://" + http.split("//", 1)[1].split("/", 1)[0]
    sent: list[int] = []
    seen: dict[int, float] = {}  # seq -> latency in seconds
    shown_twice = 0

    async def dashboard(done: asyncio.Event) -> None:
        nonlocal shown_twice
        watch = url + "/watch?token=" + http.split("token=", 1)[1]
        async with connect(watch, max_size=None) as ws:
            done.set()
            async for frame in ws:
                event = json.loads(frame)
                if event["type"] == "verdict":
                    shown_twice += event["seq"] in seen
                    seen[event["seq"]] = time.time() - event["at"]

    async def learner(reporter: Reporter, until: float) -> None:
        await asyncio.sleep(random.uniform(0, 2))  # a room does not join in the same instant
        runner = asyncio.create_task(reporter.run())
        while time.monotonic() < until:
            await asyncio.sleep(random.uniform(2, 8))
            outcome = random.choice(["passed", "failed", "failed", "skipped"])
            number = f"{random.randint(0, 14):02d}.{random.randint(1, 3)}"
            reporter.submit(
                Verdict(id=uuid.uuid4().hex, exercise=number, outcome=outcome, at=time.time())
            )
            sent.append(1)
        while reporter.pending and time.monotonic() < until + 30:
            await asyncio.sleep(0.1)
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner

    async def main() -> None:
        watching = asyncio.Event()
        watcher = asyncio.create_task(dashboard(watching))
        async with asyncio.timeout(30):
            await asyncio.wait(
                [watcher, asyncio.create_task(watching.wait())], return_when="FIRST_COMPLETED"
            )
        if watcher.done():
            watcher.result()  # it failed: say why
        until = time.monotonic() + seconds
        reporters = [Reporter(url, code, f"learner {n:03d}") for n in range(learners)]
        await asyncio.gather(*(learner(reporter, until) for reporter in reporters))
        deadline = time.monotonic() + 30
        while len(seen) < len(sent) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    try:
        asyncio.run(main())
        memory, peak = _memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
        folder.cleanup()
    latencies = [1000 * value for value in seen.values()]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    lost = len(sent) - len(seen)
    return [
        f"classroom: {learners} learners (a check every 2-8 s each for {seconds:.0f} s) "
        "and a dashboard, the server in its own process",
        f"  verdicts: {len(sent)} sent, {len(seen)} on the dashboard, {lost} lost, "
        f"{shown_twice} shown twice",
        f"  check to dashboard: p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        f"  server memory: {memory:.0f} MB (peak {peak:.0f} MB)",
        f"  {Target('check to dashboard p99', p99, 250, 'ms')}",
    ]


def _memory(pid: int) -> tuple[float, float]:
    """A process's resident memory now and at its peak, in MB (Linux; nan elsewhere)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return math.nan, math.nan
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return tuple(int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def bench_servers(clients: int) -> list[str]:
    """The same app on uvicorn, Hypercorn and Granian: echo, broadcast, Autobahn (lesson 15)."""
    from ws_lessons.bakeoff import bench_servers as bake_off

    return bake_off(clients)


SUITES: dict[str, Suite] = {
    "server": bench_server,
    "echo": bench_echo,
    "broadcast": bench_broadcast,
    "redis": bench_redis,
    "autobahn": bench_autobahn,
    "classroom": bench_classroom,
    "servers": bench_servers,
}
CYCLES = {
    "server": 100,
    "echo": 2000,
    "broadcast": 1000,
    "redis": 500,
    "autobahn": 1,
    "classroom": 300,
    "servers": 1000,
}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(SUITES)}")
        return 2
    for name in names or list(SUITES):
        print("\n".join(SUITES[name](CYCLES[name])))
    return 0
