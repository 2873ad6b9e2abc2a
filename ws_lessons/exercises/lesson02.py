"""Exercises of lesson 02: Server-Sent Events, a full-duplex WebSocket, choosing a transport."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Header, Request, WebSocket, WebSocketDisconnect
from fastapi.sse import EventSourceResponse, ServerSentEvent
from httpx_sse import connect_sse
from websockets.exceptions import ConnectionClosed

from ws_lessons.exercises.core import TIMEOUT, Hint, connected, exercise, served
from ws_lessons.exercises.lesson01 import build
from ws_lessons.feeds import Ticker
from ws_lessons.i18n import N_, Message, _

__all__ = [
    "CHOICES",
    "SCENARIOS",
    "STORY_02_1",
    "check_02_1",
    "check_02_2",
    "check_02_3",
    "solution_02_1",
    "solution_02_2",
    "solution_02_3",
]

# 02.1 -------------------------------------------------------------------------------------------

STORY_02_1 = Message(
    N_(
        "A browser's EventSource follows GET /sse. It has received events 1, 2 and 3 when its "
        "connection drops. While it is away, events 4 and 5 are published. It reconnects by "
        "itself, and then event 6 is published."
    )
)


def _start(request: Request, last_event_id: Annotated[int | None, Header()] = None) -> int:
    """Where the stream starts. A dependency runs before the response begins: once the
    client has the headers, "from now on" is fixed, and the check can publish safely."""
    ticker = request.app.state.ticker
    return ticker.last_id if last_event_id is None else last_event_id


def _sse_app(ticker: Ticker, with_ids: bool) -> FastAPI:
    """Lesson 02's /sse; ``with_ids=False`` drops the ``id`` field of every message."""
    app = FastAPI()
    app.state.ticker = ticker

    @app.get("/sse", response_class=EventSourceResponse)
    async def sse(after: Annotated[int, Depends(_start)]) -> AsyncIterator[ServerSentEvent]:
        async for event in ticker.follow(after):
            yield ServerSentEvent(data=event.as_dict(), id=str(event.id) if with_ids else None)

    return app


def _browser_session(with_ids: bool) -> list[int]:
    """What a browser receives after reconnecting, in STORY_02_1, from the real endpoint.

    Like an EventSource (HTML, "Server-sent events" §9.2), the client remembers the last
    ``id`` it saw and sends it as ``Last-Event-ID`` when it reconnects, if it has one.
    """
    ticker = Ticker(rate=None)
    with (
        served(_sse_app(ticker, with_ids), "02.1") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
    ):
        last_id = ""
        with connect_sse(http, "GET", "/sse") as source:
            for _event in range(3):
                ticker.publish()
            for _event, message in zip(range(3), source.iter_sse(), strict=False):
                last_id = message.id or last_id
        ticker.publish(), ticker.publish()  # while the browser is away
        headers = {"Last-Event-ID": last_id} if last_id else {}
        received = []
        with connect_sse(http, "GET", "/sse", headers=headers) as source:
            ticker.publish()
            for message in source.iter_sse():
                received.append(json.loads(message.data)["id"])
                if received[-1] == 6:
                    break
    return received


def _as_ids(value: Any, key: str) -> list[int]:
    try:
        return [int(n) for n in value]
    except (TypeError, ValueError):
        raise Hint(
            _("{key!r}: give a list of event ids, like [1, 2], not {value!r}").format(
                key=key, value=value
            )
        ) from None


@exercise(
    "02.1",
    nudge="Look at the bytes of the stream printed in the lesson: which line of each "
    "message could the browser remember, and which request header carries it back?",
    hint="The browser remembers the last `id` it received and sends it as Last-Event-ID "
    "when it reconnects; with no id ever received, it sends no such header. Then read "
    "what the endpoint does with that header, and with its absence.",
)
def check_02_1(prediction: Any) -> str:
    """{"with ids": [...], "without ids": [...]}: the events the browser of STORY_02_1 gets
    after reconnecting, from the lesson's /sse, and from /sse with no ``id`` field."""
    if not isinstance(prediction, dict) or set(prediction) != {"with ids", "without ids"}:
        raise Hint(_('answer with a dict {"with ids": [...], "without ids": [...]}'))
    with_ids = _as_ids(prediction["with ids"], "with ids")
    without_ids = _as_ids(prediction["without ids"], "without ids")
    if 6 not in with_ids or 6 not in without_ids:
        raise Hint(
            _(
                "event 6 is published after the browser is back, on a stream that is open: "
                "it arrives in both cases. Which of the others arrive too?"
            )
        )
    if with_ids == [3, 4, 5, 6]:
        raise Hint(
            _(
                "'with ids': Last-Event-ID: 3 names the last event the browser got, and the "
                "endpoint follows the events *after* it"
            )
        )
    if with_ids == [6]:
        raise Hint(
            _(
                "'with ids': the browser sends Last-Event-ID: 3 when it reconnects, so the "
                "endpoint does not start from now: where does it start?"
            )
        )
    if without_ids == [4, 5, 6]:
        raise Hint(
            _(
                "'without ids': with no id ever received, the browser sends no Last-Event-ID, "
                "and the endpoint's default is 'from now on'"
            )
        )
    if without_ids == [1, 2, 3, 4, 5, 6]:
        raise Hint(
            _(
                "'without ids': without the header the endpoint starts from now, not from the "
                "first event it still remembers"
            )
        )
    live = {"with ids": _browser_session(True), "without ids": _browser_session(False)}
    for key, guess in (("with ids", with_ids), ("without ids", without_ids)):
        if guess != live[key]:
            raise Hint(
                _(
                    "{key!r}: a real browser session did not get {guess}. Walk through the "
                    "story again: which Last-Event-ID does the browser send, if any?"
                ).format(key=key, guess=guess)
            )
    return _(
        "a real session agrees: {with_ids} with ids, only {without_ids} "
        "without: an id is what lets a stream resume"
    ).format(with_ids=live["with ids"], without_ids=live["without ids"])


@exercise(
    "02.2",
    nudge="Lesson 02 has both halves already: the /ws endpoint pushes events from a task, "
    "and the /talk endpoint reads the client's messages while its own task speaks.",
    hint="One task sends the ticker's events; meanwhile the endpoint itself loops on the "
    "client's messages and answers each ping. When the client leaves, the loop ends: "
    "cancel the task then, or it keeps running for a client that is gone.",
)
def check_02_2(make_app: Any) -> str:
    """WS /ws?after=<id> pushes every event after id, and answers "ping" with "pong" meanwhile."""
    ticker = Ticker(rate=None)
    app = build(make_app, ticker)
    with served(app, "02.2") as server:
        ticker.publish()
        ticker.publish()
        try:
            with connected(server, "/ws?after=0") as ws:
                # 1. The server speaks first: events 1 and 2 arrive before the client says a word.
                events, pongs = _receive(ws, lambda events, pongs: len(events) >= 2)
                if not events:
                    raise Hint(
                        _(
                            "no event arrived before the client said anything: the server must "
                            "push them by itself, from a task that follows the ticker"
                        )
                    )
                # 2. Both directions at once: a ping goes up while event 3 comes down.
                ws.send("ping")
                ticker.publish()
                more, pongs = _receive(ws, lambda events, pongs: len(events) >= 1 and pongs >= 1)
                events += more
                if not pongs:
                    raise Hint(
                        _(
                            "events arrive but 'ping' got no 'pong': read the client's messages "
                            "at the same time, in a receive loop beside the task that pushes "
                            "events"
                        )
                    )
                if events != [1, 2, 3]:
                    raise Hint(
                        _("events arrived as {events}; expected [1, 2, 3] (after `after`)").format(
                            events=events
                        )
                    )
        finally:
            # An endpoint that never reads cannot learn that the client left: stop the
            # server without waiting the usual grace period for it.
            server.stop(timeout=1.0)
    return _("one connection, both directions at once: events out, pings in, pongs out")


def _receive(ws: Any, enough: Callable[[list[int], int], bool]) -> tuple[list[int], int]:
    """Collect event ids and pongs until ``enough(events, pongs)`` or TIMEOUT seconds."""
    events: list[int] = []
    pongs = 0
    deadline = time.monotonic() + TIMEOUT
    while not enough(events, pongs):
        try:
            message = ws.recv(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            break
        except ConnectionClosed as exc:
            if exc.rcvd:
                raise Hint(
                    _(
                        "the server closed the connection with code {code}: keep the endpoint "
                        "running, with a task that pushes events and a loop that reads the "
                        "client's messages"
                    ).format(code=exc.rcvd.code)
                ) from None
            raise Hint(
                _(
                    "the server closed the connection: keep the endpoint running, with a "
                    "task that pushes events and a loop that reads the client's messages"
                )
            ) from None
        if message == "pong":
            pongs += 1
            continue
        try:
            events.append(json.loads(message)["id"])
        except (TypeError, ValueError, KeyError):
            raise Hint(
                _(
                    "got {message!r}: send each event as JSON (its as_dict()) "
                    "and answer 'ping' with the text 'pong'"
                ).format(message=message)
            ) from None
    return events, pongs


#: Lesson 02's quiz: which transport fits each situation best?
SCENARIOS = {
    "game": Message(
        N_(
            "a multiplayer game: every player's moves go to the server and out to the others, "
            "many times a second"
        )
    ),
    "build log": Message(N_("a build log shown in the browser line by line while the build runs")),
    "export": Message(N_("a page checks every minute whether a nightly export has finished")),
    "whiteboard": Message(
        N_("a shared whiteboard: everyone's strokes appear on everyone's screen as drawn")
    ),
    "notifications": Message(N_("a bell icon that lights up when someone comments on your post")),
    "daily total": Message(N_("yesterday's sales total, which changes once a day")),
}
CHOICES = ("polling", "sse", "websocket")
_BEST = {  # the best choice, and a clue for those who chose otherwise
    "game": ("websocket", N_("clients send as much as they receive, many times a second")),
    "build log": ("sse", N_("after asking, the browser only listens to a stream of lines")),
    "export": ("polling", N_("the news comes once, minutes away: a request a minute is cheap")),
    "whiteboard": ("websocket", N_("everyone draws and everyone watches, continuously")),
    "notifications": ("sse", N_("the server speaks first; the browser only listens")),
    "daily total": ("polling", N_("it changes once a day: an ordinary, cacheable GET is enough")),
}


@exercise(
    "02.3",
    nudge="For each situation ask two questions: who has something to say, and how often?",
    hint="Both sides often: the one connection that carries both ways. Only the server, "
    "continuously: one response that never ends. Rarely, or when a little delay does "
    "not matter: plain requests, which cache and scale best.",
)
def check_02_3(answer: Any) -> str:
    """A dict: each key of SCENARIOS → "polling", "sse" or "websocket"."""
    if not isinstance(answer, dict):
        raise Hint(
            _("answer with a dict like {{'game': 'websocket', ...}}, not {type}").format(
                type=type(answer).__name__
            )
        )
    missing = [key for key in SCENARIOS if key not in answer]
    if missing:
        raise Hint(
            _("give a choice for every scenario; missing: {missing}").format(
                missing=", ".join(missing)
            )
        )
    for key, (best, clue) in _BEST.items():
        choice = str(answer[key]).strip().lower()
        if choice not in CHOICES:
            raise Hint(
                _("{key!r}: choose one of {choices}, not {choice!r}").format(
                    key=key, choices=", ".join(CHOICES), choice=answer[key]
                )
            )
        if choice != best:
            raise Hint(
                _(
                    "{key!r}: think again about {choice!r}. Who sends, and how often? ({clue})"
                ).format(key=key, choice=choice, clue=_(clue))
            )
    return _("each situation gets the simplest tool that does the job")


# Reference answers


def solution_02_1() -> dict[str, list[int]]:
    # With ids, the browser reconnects with Last-Event-ID: 3 and misses nothing.
    # Without, it sends no header, and the endpoint starts from now: 4 and 5 are lost.
    return {"with ids": [4, 5, 6], "without ids": [6]}


def solution_02_2() -> Callable[[Ticker], FastAPI]:
    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI(lifespan=ticker.lifespan)

        @app.websocket("/ws")
        async def ws(websocket: WebSocket, after: int = 0) -> None:
            await websocket.accept()

            async def push() -> None:
                async for event in ticker.follow(after):
                    await websocket.send_json(event.as_dict())

            pusher = asyncio.create_task(push())
            try:
                while True:
                    if await websocket.receive_text() == "ping":
                        await websocket.send_text("pong")
            except WebSocketDisconnect:
                pass
            finally:
                pusher.cancel()

        return app

    return make_app


def solution_02_3() -> dict[str, str]:
    return {key: best for key, (best, _clue) in _BEST.items()}
