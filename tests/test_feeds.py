"""The feed served four ways, with real servers and real clients: behaviour, never timings."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect

from ws_lessons import feeds, serve
from ws_lessons.server import RunningServer
from ws_lessons.tap import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Tap

pytestmark = pytest.mark.timeout(60)

TRANSPORTS = list(feeds.TRANSPORTS)
COUNT = 60  # events in a fixed run


@pytest.fixture
def fixed_run() -> Iterator[RunningServer]:
    """A feed that makes exactly COUNT events, quickly, and remembers them all."""
    ticker = feeds.Ticker(rate=400, count=COUNT, keep=COUNT)
    with serve(feeds.feed_app(ticker), name="test feeds fixed") as server:
        yield server


@pytest.fixture
def quiet() -> Iterator[tuple[feeds.Ticker, RunningServer]]:
    """A feed that makes events only when the test publishes them."""
    ticker = feeds.Ticker(rate=None, keep=5)
    with serve(feeds.feed_app(ticker), name="test feeds quiet") as server:
        yield ticker, server


def wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


@pytest.mark.anyio
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_event_arrives_once_and_in_order(
    fixed_run: RunningServer, transport: str
) -> None:
    results = await feeds.measure_transports(
        fixed_run, [transport], seconds=20, after=0, last_id=COUNT, progress=False
    )
    run = results[transport]
    assert run.ids == list(range(1, COUNT + 1))
    assert (run.missed, run.duplicates, run.out_of_order) == (0, 0, 0)
    assert len(run.latencies) == COUNT
    assert all(latency >= 0 for latency in run.latencies)
    assert run.requests >= 1 and run.connections >= 1


@pytest.mark.anyio
async def test_the_websocket_is_measured_with_and_without_compression(
    fixed_run: RunningServer,
) -> None:
    """Lesson 02 compares SSE, which nobody compresses, with an uncompressed WebSocket too."""
    runs = {}
    for compression in ("deflate", None):
        with Tap(fixed_run, name=f"test feeds ws {compression}") as tap:
            results = await feeds.measure_transports(
                tap.url, ["ws"], seconds=20, after=0, last_id=COUNT,
                compression=compression, progress=False,
            )  # fmt: skip
            records = tap.wait_idle().records
        runs[compression] = results["ws"]
        texts = [r.frame for r in records if r.kind == "frame" and r.frame.opcode.name == "TEXT"]
        assert texts and all(frame.rsv1 == (compression is not None) for frame in texts)
    assert runs["deflate"].name == "WebSocket"
    assert runs[None].name == "WebSocket, uncompressed"
    assert runs[None].events == runs["deflate"].events == COUNT
    assert runs[None].down_per_event > runs["deflate"].down_per_event


@pytest.mark.anyio
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_bytes_measured_match_what_a_wire_tap_counts(
    fixed_run: RunningServer, transport: str
) -> None:
    # The measurement's own counter sits in front of the tap: both must see every byte.
    with Tap(fixed_run, name=f"test feeds {transport}") as tap:
        results = await feeds.measure_transports(
            tap.url, [transport], seconds=20, after=0, last_id=COUNT, progress=False
        )
        tap.wait_idle()
        counted = tap.byte_counts
        connections = len({chunk.connection for chunk in tap.chunks})
    run = results[transport]
    assert run.bytes_up > 0 and run.bytes_down > 0
    assert (run.bytes_up, run.bytes_down) == (counted[CLIENT_TO_SERVER], counted[SERVER_TO_CLIENT])
    assert run.connections == connections


def test_the_counter_counts_exactly_what_a_raw_client_sent_and_received() -> None:
    ticker = feeds.Ticker(rate=None)
    with serve(feeds.feed_app(ticker), name="test feeds raw") as server:
        ticker.publish()
        request = b"GET /poll?after=0 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        received = b""
        with (
            feeds.ByteCounter(server) as counter,
            socket.create_connection((counter.host, counter.port), timeout=10) as sock,
        ):
            sock.sendall(request)
            while chunk := sock.recv(65536):  # the server closes after its answer
                received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b'"id":1' in received
    assert (counter.up, counter.down, counter.connections) == (len(request), len(received), 1)


@pytest.mark.anyio
async def test_a_long_poll_is_held_until_an_event_arrives(
    quiet: tuple[feeds.Ticker, RunningServer],
) -> None:
    ticker, server = quiet
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        held = asyncio.create_task(http.get("/long-poll", params={"after": 0, "timeout": 30}))
        await asyncio.sleep(0.3)
        assert not held.done(), "the long poll answered although there was no event"
        event = ticker.publish()  # from this thread, not the server's
        response = await asyncio.wait_for(held, 10)  # far less than the 30 s it may hold
    assert response.status_code == 200
    assert response.json() == [event.as_dict()]


@pytest.mark.anyio
async def test_a_long_poll_answers_at_once_or_empty_after_its_timeout(
    quiet: tuple[feeds.Ticker, RunningServer],
) -> None:
    ticker, server = quiet
    first, second = ticker.publish(), ticker.publish()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        ready = await http.get("/long-poll", params={"after": first.id, "timeout": 30})
        empty = await http.get("/long-poll", params={"after": second.id, "timeout": 0.1})
    assert [event["id"] for event in ready.json()] == [second.id]
    assert empty.status_code == 200 and empty.json() == []


@pytest.mark.anyio
async def test_short_polling_reports_events_that_fell_out_of_the_history(
    quiet: tuple[feeds.Ticker, RunningServer],
) -> None:
    ticker, server = quiet  # it remembers 5 events
    for _ in range(10):
        ticker.publish()
    results = await feeds.measure_transports(
        server, ["poll"], seconds=5, after=0, last_id=10, progress=False
    )
    assert results["poll"].ids == [6, 7, 8, 9, 10]
    assert results["poll"].missed == 5


@pytest.mark.anyio
async def test_sse_resumes_after_last_event_id(
    quiet: tuple[feeds.Ticker, RunningServer],
) -> None:
    ticker, server = quiet
    for _ in range(4):
        ticker.publish()
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        aconnect_sse(http, "GET", "/sse", headers={"Last-Event-ID": "2"}) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        seen = []
        async for message in source.aiter_sse():
            seen.append((message.id, message.json()["id"]))
            if len(seen) == 2:
                break
    assert seen == [("3", 3), ("4", 4)]


@pytest.mark.anyio
async def test_the_websocket_starts_now_or_after_an_id(
    quiet: tuple[feeds.Ticker, RunningServer],
) -> None:
    ticker, server = quiet
    ticker.publish()
    async with connect(server.ws_url("/ws"), open_timeout=10) as live:
        fresh = ticker.publish()
        assert (await asyncio.wait_for(live.recv(), 10)) == (
            f'{{"id":{fresh.id},"ts":{fresh.ts},"price":{fresh.price}}}'
        )
    async with connect(server.ws_url("/ws?after=0"), open_timeout=10) as replay:
        ids = [feeds_id(await asyncio.wait_for(replay.recv(), 10)) for _ in range(2)]
    assert ids == [1, 2]


def feeds_id(message: str | bytes) -> int:
    import json

    return json.loads(message)["id"]


def test_the_ticker_follows_its_rate_changes_from_another_thread(
    quiet: tuple[feeds.Ticker, RunningServer],
) -> None:
    ticker, server = quiet
    assert ticker.last_id == 0
    ticker.rate = 500
    wait_until(lambda: ticker.last_id >= 10)
    ticker.rate = None
    # The change reaches the ticker through the server's loop, in order: once a coroutine
    # sent after it has run there, no event comes any more.
    server.run(asyncio.sleep(0))
    paused_at = ticker.last_id
    time.sleep(0.3)
    assert ticker.last_id == paused_at
    assert [event.id for event in ticker.history] == list(range(paused_at - 4, paused_at + 1))


@pytest.mark.anyio
async def test_sweep_polls_each_interval_for_as_long_and_events_wait_half_of_it() -> None:
    """Every point of the sweep polls for the whole sweep, each poll covering a whole interval:
    the longest interval gets ``polls`` polls, the shorter ones more, so the medians are
    steady enough for the lesson's "about half the interval"."""
    with serve(feeds.feed_app(feeds.Ticker(rate=50)), name="test feeds sweep") as server:
        results = await feeds.sweep(server, [0.1, 0.4], polls=10, progress=False)
    assert [run.interval for run in results] == [0.1, 0.4]
    assert [run.requests for run in results] == [40, 10]
    assert all(run.missed == 0 for run in results)
    for run in results:
        assert 0.25 < run.median_ms / (run.interval * 1000) < 0.75, run.row()
    assert results[1].median_ms > 2 * results[0].median_ms, [run.row() for run in results]


@pytest.mark.anyio
async def test_a_sweep_needs_a_poll() -> None:
    with pytest.raises(ValueError, match="polls must be at least 1"):
        await feeds.sweep("http://127.0.0.1:9", [0.1], polls=0, progress=False)


def test_on_publish_is_called_on_the_servers_loop_even_for_events_published_elsewhere(
    quiet: tuple[feeds.Ticker, RunningServer],
) -> None:
    ticker, server = quiet
    calls: list[tuple[int, bool]] = []

    def hook(event: feeds.Event) -> None:
        calls.append((event.id, asyncio.get_running_loop() is server._loop))

    ticker.on_publish = hook
    first = ticker.publish()  # from this thread
    wait_until(lambda: len(calls) == 1)
    assert calls == [(first.id, True)]


def test_a_hook_that_raises_does_not_stop_the_ticker(
    quiet: tuple[feeds.Ticker, RunningServer],
) -> None:
    ticker, server = quiet

    def broken(event: feeds.Event) -> None:
        raise ValueError("a bug in the hook")

    ticker.on_publish = broken
    ticker.rate = 200
    wait_until(lambda: ticker.last_id >= 5)
    ticker.rate = None
    wait_until(lambda: any("ticker.on_publish raised" in line for line in server.logs))


def test_results_render_as_a_table_and_plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    run = feeds.TransportRun(
        "ws",
        1.0,
        ids=[1, 2, 3],
        latencies=[0.001, 0.002, 0.003],
        requests=1,
        bytes_up=30,
        bytes_down=300,
        first_expected=1,
    )
    slow = feeds.TransportRun(
        "poll", 1.0, ids=[1, 3], latencies=[0.1, 0.2], requests=4, interval=0.25
    )
    results = feeds.Results([run, slow])
    assert results["WebSocket"] is run
    assert (run.median_ms, run.up_per_event, run.down_per_event) == (2.0, 10, 100)
    assert slow.missed == 1 and slow.name == "short polling every 250 ms"
    table = results._repr_html_()
    assert "<table>" in table and "WebSocket" in table and "short polling" in table
    assert "WebSocket" in str(results)
    assert feeds.plot_latency(results).get_xlabel().startswith("latency")
    assert "bytes" in feeds.plot_bytes(results).get_xlabel()
    assert "interval" in feeds.plot_sweep(feeds.Results([slow])).get_xlabel()


def test_feed_app_serves_only_what_it_is_asked() -> None:
    app = feeds.feed_app(feeds.Ticker(rate=None), only=["poll", "ws"])
    paths = {route.path for route in app.routes}
    assert {"/poll", "/ws"} <= paths
    assert not {"/long-poll", "/sse"} & paths
    with pytest.raises(ValueError, match="unknown transports"):
        feeds.feed_app(only=["carrier pigeon"])


@pytest.mark.anyio
async def test_measuring_a_transport_the_server_lacks_says_so() -> None:
    app = feeds.feed_app(feeds.Ticker(rate=None), only=["poll"])
    with serve(app, name="test feeds missing route") as server:
        for transport in ("long-poll", "sse", "ws"):
            with pytest.raises(RuntimeError, match="does the server have that route"):
                await feeds.measure_transports(server, [transport], seconds=1, progress=False)
