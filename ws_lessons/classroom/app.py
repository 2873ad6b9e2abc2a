"""The class server: learners' kernels report verdicts, the dashboard shows them live.

- ``WS /learn``: a kernel says :class:`~.models.Hello` with the class code, then sends a
  verdict per check; each is stored (once per id) and acknowledged, then shown.
- ``WS /watch?token=...&since=SEQ``: the dashboard; it gets the events after ``since``
  from the file, then live ones, each once (the chat's resume, lesson 09).
- ``GET /``: the dashboard page; ``GET /export.csv?token=...``: the grid as CSV.

A write goes to SQLite on a worker thread and is published under one lock, so events
reach every dashboard in ``seq`` order and the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import importlib.resources
import ipaddress
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, WebSocket
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from ws_lessons.chat.ratelimit import TokenBucket
from ws_lessons.frames import CloseCode

from .hub import Hub, Outbox
from .models import (
    MESSAGE_SIZE,
    Ack,
    Announce,
    Error,
    Hello,
    Ping,
    Pong,
    Start,
    Verdict,
    Welcome,
    parse_instructor,
    parse_learner,
)
from .store import MAX_LEARNERS, ClassFull, Store

__all__ = [
    "DEFAULT_DB",
    "HELLO_TIMEOUT",
    "LEARNER_OUTBOX",
    "MAX_CONNECTIONS",
    "addresses",
    "create_app",
    "exercise_numbers",
    "run",
]

HELLO_TIMEOUT = 10.0
MAX_CONNECTIONS = 1000
"""Learners' connections at once; the next is closed with 1013 Try Again Later."""
LEARNER_OUTBOX = 256
"""Acks and announcements a kernel may fall behind by before it is dropped (it reconnects)."""
DEFAULT_DB = "classroom.sqlite3"


def exercise_numbers() -> list[str]:
    """Every exercise of the course, in order: the dashboard's columns."""
    import ws_lessons.checks  # noqa: F401  (registers every check's help)
    from ws_lessons.exercises.core import HELP

    return sorted(HELP)


def create_app(
    db: str | Path = ":memory:",
    *,
    rate: float = 5.0,
    burst: int = 100,
    learners: int = MAX_LEARNERS,
) -> FastAPI:
    """The class server's app, keeping the class in ``db`` (a SQLite file).

    ``rate`` and ``burst``: messages a second one connection may send, on average and at
    once (a kernel back from a lost connection sends what it kept in one go). ``learners``:
    names the class takes (a kernel under a name it has goes on in its row).
    """
    store = Store(db, learners)
    hub = Hub()
    exercises = exercise_numbers()

    async def write(action: Callable[..., Any], *args: Any) -> Any:
        """Run a store write off the loop, then publish its event, in ``seq`` order."""
        async with app.state.writing:
            event = await asyncio.to_thread(action, *args)
            if event is not None:
                hub.publish(event)
            return event

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.writing = asyncio.Lock()  # one per run: a lock belongs to its event loop
        yield
        await hub.close_all()
        await asyncio.sleep(0.1)  # let the close frames out

    app = FastAPI(title="ws-lessons classroom", lifespan=lifespan)
    app.state.store, app.state.hub = store, hub

    def instructor(token: str) -> bool:
        return hmac.compare_digest(token.encode(), store.token.encode())

    @app.get("/", response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        page = importlib.resources.files(__package__).joinpath("static/dashboard.html")
        headers = {
            # The token is in the address: never send it on to another site.
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            # Names are shown as text; should one ever slip into markup, it loads nothing.
            "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        }
        return HTMLResponse(page.read_text(encoding="utf-8"), headers=headers)

    @app.get("/export.csv")
    async def export(token: str = "") -> Response:
        if not instructor(token):
            return PlainTextResponse("wrong instructor token\n", status_code=403)
        text = await asyncio.to_thread(store.export_csv, exercises)
        disposition = 'attachment; filename="classroom.csv"'
        return Response(
            text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition}
        )

    @app.websocket("/learn")
    async def learn(websocket: WebSocket) -> None:
        await websocket.accept()
        if len(hub.learners) >= MAX_CONNECTIONS:
            await websocket.close(CloseCode.TRY_AGAIN_LATER, "the class is full")
            return
        hello = await _hello(websocket)
        if hello is None:
            return
        if not hmac.compare_digest(hello.code.strip().upper().encode(), store.code.encode()):
            await websocket.close(CloseCode.POLICY_VIOLATION, "wrong class code")
            return
        name = hello.name
        try:
            await write(store.join, name)
        except ClassFull:
            await websocket.close(CloseCode.POLICY_VIOLATION, "the class is full")
            return
        outbox = Outbox(websocket, LEARNER_OUTBOX)
        hub.learners.add(outbox)  # before reading the file: no announcement falls in between
        bucket = TokenBucket(rate, burst)

        async def receive(data: str | bytes) -> None:
            message = parse_learner(data)
            if isinstance(message, Verdict):
                if not bucket.take():
                    detail = f"over {rate:g} messages a second: send it again later"
                    outbox.send(Error(error="rate_limited", detail=detail, id=message.id))
                    return
                await write(store.judge, name, message)
                outbox.send(Ack(id=message.id))  # stored: the kernel may forget it
            elif isinstance(message, Hello):
                outbox.send(Error(error="invalid_message", detail="already joined"))
            else:
                outbox.send(message)

        try:
            # One that lands in both is shown once: the kernel keeps announcements by seq.
            announcements = await asyncio.to_thread(store.announcements, hello.since)
            welcome = Welcome(name=name, announcements=announcements).model_dump_json()
            await outbox.run([welcome], receive)
        finally:
            hub.learners.discard(outbox)

    @app.websocket("/watch")
    async def watch(websocket: WebSocket, token: str = "", since: int = Query(0, ge=0)) -> None:
        await websocket.accept()
        if not instructor(token):
            # Accepted first, so that the page can read why in the close frame.
            await websocket.close(CloseCode.POLICY_VIOLATION, "wrong instructor token")
            return
        outbox = Outbox(websocket)
        hub.dashboards.add(outbox)  # before reading the file: no event falls in between
        try:
            events = await asyncio.to_thread(store.events, since)
            outbox.seq = events[-1].seq if events else since
            start = Start(seq=outbox.seq, exercises=exercises)
            backlog = [start.model_dump_json(), *(event.model_dump_json() for event in events)]
            bucket = TokenBucket(1.0, 5)

            async def receive(data: str | bytes) -> None:
                message = parse_instructor(data)
                if isinstance(message, Ping):
                    outbox.send(Pong())
                elif isinstance(message, Announce):
                    if bucket.take():
                        await write(store.announce, message.text)
                    else:
                        detail = "one announcement a second at most"
                        outbox.send(Error(error="rate_limited", detail=detail))
                else:
                    outbox.send(message)

            await outbox.run(backlog, receive)
        finally:
            hub.dashboards.discard(outbox)

    return app


async def _hello(websocket: WebSocket) -> Hello | None:
    """The learner's first frame, which must be a hello; else close with the reason."""
    try:
        async with asyncio.timeout(HELLO_TIMEOUT):
            frame = await websocket.receive()
    except TimeoutError:
        await websocket.close(CloseCode.POLICY_VIOLATION, "no hello")
        return None
    if frame["type"] == "websocket.disconnect":
        return None
    message = parse_learner(frame.get("text") or frame.get("bytes") or b"")
    if isinstance(message, Hello):
        return message
    reason = message.detail if isinstance(message, Error) else "say hello first"
    # A close frame's reason is at most 123 bytes of UTF-8 (RFC 6455, section 5.5).
    await websocket.close(CloseCode.POLICY_VIOLATION, _cut(reason, 123))
    return None


def _cut(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` bytes of UTF-8, never inside a character."""
    return text.encode()[:size].decode(errors="ignore")


def addresses(host: str) -> list[str]:
    """The addresses learners can use to reach ``host`` (this machine's, for 0.0.0.0)."""
    try:
        if not ipaddress.ip_address(host).is_unspecified:
            return [host]
    except ValueError:  # a name, such as localhost
        return [host]
    found: set[str] = set()
    with contextlib.suppress(OSError):
        for *_, address in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            ip = str(address[0])
            if not ipaddress.ip_address(ip).is_loopback:
                found.add(ip)
    return sorted(found) or [socket.gethostname()]


def run(host: str = "127.0.0.1", port: int = 8765, db: str | Path = DEFAULT_DB) -> None:
    """Serve a class until Ctrl-C, printing how to join it and where its dashboard is."""
    import uvicorn

    from ws_lessons.limits import PROTOCOLS

    try:
        app = create_app(db)
    except sqlite3.Error as exc:
        raise SystemExit(f"classroom: cannot keep the class in {db}: {exc}") from None
    store: Store = app.state.store
    config = uvicorn.Config(
        app, host=host, port=port, ws_max_size=MESSAGE_SIZE, log_level="warning",
        timeout_graceful_shutdown=2, **PROTOCOLS,
    )  # fmt: skip
    try:
        sock = config.bind_socket()  # uvicorn says why it could not, then exits
    except SystemExit:
        raise SystemExit(
            f"classroom: choose another --port than {port} (0: any free one)"
        ) from None
    sock.listen(config.backlog)  # learners who connect now wait until the app starts
    port = sock.getsockname()[1]
    shown = addresses(host)[0]
    print(f"class code: {store.code}")
    # The very line lesson 00's join cell has, after its "from ws_lessons import classroom".
    join = f'classroom.join_class("ws://{shown}:{port}", code="{store.code}", name="...")'
    print(f"learners run: {join}")
    print(f"dashboard: http://{shown}:{port}/?token={store.token}")
    if shown != host and len(addresses(host)) == 1 and not shown[0].isdigit():
        print(
            f"({shown} is this machine's name: if learners cannot reach it, give them its "
            "address on the room's network instead, see docs/instructor.md)",
            file=sys.stderr,
        )
    print(f"(kept in {Path(store.path).resolve()}; Ctrl-C stops)", file=sys.stderr, flush=True)
    sys.stdout.flush()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        store.close()
