"""Exercises of lesson 10: reliability."""

from __future__ import annotations

import inspect
import json
import random
import socket
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Query, WebSocket
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ws_lessons import handshake
from ws_lessons.chat import create_app, tokens
from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, require_function, served
from ws_lessons.server import ServerError, serve

# 10.1 -------------------------------------------------------------------------------------------


@exercise(
    "10.1",
    hint="Keep a step that starts at initial and is multiplied by factor after each attempt, "
    "never above cap; each delay is step * random.uniform(0.5, 1).",
)
def check_10_1(function: Any) -> str:
    """``delays(attempts, initial, factor, cap) -> list[float]``: backoff with jitter."""
    require_function(function)
    runs = []
    for _ in range(20):
        try:
            got = function(8, 0.5, 2.0, 10.0)
        except Exception as exc:
            raise Hint(f"delays(8, 0.5, 2.0, 10.0) raised {type(exc).__name__}: {exc}") from None
        if inspect.iscoroutine(got):
            got.close()
            raise Hint("pass a plain function (def, not async def) that returns a list")
        if got is None:
            raise Hint("your function returns None: return the list of delays")
        if not isinstance(got, list) or len(got) != 8:
            raise Hint(f"delays(8, ...) should return 8 delays, got {got!r}")
        runs.append(got)
    steps = [min(10.0, 0.5 * 2**n) for n in range(8)]
    for run in runs:
        for n, (delay, step) in enumerate(zip(run, steps, strict=True)):
            if delay > step + 1e-9:
                what = "the cap" if step == 10.0 else "its step"
                raise Hint(f"delay {n} is {delay:.2f} s, above {what} ({step:g} s)")
            if delay < step / 2 - 1e-9:
                raise Hint(
                    f"delay {n} is {delay:.2f} s, below half its step ({step:g} s): with "
                    "delays near zero, clients hammer a server that just came back"
                )
    if len({round(run[2], 6) for run in runs}) == 1:
        raise Hint("every run gives the same delays: add jitter, or all clients retry in step")
    return "delays grow, stop at the cap, and spread clients apart"


# 10.2 -------------------------------------------------------------------------------------------

FEED = [{"seq": n, "text": f"event {n}"} for n in range(1, 11)]
"""The history the /feed endpoint of exercise 10.2 replays."""


def _replay(server: Any, query: str) -> list[int] | str:
    """The seqs /feed sent for ``query`` before closing normally, or what went wrong."""
    try:
        with connect(
            server.ws_url(f"/feed{query}"), open_timeout=TIMEOUT, close_timeout=TIMEOUT
        ) as ws:
            seqs = []
            try:
                while True:
                    seqs.append(json.loads(ws.recv(timeout=TIMEOUT))["seq"])
            except TimeoutError:
                return "no close"
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                return seqs if code == 1000 else f"closed with {code}"
            except (ValueError, KeyError, TypeError):
                return "not the events"
    except InvalidStatus as exc:
        return f"refused {exc.response.status_code}"


@exercise(
    "10.2",
    hint="since: Annotated[int, Query(ge=0)] = 0; send every event whose seq > since with "
    "send_json, then close().",
)
def check_10_2(app: Any) -> str:
    """/feed?since=N sends the events of FEED after N, then closes normally."""
    with served(app, "10.2") as server:
        for query, expected in [
            ("?since=0", list(range(1, 11))),
            ("?since=7", [8, 9, 10]),
            ("?since=10", []),
            ("", list(range(1, 11))),
        ]:
            got = _replay(server, query)
            if str(got).startswith("refused"):
                raise Hint(
                    f"the handshake on /feed{query} was {got}: is there an endpoint at /feed, "
                    "does it accept(), and is since optional?"
                )
            if got == "no close":
                raise Hint(f"for /feed{query}, close the connection once the events are sent")
            if got == "not the events":
                raise Hint("send each event of FEED as JSON, unchanged (websocket.send_json)")
            if isinstance(got, str):
                raise Hint(f"/feed{query} was {got}")
            if got != expected:
                extra = " (with ?since=N the client has N already)" if got[:1] == [7] else ""
                raise Hint(f"/feed{query} sent seqs {got}, expected {expected}{extra}")
        for query in ("?since=-1", "?since=soon"):
            if not str(_replay(server, query)).startswith("refused"):
                raise Hint(f"/feed{query} should be refused: declare since as Query(ge=0)")
    return "a client that comes back gets exactly what it missed"


# 10.3 -------------------------------------------------------------------------------------------

DEADLINE = 1.5
"""Seconds within which a silent client must be dropped, in exercise 10.3."""
OPTIONS = {"ws_ping_interval", "ws_ping_timeout"}


def _silent_client(host: str, port: int, path: str) -> socket.socket:
    """A client that completes the handshake by hand, then never reads again."""
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    key = handshake.new_key()
    sock.sendall(handshake.build_request(f"{host}:{port}", path, key))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # one byte at a time: leave the frames after the head unread
    handshake.check_response(handshake.parse_response(head), key)
    return sock


@exercise(
    "10.3",
    hint="The server notices within interval + timeout: try 0.3 s and 0.5 s. Too short a "
    "timeout drops healthy clients on a slow network.",
)
def check_10_3(options: Any) -> str:
    """uvicorn options that drop a silent client within 1.5 s and keep a healthy idle one."""
    if not isinstance(options, dict):
        raise Hint(
            'pass a dict of uvicorn options: {"ws_ping_interval": ..., "ws_ping_timeout": ...}'
        )
    if set(options) - OPTIONS:
        raise Hint(f"only {sorted(OPTIONS)} are needed; remove {sorted(set(options) - OPTIONS)}")
    interval, timeout = options.get("ws_ping_interval"), options.get("ws_ping_timeout")
    if not isinstance(interval, int | float) or interval <= 0:
        raise Hint("set ws_ping_interval to a number of seconds: without it, no ping is sent")
    if not isinstance(timeout, int | float):
        raise Hint("set ws_ping_timeout: without it, an unanswered ping is never given up on")
    if timeout < 0.1:
        raise Hint(
            f"a ws_ping_timeout of {timeout} s would drop healthy clients on any real network"
        )
    app = create_app(secret="exercise 10.3")
    try:
        server = serve(app, name="check 10.3", **options)
    except (ServerError, TypeError, ValueError) as exc:
        raise Hint(f"uvicorn did not start with these options: {exc}") from None
    with server:
        url = server.ws_url(f"/ws/lobby?token={tokens.issue('healthy', 'exercise 10.3')}")
        with connect(url, open_timeout=TIMEOUT) as healthy:
            healthy.recv(timeout=TIMEOUT)  # welcome
            path = f"/ws/lobby?token={tokens.issue('silent', 'exercise 10.3')}"
            silent = _silent_client(server.host, server.port, path)
            began = time.monotonic()
            try:
                dropped_after = _left(healthy, "silent", began)
            finally:
                silent.close()
            if dropped_after is None:
                raise Hint(
                    f"the silent client was still there {DEADLINE} s later: ping more often "
                    "or give up sooner"
                )
            time.sleep(max(0.0, DEADLINE - (time.monotonic() - began)))  # idle a while longer
            try:
                healthy.send(json.dumps({"type": "ping"}))
                while json.loads(healthy.recv(timeout=TIMEOUT))["type"] != "pong":
                    pass
            except (ConnectionClosed, TimeoutError):
                raise Hint(
                    "the healthy idle client was dropped too: give pongs more time"
                ) from None
    return f"a silent client was dropped after {dropped_after:.1f} s; the healthy one stayed"


def _left(ws: Any, user: str, began: float) -> float | None:
    """Seconds until ``user`` left the room, or None if not within the deadline."""
    while (remaining := DEADLINE - (time.monotonic() - began)) > 0:
        try:
            message = json.loads(ws.recv(timeout=remaining))
        except TimeoutError:
            return None
        if message == {"type": "left", "room": "lobby", "user": user}:
            return time.monotonic() - began
    return None


# Reference answers


def solution_10_1() -> Callable[..., list[float]]:
    def delays(attempts: int, initial: float, factor: float, cap: float) -> list[float]:
        result, step = [], initial
        for _ in range(attempts):
            result.append(step * random.uniform(0.5, 1.0))
            step = min(cap, step * factor)
        return result

    return delays


def solution_10_2() -> FastAPI:
    app = FastAPI()

    @app.websocket("/feed")
    async def feed(websocket: WebSocket, since: Annotated[int, Query(ge=0)] = 0) -> None:
        await websocket.accept()
        for event in FEED:
            if event["seq"] > since:
                await websocket.send_json(event)
        await websocket.close()

    return app


def solution_10_3() -> dict[str, float]:
    return {"ws_ping_interval": 0.3, "ws_ping_timeout": 0.5}
