"""Exercises of lesson 11: reliability."""

from __future__ import annotations

import json
import socket
import time
from typing import Annotated, Any

from fastapi import FastAPI, Query, WebSocket
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ws_lessons import handshake
from ws_lessons.chat import create_app, models, tokens
from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, served
from ws_lessons.i18n import _
from ws_lessons.server import ServerError, serve

__all__ = [
    "ARRIVALS",
    "DEADLINE",
    "FEED",
    "GAPS",
    "KEPT",
    "MIN_INTERVAL",
    "MIN_TIMEOUT",
    "OPTIONS",
    "check_11_1",
    "check_11_2",
    "check_11_3",
    "solution_11_1",
    "solution_11_2",
    "solution_11_3",
]

# 11.1 -------------------------------------------------------------------------------------------

ARRIVALS = [7, 8, 9, 9, 10]
"""The ``said`` seqs that reach the client of exercise 11.1 after its welcome (seq 9)."""
KEPT = [7, 8, 9, 10]
GAPS = [(6, 6)]


def _pairs(gaps: Any) -> list[tuple[int, ...]] | None:
    try:
        return [tuple(gap) for gap in gaps]
    except TypeError:
        return None


@exercise(
    "11.1",
    nudge="Walk through the arrivals one at a time, with the client's last seq written beside "
    "you, and apply the three cases of Tracker.receive.",
    hint="A seq at or below the last one is dropped; one exactly one above is the next; a "
    "bigger jump records the missing seqs as a (first, last) pair, then is kept.",
)
def check_11_1(prediction: Any) -> str:
    """Predict what the Tracker keeps and which gaps it notes for ARRIVALS after seq 5."""
    if not isinstance(prediction, dict) or set(prediction) != {"kept", "gaps"}:
        raise Hint(_('pass the dict prediction, with the keys "kept" and "gaps"'))
    kept, gaps = prediction["kept"], _pairs(prediction["gaps"])
    if not kept:
        raise Hint(_("fill in kept: the seqs the client adds to tracker.said, in order"))
    if not isinstance(kept, list) or not all(isinstance(seq, int) for seq in kept):
        raise Hint(_("kept is a list of whole numbers, in order; got {kept!r}").format(kept=kept))
    if kept.count(9) > 1:
        raise Hint(
            _(
                "9 arrived twice (in the replay, and live as the client joined): the second time "
                "it is at or below the client's seq, so the client skips it"
            )
        )
    if 5 in kept or 6 in kept:
        raise Hint(
            _("the client had 5 already, and 6 never arrived: only what arrives can be kept")
        )
    if kept != KEPT:
        raise Hint(
            _(
                "you kept {kept}: every seq above the client's last one is kept, even after a "
                "jump, and in the order it arrived"
            ).format(kept=kept)
        )
    if gaps is None or any(len(gap) != 2 for gap in gaps):
        raise Hint(_("write each gap as a (first, last) pair of the seqs that never arrived"))
    if not gaps:
        raise Hint(
            _(
                "the client had 5 and the first replayed message is 7: seq 6 never arrived "
                "(the history keeps only the last 3), and the client notes that"
            )
        )
    if gaps != GAPS:
        raise Hint(
            _(
                "you noted the gaps {gaps}: a gap holds only the seqs that never arrived, from "
                "one after the client's last to one before the jump"
            ).format(gaps=gaps)
        )
    return _("one gap noticed, one duplicate skipped, nothing shown twice")


# 11.2 -------------------------------------------------------------------------------------------

FEED: list[dict[str, Any]] = [{"seq": n, "text": f"event {n}"} for n in range(1, 11)]
"""The history the /feed endpoint of exercise 11.2 replays."""


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
    "11.2",
    nudge="The endpoint sends everything today; the client has told you, in the query, how "
    "far it got already. FastAPI can also refuse impossible values of a parameter for you.",
    hint="Skip the events at or below since; give the Query parameter a lower bound of 0 and a "
    "default, so that a missing since means 'from the start' and a negative one is refused.",
)
def check_11_2(app: Any) -> str:
    """/feed?since=N sends the events of FEED after N, then closes normally."""
    with served(app, "11.2") as server:
        for query, expected in [
            ("?since=0", list(range(1, 11))),
            ("?since=7", [8, 9, 10]),
            ("?since=10", []),
            ("", list(range(1, 11))),
        ]:
            got = _replay(server, query)
            path = f"/feed{query}"
            if isinstance(got, str) and got.startswith("refused "):
                raise Hint(
                    _(
                        "the handshake on {path} was refused {status}: is there an endpoint at "
                        "/feed, does it accept(), and is since optional?"
                    ).format(path=path, status=got.removeprefix("refused "))
                )
            if got == "no close":
                raise Hint(
                    _("for {path}, close the connection once the events are sent").format(path=path)
                )
            if got == "not the events":
                raise Hint(_("send each event of FEED as JSON, unchanged (websocket.send_json)"))
            if isinstance(got, str):
                raise Hint(
                    _("{path} was closed with {code}").format(
                        path=path, code=got.removeprefix("closed with ")
                    )
                )
            if got != expected:
                if got[:1] == [7]:
                    message = _(
                        "{path} sent seqs {got}, expected {expected} "
                        "(with ?since=N the client has N already)"
                    )
                else:
                    message = _("{path} sent seqs {got}, expected {expected}")
                raise Hint(message.format(path=path, got=got, expected=expected))
        for query in ("?since=-1", "?since=soon"):
            if not str(_replay(server, query)).startswith("refused"):
                raise Hint(
                    _("{path} should be refused: give the Query parameter a lower bound").format(
                        path=f"/feed{query}"
                    )
                )
    return _("a client that comes back gets exactly what it missed")


# 11.3 -------------------------------------------------------------------------------------------

DEADLINE = 1.5
"""Seconds within which a silent client must be dropped, in exercise 11.3."""
MIN_TIMEOUT = 0.5
"""The shortest ``ws_ping_timeout`` allowed: a pong over a slow mobile link can take that long."""
MIN_INTERVAL = 0.25
"""The shortest ``ws_ping_interval`` allowed: pings more often cost every idle client traffic."""
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
    "11.3",
    nudge="A silent client is noticed at the first ping it fails to answer: how long can that "
    "take, from the moment it goes silent?",
    hint="In the worst case, nearly a whole interval passes before the next ping, then the "
    "whole timeout: keep their sum under the deadline, and leave the timeout long enough "
    "for a healthy client's pong to come back.",
)
def check_11_3(options: Any) -> str:
    """uvicorn options that drop a silent client within 1.5 s and keep a healthy idle one."""
    if not isinstance(options, dict):
        raise Hint(
            _('pass a dict of uvicorn options: {"ws_ping_interval": ..., "ws_ping_timeout": ...}')
        )
    if set(options) - OPTIONS:
        raise Hint(
            _("only {needed} are needed; remove {extra}").format(
                needed=sorted(OPTIONS), extra=sorted(set(options) - OPTIONS)
            )
        )
    interval, timeout = options.get("ws_ping_interval"), options.get("ws_ping_timeout")
    if not isinstance(interval, int | float) or interval <= 0:
        raise Hint(_("set ws_ping_interval to a number of seconds: without it, no ping is sent"))
    if not isinstance(timeout, int | float):
        raise Hint(_("set ws_ping_timeout: without it, an unanswered ping is never given up on"))
    if timeout < MIN_TIMEOUT:
        raise Hint(
            _(
                "a ws_ping_timeout of {timeout} s would drop healthy clients on a slow mobile "
                "link, whose pong can take {minimum} s: give pongs at least that long"
            ).format(timeout=timeout, minimum=MIN_TIMEOUT)
        )
    if interval < MIN_INTERVAL:
        raise Hint(
            _(
                "a ws_ping_interval of {interval} s pings every idle client more than {times} "
                "times a second: fit the deadline with a shorter timeout instead"
            ).format(interval=interval, times=round(1 / MIN_INTERVAL))
        )
    app = create_app(secret="exercise 11.3")
    try:
        server = serve(app, name="check 11.3", **options)
    except (ServerError, TypeError, ValueError) as exc:
        raise Hint(
            _("uvicorn did not start with these options: {error}").format(error=exc)
        ) from None
    with server:
        url = server.ws_url(f"/ws/lobby?token={tokens.issue('healthy', 'exercise 11.3')}")
        with connect(url, open_timeout=TIMEOUT) as healthy:
            healthy.recv(timeout=TIMEOUT)  # welcome
            path = f"/ws/lobby?token={tokens.issue('silent', 'exercise 11.3')}"
            silent = _silent_client(server.host, server.port, path)
            began = time.monotonic()
            try:
                dropped_after = _left(healthy, "silent", began)
            finally:
                silent.close()
            if dropped_after is None:
                raise Hint(
                    _(
                        "the silent client was still there {seconds} s later: ping more often "
                        "or give up sooner"
                    ).format(seconds=DEADLINE)
                )
            time.sleep(max(0.0, DEADLINE - (time.monotonic() - began)))  # idle a while longer
            try:
                healthy.send(models.ping())
                while json.loads(healthy.recv(timeout=TIMEOUT))["type"] != "pong":
                    pass
            except (ConnectionClosed, TimeoutError):
                raise Hint(
                    _("the healthy idle client was dropped too: give pongs more time")
                ) from None
    return _("a silent client was dropped after {seconds:.1f} s; the healthy one stayed").format(
        seconds=dropped_after
    )


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


def solution_11_1() -> dict[str, list[Any]]:
    return {
        "kept": [7, 8, 9, 10],  # the second 9 is at or below the client's seq: skipped
        "gaps": [(6, 6)],  # 6 was older than the 3 messages the history keeps
    }


def solution_11_2() -> FastAPI:
    app = FastAPI()

    @app.websocket("/feed")
    async def feed(websocket: WebSocket, since: Annotated[int, Query(ge=0)] = 0) -> None:
        await websocket.accept()
        for event in FEED:
            if event["seq"] > since:
                await websocket.send_json(event)
        await websocket.close()

    return app


def solution_11_3() -> dict[str, float]:
    return {"ws_ping_interval": 0.4, "ws_ping_timeout": 0.6}  # at worst 1.0 s, then the close
