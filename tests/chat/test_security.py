"""The chat's defences, attacked by real clients over loopback (lesson 10).

Each attack is also tried where the defence is switched off, when that is possible, so
that a passing test shows the defence at work rather than an attack that never worked.
"""

import asyncio
import base64
import collections
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from http.cookies import SimpleCookie
from typing import Annotated, Any

import httpx
import pytest
from chatkit import SECRET, TIMEOUT, closed, receive, token
from fastapi import (
    Cookie,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    status,
)
from fastapi.middleware.cors import CORSMiddleware
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection as SyncConnection
from websockets.sync.client import connect as connect_sync

from ws_lessons.chat import create_app, tokens
from ws_lessons.chat.guard import COOKIE
from ws_lessons.chat.models import server_message
from ws_lessons.chat.ratelimit import TokenBucket
from ws_lessons.server import RunningServer, serve

pytestmark = pytest.mark.anyio

ERROR_CODES = {"invalid_json", "invalid_message", "too_long", "rate_limited"}
INVALID_UTF8_LOG = "ERROR   uvicorn.error: Invalid UTF-8 sequence received from client."


async def say(ws: ClientConnection, text: str) -> None:
    await ws.send(json.dumps({"type": "say", "text": text}))


@contextlib.asynccontextmanager
async def join(
    server: RunningServer, user: str, room: str = "lobby", **options: Any
) -> AsyncIterator[ClientConnection]:
    """A connection of ``user``, its welcome read."""
    async with asyncio.timeout(TIMEOUT):
        ws = await connect(server.ws_url(f"/ws/{room}?token={token(user)}"), **options)
    async with ws:
        assert (await receive(ws))["type"] == "welcome"
        yield ws


async def refused(url: str, **options: Any) -> int:
    """Open ``url``, expecting the handshake to be refused; return the HTTP status."""
    with pytest.raises(InvalidStatus) as info:
        async with asyncio.timeout(TIMEOUT):
            await connect(url, **options)
    return info.value.response.status_code


async def still_talking(server: RunningServer) -> None:
    """Two fresh clients can still talk: the server came through unharmed."""
    async with join(server, "check_a") as a, join(server, "check_b") as b:
        await say(a, "still here")
        for ws in (a, b):
            assert (await receive(ws, "said"))["text"] == "still here"


# -- tokens ----------------------------------------------------------------------------------


def tampered(value: str) -> str:
    """``value`` naming someone else, with the original signature kept."""
    payload, _, signature = value.partition(".")
    forged = tokens._b64encode(json.dumps({"user": "admin", "exp": 9e9}).encode())
    assert forged != payload
    return f"{forged}.{signature}"


BAD_TOKENS = {
    "missing": None,
    "empty": "",
    "signed with another secret": tokens.issue("alice", "not the secret"),
    "payload changed": tampered(token("alice")),
    "signature cut short": token("alice")[:-3],
    "expired": token("alice", ttl=-1),
    "not a token": "hello",
    "only dots": "...",
    "not ascii": "ünïcödé.☃",
    "very long": "A" * 4000 + "." + "B" * 40,
}


@pytest.mark.parametrize("bad", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_bad_token_is_refused_before_accepting(start, bad: str | None) -> None:
    server = start()
    query = "" if bad is None else "?" + str(httpx.QueryParams({"token": bad}))
    assert await refused(server.ws_url(f"/ws/lobby{query}")) == 403
    await still_talking(server)


async def test_post_token_sets_a_cookie_the_websocket_accepts(start) -> None:
    server = start()
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        response = await http.post("/token", json={"user": "carol"})
    attributes = response.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=strict", "path=/", "max-age=3600"):
        assert attribute in attributes
    assert "secure" not in attributes  # plain http: a Secure cookie would never be sent back
    cookie = SimpleCookie(response.headers["set-cookie"])[COOKIE].value
    assert cookie == response.json()["token"]
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    async with connect(server.ws_url("/ws/lobby"), additional_headers=headers) as ws:
        assert (await receive(ws))["user"] == "carol"


@pytest.mark.parametrize("bad", ["forged", "expired"])
async def test_a_bad_cookie_is_refused(start, bad: str) -> None:
    server = start()
    value = tampered(token("carol")) if bad == "forged" else token("carol", ttl=-1)
    headers = {"Cookie": f"{COOKIE}={value}"}
    assert await refused(server.ws_url("/ws/lobby"), additional_headers=headers) == 403


async def test_the_query_token_wins_over_the_cookie(start) -> None:
    server = start()
    headers = {"Cookie": f"{COOKIE}={token('carol')}"}
    url = server.ws_url(f"/ws/lobby?token={token('dave')}")
    async with connect(url, additional_headers=headers) as ws:
        assert (await receive(ws))["user"] == "dave"


async def test_token_lifetime_is_configurable(start) -> None:
    """The server's tokens last ``token_ttl`` seconds (read with a clock of the test's own:
    a short lifetime on the wall clock would race a busy machine)."""
    server = start(token_ttl=90)
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        before = time.time()
        value = (await http.post("/token", json={"user": "erin"})).json()["token"]
        after = time.time()
    async with connect(server.ws_url(f"/ws/lobby?token={value}")) as ws:
        assert (await receive(ws))["user"] == "erin"
    assert tokens.verify(value, SECRET, clock=lambda: before + 90) == "erin"
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(value, SECRET, clock=lambda: after + 90.01)


class FakeClock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_token_expires_after_its_lifetime() -> None:
    clock = FakeClock()
    value = tokens.issue("erin", SECRET, ttl=60, clock=clock)
    clock.now += 60
    assert tokens.verify(value, SECRET, clock=clock) == "erin"  # the last valid second
    clock.now += 0.001
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(value, SECRET, clock=clock)


# -- Origin ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "origin", "accepted"),
    [
        (None, None, True),
        (None, "http://{here}", True),
        (None, "http://{elsewhere}", False),
        (None, "https://evil.example", False),
        (None, "null", False),
        (["http://app.example"], "http://app.example", True),
        (["http://app.example"], "http://{here}", True),
        (["http://app.example"], "http://app.example.evil.example", False),
        (["*"], "https://evil.example", True),
    ],
    ids=[
        "no origin",
        "same origin",
        "another port",
        "another site",
        "null",
        "listed",
        "listed, and own",
        "lookalike",
        "any",
    ],
)
async def test_origin_allowlist(
    start, allowed: list[str] | None, origin: str | None, accepted: bool
) -> None:
    server = start(allowed_origins=allowed)
    if origin is not None:
        origin = origin.format(
            here=f"127.0.0.1:{server.port}", elsewhere=f"127.0.0.1:{server.port + 1}"
        )
    url = server.ws_url(f"/ws/lobby?token={token('alice')}")
    if accepted:
        async with connect(url, origin=origin) as ws:
            assert (await receive(ws))["type"] == "welcome"
    else:
        assert await refused(url, origin=origin) == 403


async def test_cross_site_hijacking_with_the_victims_cookie(start) -> None:
    """A page on another port opens a socket; the browser adds the victim's cookie."""
    victim_cookie = {"Cookie": f"{COOKIE}={token('victim')}"}
    attacker = "http://127.0.0.1:1"  # any other origin; cookies ignore ports (RFC 6265 §8.5)
    naive = start(allowed_origins=["*"])
    url = naive.ws_url("/ws/lobby")
    async with connect(url, origin=attacker, additional_headers=victim_cookie) as ws:
        assert (await receive(ws))["user"] == "victim"  # the attack works without the check
    guarded = start()
    url = guarded.ws_url("/ws/lobby")
    assert await refused(url, origin=attacker, additional_headers=victim_cookie) == 403


async def test_cors_middleware_does_not_cover_websockets(start) -> None:
    app = create_app(secret=SECRET, allowed_origins=["*"])
    app.add_middleware(CORSMiddleware, allow_origins=["http://good.example"])
    server = start(app)
    evil = "http://evil.example"
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        response = await http.get("/healthz", headers={"Origin": evil})
    assert "access-control-allow-origin" not in response.headers  # CORS works for HTTP...
    url = server.ws_url(f"/ws/lobby?token={token('alice')}")
    async with connect(url, origin=evil) as ws:  # ...and does nothing for a WebSocket
        assert (await receive(ws))["type"] == "welcome"


# -- limits ----------------------------------------------------------------------------------


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=3, clock=clock)  # times in exact binary fractions
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.125  # half a token back
    assert not bucket.take()
    clock.now += 0.125  # one token back
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 60  # a long pause refills the bucket only up to the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


async def test_an_oversized_frame_closes_with_1009_and_the_others_keep_talking(start) -> None:
    server = start(uvicorn_options={"ws_max_size": 1024})
    async with join(server, "alice") as alice, join(server, "bob") as bob:
        await receive(alice, "joined")
        await say(bob, "y" * 2000)
        close = await closed(bob)
        assert close.rcvd is not None and close.rcvd.code == 1009
        assert await receive(alice, "left") == {"type": "left", "room": "lobby", "user": "bob"}
        await say(alice, "y" * 900)  # under the limit: fine
        assert (await receive(alice, "said"))["seq"] == 1


async def test_a_flood_is_limited_and_the_others_lose_nothing(start) -> None:
    server = start(rate=20, burst=5)
    async with (
        join(server, "alice") as alice,
        join(server, "bob") as bob,
        join(server, "flooder", compression=None) as flooder,
    ):
        await receive(alice, "joined")
        await receive(alice, "joined")
        await receive(bob, "joined")

        async def flood() -> int:
            sent = 0
            with contextlib.suppress(ConnectionClosed):
                for n in range(2000):
                    await say(flooder, f"spam {n}")
                    sent += 1
            return sent

        loop = asyncio.get_running_loop()
        began = loop.time()
        flooding = asyncio.create_task(flood())
        for n in range(5):  # alice talks within her own limits while the flood runs
            await say(alice, f"alice {n}")
            await asyncio.sleep(0.06)  # 16 messages a second, under alice's rate of 20
        sent = await flooding

        received = []
        async with asyncio.timeout(TIMEOUT):
            while sum(m["user"] == "alice" for m in received) < 5:
                received.append(await receive(bob, "said"))
        elapsed = loop.time() - began
        assert [m["text"] for m in received if m["user"] == "alice"] == [
            f"alice {n}" for n in range(5)
        ]
        assert [m["seq"] for m in received] == list(range(1, len(received) + 1))
        spam = [m for m in received if m["user"] == "flooder"]
        assert sent == 2000
        assert len(spam) <= 5 + 20 * elapsed + 1  # the burst, then the rate

        replies = []
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            async with asyncio.timeout(1):
                while True:
                    replies.append(json.loads(await flooder.recv()))
        assert any(reply.get("error") == "rate_limited" for reply in replies)
    await still_talking(server)


async def test_connections_per_user_are_capped(start) -> None:
    app = create_app(secret=SECRET, max_connections=2)
    server = start(app)
    async with join(server, "alice"), join(server, "alice") as second, join(server, "bob"):
        url = server.ws_url(f"/ws/lobby?token={token('alice')}")
        async with connect(url) as third:
            close = await closed(third)
        assert close.rcvd is not None
        assert close.rcvd.code == 1008
        assert "too many connections" in close.rcvd.reason
        await second.close()
        async with asyncio.timeout(TIMEOUT):  # the server hears of the close on its own loop
            while app.state.connections.open["alice"] > 1:
                await asyncio.sleep(0.01)
        async with join(server, "alice") as again:
            await say(again, "back in")
            assert (await receive(again, "said"))["text"] == "back in"


# -- what clients send -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("", "invalid_json"),
        ("{", "invalid_json"),
        ("[" * 100_000, "invalid_json"),
        ('{"type": "say", "text": "\\ud800"}', "invalid_json"),
        ("null", "invalid_message"),
        ("1e999999", "invalid_message"),
        ('{"type": null}', "invalid_message"),
        ('{"type": ["say"], "text": "hi"}', "invalid_message"),
        ('{"type": "say", "text": {"$gt": ""}}', "invalid_message"),
        ('{"type": "said", "text": "hi", "seq": 1}', "invalid_message"),
        ('{"type": "welcome"}', "invalid_message"),
        ('{"type": "say", "text": "' + "é" * 101 + '"}', "too_long"),
        (b"\x00\xff", "invalid_message"),
    ],
)
async def test_every_bad_message_gets_a_contract_error(start, frame: str, error: str) -> None:
    server = start(max_text=100, uvicorn_options={"ws_max_size": 200_000})
    async with join(server, "alice") as alice, join(server, "bob") as bob:
        await receive(alice, "joined")
        await alice.send(frame)
        reply = await receive(alice)
        assert (reply["type"], reply["error"]) == ("error", error)
        await say(alice, "fine")
        for ws in (alice, bob):  # the error went to alice only; the room carries on
            assert (await receive(ws, "said"))["text"] == "fine"


async def test_an_error_never_repeats_what_the_client_sent(start) -> None:
    server = start()
    async with join(server, "alice") as alice:
        for frame in ['{"type": "<img src=x onerror=alert(1)>"}', '{"<b>": 1}']:
            await alice.send(frame)
            reply = await receive(alice, "error")
            assert "<" not in reply["detail"]


async def test_invalid_utf8_in_a_text_frame_closes_with_1007(start) -> None:
    # uvicorn's default WebSocket implementation closes properly but logs the decoding
    # error with a traceback at ERROR level: its own doing, not the app's.
    server = start(check_logs=False)
    async with join(server, "alice") as alice, join(server, "mallory") as mallory:
        await receive(alice, "joined")
        await mallory.send(b'{"type": "say", "text": "\xff"}', text=True)
        close = await closed(mallory)
        assert close.rcvd is not None and close.rcvd.code == 1007  # RFC 6455 §8.1
        assert (await receive(alice, "left"))["user"] == "mallory"
    await still_talking(server)
    server.stop()
    assert [line for line in server.logs if "ERROR" in line] == [INVALID_UTF8_LOG]
    assert "UnicodeDecodeError" in "\n".join(server.logs)
    assert not [line for line in server.logs if "Exception in ASGI application" in line]


# -- anything at all: property-based ---------------------------------------------------------

MAX_TEXT = 50
MAX_SIZE = 600

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
near_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["say", "ping", "said", "pong", "error", "SAY", ""]) | st.text()},
    optional={"text": st.text(max_size=2 * MAX_TEXT) | json_values, "seq": json_values},
)
valid_messages = st.one_of(
    st.text(min_size=1, max_size=MAX_TEXT).map(lambda text: {"type": "say", "text": text}),
    st.dictionaries(st.text(max_size=8), json_values, max_size=2).map(
        lambda extra: {**extra, "type": "ping"}
    ),
)
frames = st.one_of(
    valid_messages.map(json.dumps),
    near_messages.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.integers(MAX_SIZE + 1, 4 * MAX_SIZE).map(
        lambda n: json.dumps({"type": "say", "text": "x" * n})
    ),
)


def expected_reply(frame: str | bytes) -> str:
    """What the contract promises for ``frame``, worked out independently of the server."""
    if len(frame if isinstance(frame, bytes) else frame.encode()) > MAX_SIZE:
        return "close 1009"
    if isinstance(frame, bytes):
        return "error"
    try:
        value = json.loads(frame)
    except ValueError:
        return "error"
    if isinstance(value, dict) and value.get("type") == "ping":
        return "pong"
    if isinstance(value, dict) and value.get("type") == "say":
        text = value.get("text")
        if isinstance(text, str) and 1 <= len(text) <= MAX_TEXT:
            return "said"
    return "error"


class Fuzzer:
    """One connection at a time, opened again after the server closed the last one."""

    def __init__(self, server: RunningServer, stack: contextlib.ExitStack) -> None:
        self.server = server
        self.stack = stack
        self.ws: SyncConnection | None = None
        self.closes: list[int] = []
        self.replies: collections.Counter[str] = collections.Counter()

    def connection(self) -> SyncConnection:
        if self.ws is None:
            url = self.server.ws_url(f"/ws/lobby?token={token('fuzzer')}")
            self.ws = self.stack.enter_context(
                connect_sync(url, open_timeout=TIMEOUT, compression=None)
            )
            assert json.loads(self.ws.recv(timeout=TIMEOUT))["type"] == "welcome"
        return self.ws

    def throw(self, frame: str | bytes) -> str:
        """Send ``frame``; return what came back: a message type, or ``close <code>``."""
        reply = self._throw(frame)
        self.replies[reply] += 1
        return reply

    def _throw(self, frame: str | bytes) -> str:
        ws = self.connection()
        try:
            ws.send(frame)
            while True:
                message = json.loads(ws.recv(timeout=TIMEOUT))
                server_message.validate_python(message)
                if message["type"] == "error":
                    assert message["error"] in ERROR_CODES
                if message["type"] in ("said", "pong", "error"):
                    return message["type"]
        except ConnectionClosed as exc:
            self.ws = None
            assert exc.rcvd is not None, "the server dropped the connection without a close frame"
            self.closes.append(exc.rcvd.code)
            return f"close {exc.rcvd.code}"


def drain(ws: SyncConnection, into: list[dict[str, Any]]) -> None:
    with contextlib.suppress(TimeoutError):
        while True:
            into.append(json.loads(ws.recv(timeout=0)))


def test_anything_a_client_sends_gets_a_contract_answer() -> None:
    app = create_app(secret=SECRET, max_text=MAX_TEXT, rate=100_000, burst=100_000)
    with serve(app, ws_max_size=MAX_SIZE) as server, contextlib.ExitStack() as stack:
        fuzzer = Fuzzer(server, stack)
        seen: list[dict[str, Any]] = []
        url = server.ws_url(f"/ws/lobby?token={token('bystander')}")
        bystander = stack.enter_context(connect_sync(url, open_timeout=TIMEOUT))

        @settings(
            max_examples=150,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(frame=frames)
        def throw(frame: str | bytes) -> None:
            reply = fuzzer.throw(frame)
            expected = expected_reply(frame)
            assert reply == expected, f"{frame!r}: expected {expected}, got {reply}"
            drain(bystander, seen)

        throw()
        said = [m for m in seen if m["type"] == "said"]
        for message in seen:
            server_message.validate_python(message)
        assert [m["seq"] for m in said] == list(range(1, len(said) + 1))
        bystander.send(json.dumps({"type": "ping"}))  # and it is still connected
        while json.loads(bystander.recv(timeout=TIMEOUT))["type"] != "pong":
            pass
    # Every kind of answer came up, so the examples covered the contract.
    assert set(fuzzer.replies) == {"error", "said", "pong", "close 1009"}, fuzzer.replies
    assert set(fuzzer.closes) == {1009}
    assert not [line for line in server.logs if "Traceback" in line or "ERROR" in line]


# -- authentication the FastAPI way (the lesson's small endpoints) --------------------------


def token_user(
    token: Annotated[str | None, Query()] = None,
    chat_token: Annotated[str | None, Cookie()] = None,
    x_chat_token: Annotated[str | None, Header()] = None,
) -> str:
    """Lesson 10's dependency: a valid token from the query, a cookie or a header."""
    found = token or chat_token or x_chat_token
    try:
        return tokens.verify(found or "", SECRET)
    except tokens.InvalidToken as exc:
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, str(exc)) from None


def protocol_user(websocket: WebSocket) -> str:
    for offered in websocket.scope["subprotocols"]:
        if offered.startswith("token."):
            with contextlib.suppress(tokens.InvalidToken):
                return tokens.verify(offered.removeprefix("token."), SECRET)
    raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "no valid token subprotocol")


open_per_user: collections.Counter[str] = collections.Counter()


def limited_user(user: Annotated[str, Depends(token_user)]) -> Iterator[str]:
    """At most two connections per user, held by a dependency with ``yield``."""
    if open_per_user[user] >= 2:
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "too many connections")
    open_per_user[user] += 1
    try:
        yield user
    finally:
        open_per_user[user] -= 1


class Banned(Exception):
    pass


def gate() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(Banned)
    async def on_banned(websocket: WebSocket, exc: Banned) -> None:
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "banned")

    @app.websocket("/dependency")
    async def dependency(websocket: WebSocket, user: Annotated[str, Depends(token_user)]) -> None:
        await websocket.accept()
        await websocket.send_text(user)

    @app.websocket("/after")
    async def after(websocket: WebSocket, token: str = "") -> None:
        await websocket.accept()
        try:
            tokens.verify(token, SECRET)
        except tokens.InvalidToken as exc:
            await websocket.close(status.WS_1008_POLICY_VIOLATION, f"bad token: {exc}")

    @app.websocket("/protocol")
    async def protocol(websocket: WebSocket, user: Annotated[str, Depends(protocol_user)]) -> None:
        await websocket.accept(subprotocol="chat.v1")
        await websocket.send_text(user)

    @app.websocket("/first-message")
    async def first_message(websocket: WebSocket, within: float = TIMEOUT) -> None:
        await websocket.accept()
        try:
            async with asyncio.timeout(within):
                hello = json.loads(await websocket.receive_text())
            user = tokens.verify(hello["token"], SECRET)
        except TimeoutError:
            return await websocket.close(status.WS_1008_POLICY_VIOLATION, "too slow")
        except (ValueError, KeyError, TypeError):
            return await websocket.close(status.WS_1008_POLICY_VIOLATION, "bad token")
        await websocket.send_text(user)

    @app.websocket("/until-expiry")
    async def until_expiry(websocket: WebSocket, token: str = "") -> None:
        exp = json.loads(base64.urlsafe_b64decode(token.partition(".")[0] + "=="))["exp"]
        tokens.verify(token, SECRET)
        await websocket.accept()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(loop.time() + exp - time.time()):
                while True:
                    await websocket.send_text(await websocket.receive_text())
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "token expired")

    @app.websocket("/limited")
    async def limited(websocket: WebSocket, user: Annotated[str, Depends(limited_user)]) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()

    @app.websocket("/http-before")
    async def http_before(websocket: WebSocket) -> None:
        raise HTTPException(401, "log in first")

    @app.websocket("/http-after")
    async def http_after(websocket: WebSocket) -> None:
        await websocket.accept()
        raise HTTPException(401, "log in first")

    @app.websocket("/banned")
    async def banned(websocket: WebSocket) -> None:
        raise Banned

    return app


@pytest.fixture
def gate_server() -> Iterator[RunningServer]:
    with serve(gate()) as server:
        yield server


async def first_text(url: str, **options: Any) -> str:
    async with asyncio.timeout(TIMEOUT), connect(url, **options) as ws:
        return str(await ws.recv())


@pytest.mark.parametrize(
    "where",
    [
        {"query": True},
        {"additional_headers": {"Cookie": "chat_token={token}"}},
        {"additional_headers": {"X-Chat-Token": "{token}"}},
    ],
    ids=["query", "cookie", "header"],
)
async def test_a_dependency_reads_the_token_from_query_cookie_or_header(
    gate_server: RunningServer, where: dict[str, Any]
) -> None:
    good = token("ada")
    url = gate_server.ws_url("/dependency")
    if where.get("query"):
        assert await first_text(f"{url}?token={good}") == "ada"
    else:
        headers = {k: v.format(token=good) for k, v in where["additional_headers"].items()}
        assert await first_text(url, additional_headers=headers) == "ada"
    for bad in (tokens.issue("ada", "another secret"), token("ada", ttl=-1)):
        assert await refused(f"{url}?token={bad}") == 403  # refused before accept()
    assert await refused(url) == 403


async def test_refusing_after_accept_closes_with_1008_and_a_reason(
    gate_server: RunningServer,
) -> None:
    async with connect(gate_server.ws_url("/after?token=nonsense")) as ws:
        info = await closed(ws)
    assert info.rcvd is not None
    assert (info.rcvd.code, info.rcvd.reason) == (1008, "bad token: bad signature")


async def test_a_token_in_the_subprotocol_is_checked_and_another_name_chosen(
    gate_server: RunningServer,
) -> None:
    url = gate_server.ws_url("/protocol")
    async with connect(url, subprotocols=["chat.v1", f"token.{token('ada')}"]) as ws:
        assert ws.subprotocol == "chat.v1"  # never the token
        assert await ws.recv() == "ada"
    assert await refused(url, subprotocols=["chat.v1", "token.forged"]) == 403
    assert await refused(url, subprotocols=["chat.v1"]) == 403


@pytest.mark.parametrize(
    ("first", "outcome"),
    [
        ({"token": token("ada")}, "ada"),
        ({"token": "nonsense"}, "close 1008 bad token"),
        ("not json", "close 1008 bad token"),
        (None, "close 1008 too slow"),
    ],
    ids=["good", "bad token", "not json", "silent"],
)
async def test_first_message_authentication(
    gate_server: RunningServer, first: Any, outcome: str
) -> None:
    within = TIMEOUT if first is not None else 0.1  # only the silent client meets the deadline
    async with connect(gate_server.ws_url(f"/first-message?within={within}")) as ws:
        if first is not None:
            await ws.send(first if isinstance(first, str) else json.dumps(first))
        try:
            async with asyncio.timeout(TIMEOUT):
                got = str(await ws.recv())
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            got = f"close {exc.rcvd.code} {exc.rcvd.reason}"
    assert got == outcome


async def test_a_connection_ends_when_its_token_expires(gate_server: RunningServer) -> None:
    short = token("ada", ttl=2)  # long enough for one echo on a busy machine
    async with connect(gate_server.ws_url(f"/until-expiry?token={short}")) as ws:
        await ws.send("still me?")
        assert await ws.recv() == "still me?"
        info = await closed(ws)
    assert info.rcvd is not None
    assert (info.rcvd.code, info.rcvd.reason) == (1008, "token expired")


async def test_a_dependency_with_yield_caps_connections_per_user(
    gate_server: RunningServer,
) -> None:
    url = gate_server.ws_url(f"/limited?token={token('carol')}")
    async with connect(url), connect(url):
        assert await refused(url) == 403
    async with asyncio.timeout(TIMEOUT):  # the slots come back once both have closed
        while open_per_user["carol"]:
            await asyncio.sleep(0.01)
    async with connect(url):
        pass


async def test_http_exception_and_exception_handlers_on_websocket_routes(
    gate_server: RunningServer,
) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with asyncio.timeout(TIMEOUT):
            await connect(gate_server.ws_url("/http-before"))
    assert info.value.response.status_code == 401  # a denial response, with its body
    assert json.loads(bytes(info.value.response.body)) == {"detail": "log in first"}
    async with connect(gate_server.ws_url("/http-after")) as ws:
        assert (await closed(ws)).rcvd is None  # too late for HTTP: the connection breaks
    assert await refused(gate_server.ws_url("/banned")) == 403  # the handler closed it
    assert any("Exception in ASGI application" in line for line in gate_server.logs)


async def test_http_middleware_never_sees_a_websocket_and_asgi_middleware_does(start) -> None:
    app = create_app(secret=SECRET)
    http_seen: list[str] = []
    asgi_seen: list[str] = []

    @app.middleware("http")
    async def note(request: Request, call_next: Any) -> Response:
        http_seen.append(request.url.path)
        return await call_next(request)

    def recorder(inner: Any) -> Any:
        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            asgi_seen.append(f"{scope['type']} {scope['path']}")
            await inner(scope, receive, send)

        return asgi

    app.add_middleware(recorder)  # type: ignore[arg-type]
    server = start(app)
    async with httpx.AsyncClient() as http:
        assert (await http.get(server.url + "/healthz")).status_code == 200
    async with join(server, "ada"):
        pass
    assert http_seen == ["/healthz"]
    assert asgi_seen == ["http /healthz", "websocket /ws/lobby"]
