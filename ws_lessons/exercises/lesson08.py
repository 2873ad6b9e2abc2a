"""Exercises of lesson 08: routers, subprotocols and uvicorn's WebSocket options."""

from __future__ import annotations

import inspect
import socket
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect, WebSocketException, status
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from ws_lessons.apps import echo_app
from ws_lessons.exercises.core import TIMEOUT, Hint, connected, exchange, exercise, served
from ws_lessons.frames import IncompleteFrame, Opcode, ProtocolError, decode, parse_close
from ws_lessons.handshake import build_request
from ws_lessons.i18n import _
from ws_lessons.server import ServerError, serve

__all__ = [
    "DROP_WITHIN",
    "PING_OPTIONS",
    "SLACK",
    "Opened",
    "check_08_1",
    "check_08_2",
    "check_08_3",
    "solution_08_1",
    "solution_08_2",
    "solution_08_3",
]


@exercise(
    "08.1",
    nudge="Ask the app where each route ended up, as the lesson did with url_path_for, "
    "and talk to the echo twice.",
    hint="The prefix of the router and the prefix given to include_router add up. And a "
    "WebSocket endpoint that returns after one answer ends the conversation: it has to "
    "keep receiving for as long as the client stays.",
)
def check_08_1(app: Any) -> str:
    """GET /api/health answers {"status": "ok"} and WS /api/echo echoes, both from a router."""
    declared_on_app = {getattr(route, "path", "") for route in getattr(app, "routes", [])}
    if {"/api/health", "/api/echo"} & declared_on_app:
        raise Hint(
            _(
                "the routes work, but they are declared on the app itself: declare them on the "
                "router, and let the router's prefix put them under /api"
            )
        )
    with served(app, "08.1") as server:
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            health = http.get("/api/health")
            bare = http.get("/health")
            doubled = http.get("/api/api/health")
        if health.status_code == 404 and doubled.status_code == 200:
            raise Hint(
                _(
                    "GET /api/health answered 404, but GET /api/api/health answers: the prefix "
                    "is there twice, once from the router and once from include_router"
                )
            )
        if health.status_code != 200:
            raise Hint(
                _(
                    "GET /api/health answered HTTP {status}: is the router's "
                    "prefix /api, and is the router included in the app?"
                ).format(status=health.status_code)
            )
        try:
            body = health.json()
        except ValueError:
            raise Hint(
                _("GET /api/health should answer JSON, not {text!r}").format(text=health.text[:60])
            ) from None
        if body != {"status": "ok"}:
            raise Hint(
                _('GET /api/health answered {body}; expected {{"status": "ok"}}').format(body=body)
            )
        if bare.status_code == 200:
            raise Hint(_("GET /health answers too: declare the routes on the router, not the app"))
        with connected(server, "/api/echo") as ws:
            for text in ("ping", "still here?"):
                reply = exchange(ws, text, _("sending {text!r} to /api/echo").format(text=text))
                if reply != text:
                    raise Hint(
                        _("/api/echo answered {text!r} with {reply!r}; send it back as is").format(
                            text=text, reply=reply
                        )
                    )
    return _("one router, one prefix, an HTTP route and a WebSocket route under it")


@dataclass(frozen=True)
class Opened:
    """A handshake that succeeded: the subprotocol chosen, the first message (None if the
    connection closed first), and the close code the client got then (None: no close frame)."""

    chosen: str
    told: str | None = None
    code: int | None = None


def _negotiate(server: Any, offer: list[str]) -> Opened | int:
    """What the client ends up with: the connection it got, or the HTTP status of a refusal."""
    try:
        with connect(
            server.ws_url("/negotiate"),
            subprotocols=[Subprotocol(name) for name in offer] or None,
            open_timeout=TIMEOUT,
            close_timeout=TIMEOUT,
        ) as ws:
            chosen = ws.subprotocol or ""
            try:
                return Opened(chosen, told=str(ws.recv(timeout=TIMEOUT)))
            except TimeoutError:
                raise Hint(
                    _(
                        "offered {offer}, the connection opened but no message came: send the "
                        "chosen subprotocol's name as a text message"
                    ).format(offer=offer)
                ) from None
            except ConnectionClosed as closed:
                return Opened(chosen, code=closed.rcvd.code if closed.rcvd else None)
    except InvalidStatus as exc:
        return exc.response.status_code
    except InvalidHandshake as exc:
        raise Hint(
            _("offered {offer}, the client failed the handshake: {error}").format(
                offer=offer, error=exc
            )
        ) from None


@exercise(
    "08.2",
    nudge="Print what the client offered (the starter does) for each offer the check "
    "makes, and write down what you want to answer to each.",
    hint="The client's order does not matter: walk your own list of preferences, best "
    "first, and take the first one the client offered. Accept with that name; when "
    "none matches, refuse before accepting, as lesson 07 did.",
)
def check_08_2(app: Any) -> str:
    """/negotiate prefers chat.v2 to chat.v1, says which it chose, and refuses anything else."""
    with served(app, "08.2") as server:
        for offer, wanted in (
            (["chat.v1", "chat.v2"], "chat.v2"),
            (["chat.v2", "chat.v1"], "chat.v2"),
            (["chat.v1"], "chat.v1"),
            (["mqtt", "chat.v1"], "chat.v1"),
        ):
            _expect_accepted(offer, wanted, _negotiate(server, offer))
        for offer in (["mqtt"], []):
            got = _negotiate(server, offer)
            if not isinstance(got, int):
                raise Hint(_accepted_anyway(offer, got))
    return _("chat.v2 when offered, else chat.v1, and no connection without either")


def _expect_accepted(offer: list[str], wanted: str, got: Opened | int) -> None:
    """The hint for an offer that should have opened with ``wanted``, if it did not."""
    if isinstance(got, int):
        raise Hint(
            _("offered {offer}, the handshake was refused with HTTP {status}").format(
                offer=offer, status=got
            )
        )
    if got.chosen != wanted:
        if not got.chosen:
            raise Hint(
                _("offered {offer}, you chose none; expected {wanted}").format(
                    offer=offer, wanted=wanted
                )
            )
        raise Hint(
            _("offered {offer}, you chose {chosen}; expected {wanted}").format(
                offer=offer, chosen=got.chosen, wanted=wanted
            )
        )
    if got.told is None:
        raise Hint(
            _(
                "offered {offer}, the connection was closed before any message: accept, "
                "then send the chosen subprotocol's name"
            ).format(offer=offer)
        )
    if got.told != got.chosen:
        raise Hint(
            _(
                "offered {offer}, the handshake chose {chosen!r} but the message said "
                "{told!r}: send the name you accepted with"
            ).format(offer=offer, chosen=got.chosen, told=got.told)
        )


def _accepted_anyway(offer: list[str], got: Opened) -> str:
    """The hint for an offer that should have been refused: one whole sentence per case."""
    if got.told is None:  # accepted, then closed: the connection opened all the same
        message = _(
            "offered {offer}, the connection opened, then you closed it (code {code}): "
            "a close after accept() comes too late, the client was already connected. "
            "Decide before accept(): raise WebSocketException there, and the handshake "
            "is refused with HTTP 403"
        )
    elif offer and got.chosen:
        message = _("offered {offer}, you accepted (with {chosen}): refuse the handshake instead")
    elif offer:
        message = _(
            "offered {offer}, you accepted (with no subprotocol): refuse the handshake instead"
        )
    elif got.chosen:
        message = _("offered nothing, you accepted (with {chosen}): refuse the handshake instead")
    else:
        message = _(
            "offered nothing, you accepted (with no subprotocol): refuse the handshake instead"
        )
    code = "1006" if got.code is None else got.code
    return message.format(offer=offer, chosen=got.chosen, code=code)


def _silent_client_closed_after(server: Any, limit: float) -> tuple[float, int | None]:
    """Connect with a raw socket, never answer anything; return when and how it was closed."""
    sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    with sock:
        sock.sendall(build_request(f"{server.host}:{server.port}", "/echo"))
        started = time.monotonic()
        data = b""
        sock.settimeout(0.1)
        while time.monotonic() - started < limit:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
        else:
            return limit, None
        seconds = time.monotonic() - started
    _, _, frames = data.partition(b"\r\n\r\n")
    code = None
    while frames:
        try:
            frame, used = decode(frames)
        except (IncompleteFrame, ProtocolError):
            break
        frames = frames[used:]
        if frame.opcode is Opcode.CLOSE:
            code = int(parse_close(frame.payload)[0])
    return seconds, code


DROP_WITHIN = 2.0  # seconds: what exercise 08.3 asks for
SLACK = 1.0  # what a loaded machine may add to uvicorn's timers before the drop is seen
PING_OPTIONS = ("ws_ping_interval", "ws_ping_timeout")


def _keepalive_settings(options: dict[str, Any]) -> dict[str, Any]:
    """ws_ping_interval and ws_ping_timeout as the running uvicorn uses them: given, or its
    defaults, read from uvicorn.Config."""
    defaults = inspect.signature(uvicorn.Config).parameters
    return {name: options.get(name, defaults[name].default) for name in PING_OPTIONS}


def _left_at_default(options: dict[str, Any]) -> str:
    """A sentence naming the keepalive options the answer did not set, with their defaults."""
    missing = [name for name in PING_OPTIONS if name not in options]
    if not missing:
        return ""
    defaults = _keepalive_settings({})
    sentence = _("You did not set {names}, so uvicorn {version} uses its default: {values}.")
    return " " + sentence.format(
        names=" / ".join(missing),
        version=uvicorn.__version__,
        values=", ".join(f"{name}={defaults[name]!r}" for name in missing),
    )


def _check_keepalive(server: Any, options: dict[str, Any]) -> None:
    """A raw client that never answers pings must be dropped within DROP_WITHIN seconds: by
    design (interval + timeout), and on the wire (seen within DROP_WITHIN + SLACK)."""
    settings = _keepalive_settings(options)
    interval, timeout = settings["ws_ping_interval"], settings["ws_ping_timeout"]
    waited = DROP_WITHIN + SLACK
    seconds, code = _silent_client_closed_after(server, waited)
    if code is None and seconds >= waited:
        if not interval:
            why = _("With ws_ping_interval={interval!r}, uvicorn sends no pings at all.")
        elif timeout is None:
            why = _("With ws_ping_timeout=None, uvicorn pings but never drops a silent client.")
        else:
            why = _(
                "uvicorn drops it one ws_ping_interval plus one ws_ping_timeout after its "
                "last sign of life, here {interval!r} + {timeout!r} s."
            )
        raise Hint(
            _(
                "a client that never answers pings was still connected after {seconds:.0f} s."
            ).format(seconds=waited)
            + " "
            + why.format(interval=interval, timeout=timeout)
            + _left_at_default(options)
        )
    if (interval or 0) + (timeout or 0) > DROP_WITHIN:
        raise Hint(
            _(
                "a silent client was dropped after {seconds:.1f} s: one ws_ping_interval "
                "({interval!r} s) plus one ws_ping_timeout ({timeout!r} s). Make the two add "
                "up to 2 s at most."
            ).format(seconds=seconds, interval=interval, timeout=timeout)
            + _left_at_default(options)
        )


@exercise(
    "08.3",
    nudge="Lesson 08's table of uvicorn's WebSocket options has one row for each of the "
    "three requirements (one of them needs two options).",
    hint="A silent client is dropped one ping interval plus one ping timeout after its "
    "last sign of life, so the two together must add up to 2 s at most. The size limit is "
    "in bytes, and compression is an on/off switch.",
)
def check_08_3(options: Any) -> str:
    """uvicorn options: 4 KiB messages at most, pings that drop a silent client within 2 s,
    and no compression."""
    if not isinstance(options, dict):
        raise Hint(
            _(
                "pass a dict of uvicorn options, like {{'ws_max_size': ...}}, not {options!r}"
            ).format(options=options)
        )
    for name in PING_OPTIONS:
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Hint(
                _("{name} is a number of seconds (or None), not {value!r}").format(
                    name=name, value=value
                )
            )
    try:
        server = serve(echo_app("/echo"), name="check 08.3", **options)
    except (TypeError, ServerError) as exc:
        raise Hint(_("uvicorn did not take these options: {error}").format(error=exc)) from None
    with server:
        with connect(server.ws_url("/echo"), open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
            response = ws.response  # set once the handshake has succeeded
            extensions = response.headers.get("Sec-WebSocket-Extensions") if response else None
            if extensions:
                raise Hint(
                    _("the server still negotiated compression: {extensions}").format(
                        extensions=extensions
                    )
                )
            text = "x" * 4096
            if exchange(ws, text, _("sending 4096 bytes")) != text:
                raise Hint(_("a 4096-byte message was not echoed"))
            try:
                ws.send(text + "x")
                ws.recv(timeout=TIMEOUT)
                raise Hint(_("a 4097-byte message was echoed: the limit is 4096 bytes"))
            except TimeoutError:
                raise Hint(_("after a 4097-byte message, nothing happened")) from None
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                if code != 1009:
                    raise Hint(
                        _("a 4097-byte message closed with {code}, not 1009").format(code=code)
                    ) from None
        _check_keepalive(server, options)
    return _("4 KiB messages, silent clients dropped within 2 s, and plain frames")


# Reference answers


def solution_08_1() -> FastAPI:
    api = APIRouter(prefix="/api")

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    app = FastAPI()
    app.include_router(api)
    return app


def solution_08_2() -> FastAPI:
    app = FastAPI()

    @app.websocket("/negotiate")
    async def negotiate(websocket: WebSocket) -> None:
        offered = websocket.scope["subprotocols"]
        chosen = next((name for name in ("chat.v2", "chat.v1") if name in offered), None)
        if chosen is None:
            # Before accept(): the handshake is refused with HTTP 403.
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
        await websocket.accept(subprotocol=chosen)
        await websocket.send_text(chosen)
        await websocket.close()

    return app


def solution_08_3() -> dict[str, Any]:
    return {
        "ws_max_size": 4096,
        "ws_ping_interval": 0.5,
        "ws_ping_timeout": 0.5,
        "ws_per_message_deflate": False,
    }
