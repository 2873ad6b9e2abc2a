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
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

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

    from websockets.asyncio import server as websockets_server
    from websockets.asyncio.server import serve as websockets_serve

    from ws_lessons import autobahn, scratch

    if autobahn.wstest() is None:
        return [f"autobahn 9.*: skipped, {autobahn.HOW_TO_GET_IT}"]
    fastapi_server = serve(echo_app(), name="bench autobahn")

    async def start() -> tuple[websockets_server.Server, asyncio.Server]:
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
            cast(float, entry["duration"])  # milliseconds, a JSON number
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
SAFE_AND_FAST = 0.95
"""Without a stall, the hub should deliver at least this share of the naive loop's rate."""
ROUNDS = 3
SAFETY = "safety costs no speed: without a stall the hub delivers as fast as the naive loop "
SAFETY += f"(median of {ROUNDS} paired runs), hub / naive"
LABELS_BROADCAST = {
    "hub": "hub (an outbox per client)",
    "naive": "naive (a loop of sends)",
    "websockets": "websockets broadcast()",
    "websockets+deflate": "  the same, permessage-deflate",
}


def bench_broadcast(clients: int) -> list[str]:
    """Broadcast fan-out to ``clients`` connections: the chat's hub against the naive
    connection manager, each without and with one client that stopped reading, and against
    the ``broadcast()`` of a plain ``websockets`` server."""
    from ws_lessons.fanout import measure_broadcast

    bar = progress(total=4 * ROUNDS + 2, desc="broadcast", unit="run", leave=False)
    report = measure_broadcast(clients, rounds=ROUNDS, progress=bar)
    bar.close()
    hub = report.run("hub", False)
    lines = [
        f"broadcast fan-out to {clients} clients: {report.messages} messages of "
        f"~{round(hub.message_bytes)} bytes; hub and naive with permessage-deflate (uvicorn's "
        f"default); median of {ROUNDS} rounds, the systems taking turns in each",
        "  deliveries/s counted at the clients (a second process); CPU: the server thread's "
        "time per delivery",
    ]
    for system in LABELS_BROADCAST:
        run = report.run(system, False)
        cpu = statistics.median(run.cpu_per_delivery for run in report.rounds(system))
        line = (
            f"  {LABELS_BROADCAST[system]:<30} no stall {run.rate:9,.0f}/s   "
            f"CPU {cpu * 1e6:5.1f} µs"
        )
        if report.rounds(system, True):
            stalled = report.run(system, True)
            fate = "dropped" if stalled.dropped else "still held"
            line += (
                f"   one stalled client {stalled.rate:9,.0f}/s ({stalled.delivered:,} of "
                f"{stalled.expected:,} in {stalled.seconds:.1f} s; stalled client {fate})"
            )
        if system in report.after_stall:
            line += f"; right after, without it {report.after_stall[system].rate:,.0f}/s"
        lines.append(line)
    lines.append(f"  paired ratios, median of {ROUNDS} rounds (rate; server CPU per delivery):")
    for base in ("naive", "websockets", "websockets+deflate"):
        lines.append(
            f"    hub / {base:<19} {report.ratio('hub', base):5.2f}x   "
            f"CPU {report.cpu_ratio('hub', base):5.2f}x"
        )
    hub_ratio, naive_ratio = report.stall_share("hub"), report.stall_share("naive")
    targets = [
        Target(f"hub deliveries to {clients} clients", hub.rate, 20_000, "/s", True),
        Target(SAFETY, report.ratio("hub", "naive"), SAFE_AND_FAST, "x", True),
        Target(
            "hub with a stalled client, share of its rate in a run right after",
            100 * hub_ratio,
            90,
            "%",
            True,
        ),
        Target("naive with a stalled client, share of its rate", 100 * naive_ratio, 10, "%"),
        Target(
            f"stretch goal, hub deliveries to {clients} clients", hub.rate, STRETCH_RATE, "/s", True
        ),
    ]
    lines += [f"  {target}" for target in targets]
    lines.append("  memory per idle connection (tracemalloc: Python heap, not kernel buffers)")
    for memory in report.memory:
        lines.append(
            f"    {memory.system:<6} server {memory.server_per_connection / 1024:5.1f} KiB "
            f"(deflate {memory.server_deflate_bytes / memory.connections / 1024:4.1f})   "
            f"client {memory.client_per_connection / 1024:5.1f} KiB "
            f"(deflate {memory.client_deflate_bytes / memory.connections / 1024:4.1f})"
        )
    return lines


LADDER = (1000, 3000, 10000)
ANCHOR = "https://websockets.readthedocs.io/en/stable/topics/memory.html"


def bench_connections(largest: int) -> list[str]:
    """Idle connections to the reference chat, 1,000 then 3,000 then up to ``largest``: the
    server's memory per connection, the time to connect, the time for a message to reach
    everyone; with and without permessage-deflate, in one room and in 100."""
    from ws_lessons.capacity import measure_connections

    counts = (*(count for count in LADDER if count < largest), largest)
    rooms = (1, min(100, max(2, largest // 10)))  # 100 rooms, or fewer for a small run
    bar = progress(total=len(counts) * len(rooms) * 2, desc="connections", unit="run", leave=False)
    results, limit = measure_connections(counts, rooms, progress=bar)
    bar.close()
    if limit.soft is None:
        files = "open files: no per-process limit on this system"
    else:
        files = f"open files: soft limit {limit.soft}, hard {limit.hard}, needed {limit.needed}"
        if not limit.enough:
            files += " (cannot raise it further: the largest counts fail; see ulimit -n)"
    lines = [
        "idle connections to the reference chat, one server process (clients in a second "
        f"process); {files}",
        f"  {'connections':>11} {'rooms':>5} {'deflate':>7}  {'RSS/conn':>9}  "
        f"{'connect all':>11}  {'one message to all':>18}",
    ]
    for result in results:
        state = "" if result.held else f"   FAILED: {result.problem}"
        lines.append(
            f"  {result.connections:>11,} {result.rooms:>5} {'on' if result.deflate else 'off':>7}"
            f"  {result.per_connection / 1024:>5.1f} KiB  {result.connect_seconds:>9.2f} s"
            f"  {result.reach_seconds * 1e3:>15.1f} ms{state}"
        )
    lines.append(
        f"  anchor, the websockets documentation ({ANCHOR}): about 64 KiB per connection "
        "with compression, 14 KiB without"
    )
    held = [result for result in results if result.held]
    first, last = counts[0], max((result.connections for result in held), default=0)
    if last > first:
        lines.append(f"  growth from {first:,} to {last:,} connections ({last // first}x as many):")
        for room_count in rooms:
            for deflate in (True, False):
                pair = [
                    next(r for r in held if (r.connections, r.rooms, r.deflate) == key)
                    for key in ((first, room_count, deflate), (last, room_count, deflate))
                ]
                lines.append(
                    f"    {room_count:>3} room(s), deflate {'on ' if deflate else 'off'}: "
                    f"RSS/conn {pair[1].per_connection / pair[0].per_connection:4.2f}x   "
                    f"connect {pair[1].connect_seconds / pair[0].connect_seconds:5.1f}x   "
                    f"one message {pair[1].reach_seconds / pair[0].reach_seconds:5.1f}x"
                )
    everything = all(r.held for r in results if r.connections == last)
    lines.append(
        f"  the largest count this machine held ({os.cpu_count()} cores): {last:,}"
        + (" (the largest tried)" if everything and last == counts[-1] else "")
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

    from ws_lessons.classroom.models import Outcome, Verdict
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
            outcomes: list[Outcome] = ["passed", "failed", "failed", "skipped"]
            outcome = random.choice(outcomes)
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
    "connections": bench_connections,
}
CYCLES = {
    "server": 100,
    "echo": 2000,
    "broadcast": 1000,
    "redis": 500,
    "autobahn": 1,
    "classroom": 300,
    "servers": 1000,
    "connections": 10_000,
}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(SUITES)}")
        return 2
    for name in names or list(SUITES):
        print("\n".join(SUITES[name](CYCLES[name])))
    return 0
