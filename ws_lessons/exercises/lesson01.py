"""Exercises of lesson 01: a polling client that loses its place, and a long poll with a limit.

The check builds each app around a quiet ticker of its own, so it decides when events
happen: that is why 01.2's answer is a function ``make_app(ticker) -> FastAPI``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Query

from ws_lessons.exercises.core import TIMEOUT, Hint, exercise, require_function, served
from ws_lessons.feeds import Ticker
from ws_lessons.i18n import _

__all__ = [
    "SCHEDULE_01_1",
    "build",
    "check_01_1",
    "check_01_2",
    "get_events",
    "ids",
    "solution_01_1",
    "solution_01_2",
]


def build(make_app: Any, ticker: Ticker) -> Any:
    """Call the learner's ``make_app(ticker)``, turning every way of failing into a hint."""
    if isinstance(make_app, FastAPI) or not callable(make_app):
        raise Hint(
            _(
                "pass the function that builds the app (make_app, without calling it), not {type}"
            ).format(type=type(make_app).__name__)
        )
    try:
        app = make_app(ticker)
    except Exception as exc:
        raise Hint(
            _("make_app(ticker) raised {type}: {error}").format(type=type(exc).__name__, error=exc)
        ) from None
    if not isinstance(app, FastAPI):
        raise Hint(
            _("make_app(ticker) must end with `return app`; it returned {app!r}").format(app=app)
        )
    return app


def get_events(http: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """GET ``path`` and return the list of events it answered, or explain what is wrong."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    where = f"GET {path}?{query}"
    try:
        response = http.get(path, params=params)
    except httpx.TimeoutException:
        raise Hint(
            _("{where} did not answer within {seconds:.0f} s").format(where=where, seconds=TIMEOUT)
        ) from None
    if response.status_code == 404:
        raise Hint(
            _("{where} answered 404: is the path exactly {path!r}?").format(where=where, path=path)
        )
    if response.status_code == 422:
        raise Hint(
            _("{where} answered 422 (validation failed): {detail}").format(
                where=where, detail=response.json()["detail"]
            )
        )
    if response.status_code == 500:
        raise Hint(
            _("{where} failed on the server (HTTP 500): does it return a list?").format(where=where)
        )
    if response.status_code != 200:
        raise Hint(
            _("{where} answered {status}; expected 200").format(
                where=where, status=response.status_code
            )
        )
    events = response.json()
    if not isinstance(events, list) or not all(
        isinstance(event, dict) and {"id", "ts", "price"} <= event.keys() for event in events
    ):
        raise Hint(
            _("{where} answered {events!r}; return a list of event.as_dict()").format(
                where=where, events=events
            )
        )
    return events


def ids(events: list[dict[str, Any]]) -> list[int]:
    return [event["id"] for event in events]


# 01.1 -------------------------------------------------------------------------------------------

SCHEDULE_01_1 = [0, 2, 0, 3, 1, 0, 2]
"""How many events appear just before each poll of the check: some polls find none."""


def _busy_feed(ticker: Ticker, requests: list[int]) -> FastAPI:
    """The lesson's short poll, on a feed that publishes SCHEDULE_01_1[n] events before poll n."""
    app = FastAPI()

    @app.get("/poll")
    async def poll(after: int = 0) -> list[dict[str, Any]]:
        count = len(requests)
        requests.append(after)
        for _event in range(SCHEDULE_01_1[count] if count < len(SCHEDULE_01_1) else 0):
            ticker.publish()
        return [event.as_dict() for event in ticker.after(after)]

    return app


def _repeated(ids: list[int]) -> list[int]:
    return sorted({n for n in ids if ids.count(n) > 1})


@exercise(
    "01.1",
    nudge="Run `follow` in your head for three polls: the first brings two events, the "
    "second none. What is `after` after each poll, and what does the next poll ask for?",
    hint="`after` must always be the id of the newest event the client holds: the last one "
    "of an answer, since events come oldest first. An empty answer changes nothing, so "
    "`after` stays as it was.",
)
def check_01_1(follow: Any) -> str:
    """``follow(client, polls)`` polls /poll ``polls`` times and returns every id once, in order."""
    require_function(follow)
    ticker = Ticker(rate=None)
    requests: list[int] = []
    polls = len(SCHEDULE_01_1)
    with (
        served(_busy_feed(ticker, requests), "01.1") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as client,
    ):
        try:
            got = follow(client, polls)
        except IndexError:
            raise Hint(
                _(
                    "follow raised IndexError on poll {poll}, whose answer was []: an "
                    "empty answer has no first or last event. Move `after` only when events came"
                ).format(poll=len(requests))
            ) from None
        except Exception as exc:
            raise Hint(
                _("follow raised {type}: {error}").format(type=type(exc).__name__, error=exc)
            ) from None
    if len(requests) != polls:
        raise Hint(
            _("follow({polls}) sent {sent} requests; send exactly {polls}").format(
                polls=polls, sent=len(requests)
            )
        )
    if got is None:
        raise Hint(_("follow returns None: return the list of ids it received"))
    try:
        got = [int(n) for n in got]
    except (TypeError, ValueError):
        raise Hint(_("return a list of event ids (ints), not {got!r}").format(got=got)) from None
    expected = list(range(1, sum(SCHEDULE_01_1) + 1))
    if twice := _repeated(got):
        raise Hint(
            _(
                "the client got events {twice} more than once (it asked after={requests}): set "
                "`after` to the id of the newest event received, not the oldest"
            ).format(twice=twice, requests=requests)
        )
    if missed := sorted(set(expected) - set(got)):
        raise Hint(
            _(
                "the client never got events {missed} (it asked after={requests}): the server "
                "sends the events with ids greater than `after`, so `after` is the newest id "
                "you hold, not one more"
            ).format(missed=missed, requests=requests)
        )
    if got != expected:
        raise Hint(
            _("follow returned {got}; expected {expected}, in order").format(
                got=got, expected=expected
            )
        )
    return _("{polls} polls, {events} events, each exactly once: after={requests}").format(
        polls=polls, events=len(expected), requests=requests
    )


# 01.2 -------------------------------------------------------------------------------------------


@exercise(
    "01.2",
    nudge="Lesson 01's long poll returns everything after `after`. Publish five events, "
    "then ask for two: which two should a client get, so that its next request, after "
    "the newest it got, misses nothing?",
    hint="Keep the events in the order the ticker gives them (oldest first) and cut the "
    "list after `limit` of them. FastAPI can refuse a limit below 1 or above 100 for you, "
    "with a 422, if you declare the bounds with the parameter: see 'Query Parameters and "
    "String Validations' and 'Numeric validations' in FastAPI's tutorial.",
)
def check_01_2(make_app: Any) -> str:
    """GET /long-poll?after=&timeout=&limit= answers at most ``limit`` (1-100) events, oldest
    first."""
    ticker = Ticker(rate=None)
    app = build(make_app, ticker)
    with (
        served(app, "01.2") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
    ):
        for _event in range(5):
            ticker.publish()
        first = ids(get_events(http, "/long-poll", after=0, timeout=1, limit=2))
        if first == [1, 2, 3, 4, 5]:
            raise Hint(_("with limit=2 you answered all five events: send at most `limit`"))
        if first == [4, 5]:
            raise Hint(
                _(
                    "with limit=2 you sent the two newest events, [4, 5]: the client's next "
                    "request asks after 5, so it never sees 3. Send the oldest first"
                )
            )
        if first != [1, 2]:
            raise Hint(
                _("with 5 events waiting, limit=2 answered {got}; expected [1, 2]").format(
                    got=first
                )
            )
        rest = ids(get_events(http, "/long-poll", after=2, timeout=1, limit=100))
        if rest != [3, 4, 5]:
            raise Hint(
                _("after=2 with limit=100 answered {got}; expected [3, 4, 5]").format(got=rest)
            )
        if get_events(http, "/long-poll", after=5, timeout=0.2, limit=2):
            raise Hint(_("with nothing new, the long poll should answer [] once `timeout` is up"))
        for bad in (0, 101):
            response = http.get("/long-poll", params={"after": 0, "timeout": 0.2, "limit": bad})
            if response.status_code != 422:
                raise Hint(
                    _(
                        "limit={bad} answered {status}, not 422: give the parameter "
                        "bounds so that FastAPI refuses it before your function runs"
                    ).format(bad=bad, status=response.status_code)
                )
    return _("a client that was away catches up in pages, oldest first, and misses nothing")


# Reference answers


def solution_01_1() -> Callable[[httpx.Client, int], list[int]]:
    def follow(client: httpx.Client, polls: int) -> list[int]:
        after = 0
        seen = []
        for _poll in range(polls):
            events = client.get("/poll", params={"after": after}).json()
            seen += [event["id"] for event in events]
            if events:  # an empty answer: nothing new, keep our place
                after = events[-1]["id"]  # the newest we hold
        return seen

    return follow


def solution_01_2() -> Callable[[Ticker], FastAPI]:
    def make_app(ticker: Ticker) -> FastAPI:
        app = FastAPI(lifespan=ticker.lifespan)

        @app.get("/long-poll")
        async def long_poll(
            after: int = 0,
            timeout: float = 10.0,
            limit: Annotated[int, Query(ge=1, le=100)] = 100,
        ) -> list[dict[str, Any]]:
            events = await ticker.wait_after(after, timeout)
            return [event.as_dict() for event in events[:limit]]

        return app

    return make_app
