"""The loopback proxy under the byte counter and the tap adds no delay of its own.

A server answers with its head and its body in two writes. If a socket of the proxy left
Nagle's algorithm on, the second write would wait for the peer's delayed ACK, about 40 ms
on Linux, and every figure measured through the proxy would be that much late. The round
trips below are measured directly and through each proxy, interleaved, in the same run,
so that a loaded machine slows all of them alike; only the medians are compared.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from ws_lessons.feeds import ByteCounter
from ws_lessons.relay import Relay
from ws_lessons.server import Listening, RunningServer, serve
from ws_lessons.tap import Tap

pytestmark = pytest.mark.timeout(120)

ROUND_TRIPS = 40
MARGIN_MS = 25.0  # Nagle's algorithm against a delayed ACK costs about 40 ms a round trip;
# a busy machine adds a few ms to each hop of the proxy, so the margin keeps away from both
PAUSE = 0.002  # seconds between a head and its body: the proxy reads them apart


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/news")
    async def news() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            await asyncio.sleep(PAUSE)
            yield b'[{"id": 1}]'

        return StreamingResponse(body(), media_type="application/json")

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve(make_app(), name="test proxy delay") as server:
        yield server


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def round_trips(
    targets: dict[str, Listening], ask: Callable[[httpx.Client], httpx.Response]
) -> dict[str, float]:
    """The median round trip (ms) to each target; one client per target, turns interleaved."""
    clients = {
        name: httpx.Client(base_url=target.url, timeout=10) for name, target in targets.items()
    }
    times: dict[str, list[float]] = {name: [] for name in targets}
    try:
        for client in clients.values():
            ask(client).raise_for_status()  # connect first: only reused connections are timed
        for _ in range(ROUND_TRIPS):
            for name, client in clients.items():
                started = time.perf_counter()
                ask(client).raise_for_status()
                times[name].append(time.perf_counter() - started)
    finally:
        for client in clients.values():
            client.close()
    return {name: median_ms(values) for name, values in times.items()}


def get_news(client: httpx.Client) -> httpx.Response:
    """The server writes its head, then its body: the proxy relays two writes to the client."""
    return client.get("/news")


def post_in_two_writes(client: httpx.Client) -> httpx.Response:
    """The client writes its head, then its body: the proxy relays two writes to the server."""

    def body() -> Iterator[bytes]:
        time.sleep(PAUSE)
        yield b"x" * 100

    return client.post("/echo", content=body(), headers={"Content-Length": "100"})


@pytest.mark.parametrize("proxy", [ByteCounter, Tap], ids=["byte-counter", "tap"])
@pytest.mark.parametrize("ask", [get_news, post_in_two_writes], ids=["to-client", "to-server"])
def test_a_round_trip_through_the_proxy_is_as_fast_as_a_direct_one(
    server: RunningServer,
    proxy: Callable[[RunningServer], Relay],
    ask: Callable[[httpx.Client], httpx.Response],
) -> None:
    with proxy(server) as through:
        medians = round_trips({"direct": server, "proxied": through}, ask)
    print(f"direct {medians['direct']:.2f} ms, through {through.kind} {medians['proxied']:.2f} ms")
    assert medians["proxied"] < medians["direct"] + MARGIN_MS, medians


def test_the_proxy_listens_on_a_socket_that_says_it_is_tcp(server: RunningServer) -> None:
    """asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP."""
    with Relay(server.host, server.port, name="test proxy protocol") as proxy:
        assert proxy._socket.proto == socket.IPPROTO_TCP
